"""Hand-worked tests of the judge diagnostics (issue 15) in benchmarks/judge/metrics.py, and that an unscored
(unparsed) judgment never becomes a tie, a flip or a loss in any of them."""

from __future__ import annotations

import pytest

from benchmarks.judge import metrics as jm


def _p(ranks: tuple[int, ...], scores: tuple[float | None, ...]) -> jm.JudgedPrompt:
    return jm.JudgedPrompt(ranks, scores)


def test_best_of_k_by_hand() -> None:
    assert jm.best_of_k_prompt(_p((0, 1, 2, 3), (5, 4, 3, 2))) == 1.0  # strictly highest
    assert jm.best_of_k_prompt(_p((0, 1, 2, 3), (5, 5, 3, 5))) == pytest.approx(1 / 3)  # tied at top with 3
    assert jm.best_of_k_prompt(_p((0, 1, 2, 3), (4, 5, 3, 2))) == 0.0
    assert jm.best_of_k_prompt(_p((0, 0, 1), (5, 4, 3))) is None  # humans tie for best


def test_prefer_lists_and_variance_by_hand() -> None:
    assert jm.has_list("intro\n- a\n- b") and jm.has_list("1. first") and not jm.has_list("a - b")
    # decisive pairs with exactly one list: 3 (the tie, the unscored and the both-list pairs are left out)
    items = [("A", True, False), ("B", True, False), ("B", False, True), ("tie", True, False), (None, True, False),
             ("A", True, True)]  # fmt: skip
    assert jm.prefer_lists_counts(items) == (2, 3)
    # var([1, 3]) = 1; var([2, 2, 5]) = 2; [4, None] has one scored judgment: left out
    assert jm.score_variances([[1, 3], [2, 2, 5], [4, None]]) == [1.0, 2.0]


def test_order_consistency_by_hand() -> None:
    pairs = [("A", "A"), ("A", "B"), ("B", "B"), ("A", "tie"), ("A", None)]
    oc = jm.order_consistency(pairs)
    assert (oc.n_pairs, oc.n_unscored) == (4, 1)
    assert oc.flip_rate == pytest.approx(2 / 4)  # (A,B) and (A,tie) flip
    assert oc.consistent_accuracy == pytest.approx(1 / 4)
    # decisive orders: 8; first shown wins: order 1 "A" (x first) x4, order 2 "B" (y first) x2 -> 6
    assert (oc.n_orders, oc.first_position_rate) == (8, pytest.approx(6 / 8))


def test_krippendorff_alpha_ordinal_by_hand() -> None:
    # units (1,1), (1,2), (2,3), (3,3): n1 = 3, n2 = 2, n3 = 3, n = 8; ordinal delta^2(1,2) = delta^2(2,3) =
    # (5 - 5/2)^2 = 6.25, delta^2(1,3) = (8 - 3)^2 = 25; observed sum o*d = 25, expected sum n*n*d = 600;
    # alpha = 1 - (n - 1) * 25 / 600 = 17/24
    assert jm.krippendorff_alpha_ordinal([[1, 1, 2, 3], [1, 2, 3, 3]]) == pytest.approx(17 / 24)
    assert jm.krippendorff_alpha_ordinal([[1, None, 1, 2, 3, 4], [1, 2, 2, 3, 3, None]]) == pytest.approx(17 / 24)
    assert jm.krippendorff_alpha_ordinal([[1, 2]]) is None


def test_unscored_is_never_a_tie_or_a_loss() -> None:
    # the human-best response unscored: no unit (not a 0); another one unscored: left out, not a tie at the top
    assert jm.best_of_k_prompt(_p((0, 1, 2), (None, 5, 4))) is None
    assert jm.best_of_k_prompt(_p((0, 1, 2), (5, None, 4))) == 1.0
    assert jm.prefer_lists_counts([(None, True, False)]) == (0, 0)
    assert jm.score_variances([[None, None, 3]]) == []
    oc = jm.order_consistency([(None, None), ("A", None)])
    assert (oc.flip_rate, oc.consistent_accuracy, oc.n_pairs) == (None, None, 0)
