"""Hand-worked tests of the judge ensemble (judges/ensemble.py), its agreement (Krippendorff's alpha) and the
judge's cost per 1000 judgments (benchmarks/judge/benchmark.py); an unscored member is absent, never a vote or a 0."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from benchmarks.judge.benchmark import agreement_between, judge_metric_rows
from benchmarks.judge.data import RankedPrompt
from harness.types import HarnessError
from judges.ensemble import EnsembleScore, combine, ensemble_scores, majority_verdict
from judges.pointwise import PointwiseScore


def test_combine_by_hand() -> None:
    assert combine([4, 2, None], "mean") == 3.0  # the unscored member is left out, not a 0
    assert combine([None, None], "mean") is None and combine([None], "majority") is None
    assert combine([4.4, 3.6, 2], "majority") == 4.0  # rounded 4, 4, 2
    assert combine([2.5, 3.0], "majority") == 3.0  # halves up: 3, 3
    assert combine([5, 1], "majority") == 3.0  # two modes: their mean, whatever the members' order
    assert combine([1, 5], "majority") == 3.0
    assert combine([5, 5, 1, 1, 2], "majority") == 3.0
    with pytest.raises(HarnessError, match="method must be one of"):
        combine([1], "median")


def test_majority_verdict_by_hand() -> None:
    assert majority_verdict(["A", "A", "B"]) == "A"
    assert majority_verdict(["A", "B"]) == "tie"  # no majority
    assert majority_verdict(["A", None, None]) == "A"  # unscored members do not vote
    assert majority_verdict([None, None]) is None  # nobody scored: unscored, not a tie
    assert majority_verdict(["tie", "tie", "B"]) == "tie"


def test_ensemble_score_is_the_members_combination_not_the_mean_of_all_judgments() -> None:
    a = PointwiseScore(["j1", "j2", "j3"], [4, 5, None], prompt_tokens=100, completion_tokens=30)
    b = PointwiseScore(["k1"], [1], prompt_tokens=80, completion_tokens=10)
    (e,) = ensemble_scores([[a], [b]], "mean")
    # members' means 4.5 and 1 -> 2.75 (all three parsed judgments would average 10/3)
    assert e.mean == pytest.approx(2.75)
    assert (e.n_valid, e.n_failed, len(e.judgments)) == (3, 1, 4)
    assert (e.prompt_tokens, e.completion_tokens) == (180, 40)
    unscored = PointwiseScore(["?"], [None])
    (u,) = ensemble_scores([[unscored], [PointwiseScore(["?"], [None])]], "majority")
    assert u.mean is None  # no member scored: unscored, as a single judge
    with pytest.raises(HarnessError, match="same items"):
        ensemble_scores([[a], [a, b]], "mean")


def _prompts() -> list[RankedPrompt]:
    return [
        RankedPrompt("p1", "q1", ["best", "mid", "worst"], [0, 1, 2]),
        RankedPrompt("p2", "q2", ["good", "bad"], [0, 1]),
    ]


def _scores(xs: list[float | None], **tokens: int) -> list[PointwiseScore]:
    return [PointwiseScore(["judgment"], [x], **tokens) for x in xs]


def test_an_unscored_member_never_makes_a_tie_or_a_loss() -> None:
    """Judge A orders p1 rightly but fails to parse on p1's worst response; judge B is unscored on all of p1.
    The ensemble (mean) keeps A's scores where B is absent: p1 (best, mid) is right, the unscored response makes no
    pair, and nothing becomes a tie."""
    a = _scores([5, 3, None, 4, 2])
    b = _scores([None, None, None, 5, 1])
    ens = ensemble_scores([a, b], "mean")
    rows, per_prompt = judge_metric_rows(_prompts(), ens, seed=0, n_resamples=50)
    assert per_prompt == [[5.0, 3.0, None], [4.5, 1.5]]
    m = {r.name: r for r in rows}
    # pairs with both scored: p1 (best, mid) and p2 (good, bad); both right, none tied
    assert m["pairwise_accuracy"].value == 1.0 and m["pairwise_accuracy"].n == 2
    assert m["judge_tie_rate"].value == 0.0
    assert m["unscored_judgments"].value == 4.0


def test_cost_per_1k_by_hand() -> None:
    """Two responses, one judgment each: 100 prompt + 50 completion tokens at $10 / $30 per 1M tokens is
    $0.0025 per judgment, $2.50 per 1000. An ensemble adds each member at its own prices."""
    prompts = [RankedPrompt("p", "q", ["a", "b"], [0, 1])]
    scored = _scores([5, 1], prompt_tokens=100, completion_tokens=50)
    rows, _ = judge_metric_rows(prompts, scored, seed=0, n_resamples=20, prices=[(10.0, 30.0)])
    cost = {r.name: r for r in rows}["cost_per_1k"]
    assert cost.value == pytest.approx(2.5) and cost.n == 2
    local = {r.name: r for r in judge_metric_rows(prompts, scored, seed=0, n_resamples=20, prices=[(0.0, 0.0)])[0]}
    assert local["cost_per_1k"].value == 0.0
    # ensemble, per judged response it pays every member: member 1 as above ($0.0025), member 2 at $1 / $2 per 1M:
    # 70 x 1e-6 + 9 x 2e-6 = $0.000088 -> $2.588 per 1000 responses (the sum, not the members' average)
    ens = ensemble_scores([scored, _scores([4, 2], prompt_tokens=70, completion_tokens=9)], "mean")
    both = {r.name: r for r in judge_metric_rows(prompts, ens, seed=0, n_resamples=20,
                                                  prices=[(10.0, 30.0), (1.0, 2.0)])[0]}  # fmt: skip
    assert both["cost_per_1k"].value == pytest.approx(2.588) and both["cost_per_1k"].n == 2


def test_alpha_between_judges_equals_the_krippendorff_package() -> None:
    a = _scores([5, 3, None, 4, 2])
    b = _scores([4, 3, 1, 5, 1])
    c = _scores([5, None, 2, 4, 1])
    mv = agreement_between(_prompts(), [a, b, c], seed=0, n_resamples=200)
    data = np.array([[5, 3, np.nan, 4, 2], [4, 3, 1, 5, 1], [5, np.nan, 2, 4, 1]], dtype=float)
    assert mv.value == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
    assert mv.n == 5  # every response has at least 2 scores
    assert mv.ci_low is not None and mv.ci_low <= mv.value <= mv.ci_high
    # perfect agreement: alpha 1
    same = agreement_between(_prompts(), [b, b], seed=0, n_resamples=20)
    assert same.value == pytest.approx(1.0)


def test_ensemble_with_scores_keeps_the_members_and_the_rule() -> None:
    """The loop's random-score control replaces an ensemble's scores: they go back to their members (in member
    order) and are combined by the same rule."""
    a = PointwiseScore(["a1", "a2"], [4.0, 4.0])
    b = PointwiseScore(["b1"], [2.0])
    (e,) = ensemble_scores([[a], [b]], "majority")
    assert e.mean == 3.0  # two modes, 4 and 2
    r = e.with_scores([5.0, 4.0, None])
    assert isinstance(r, EnsembleScore) and r.method == "majority"
    assert [m.scores for m in r.members] == [[5.0, 4.0], [None]]
    assert r.mean == 5.0  # member a: mean 4.5, rounded 5; member b unscored
    with pytest.raises(HarnessError, match="3 judgments"):
        e.with_scores([1.0])
