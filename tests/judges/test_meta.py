from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from harness.runner import Run
from harness.store import Store
from harness.types import Completion, HarnessError, Request
from judges.meta import (
    ELO_SCALE,
    Battle,
    MetaJudge,
    battle_matrix,
    choose_pair,
    elo_scores,
    meta_judge_biases,
    position_weights,
)
from tests.judges.scripted import Scripted, content_seed


def expected_wins(strength: np.ndarray, games: float) -> np.ndarray:
    """B[i, k] = games * P(i beats k) under Bradley-Terry: the MLE of this matrix is ``strength`` itself."""
    diff = strength[:, None] - strength[None, :]
    matrix = games / (1 + np.exp(-diff))
    np.fill_diagonal(matrix, 0.0)
    return matrix


def test_elo_recovers_a_known_order() -> None:
    strength = np.array([2.0, -1.0, 0.5, 1.0])
    elo = elo_scores(expected_wins(strength, 100))
    assert list(np.argsort(-elo)) == [0, 3, 2, 1]
    # the MLE recovers the strengths themselves (Elo scale), up to the tiny L2 term
    fitted = (elo - 1000) / ELO_SCALE
    assert np.allclose(fitted, strength - strength.mean(), atol=0.01)
    # a 400-point Elo gap is 10:1 odds
    two = elo_scores(np.array([[0.0, 100.0], [10.0, 0.0]]))
    assert two[0] - two[1] == pytest.approx(400, abs=1)


def test_undefeated_judgment_stays_finite() -> None:
    matrix = np.array([[0, 2, 2], [0, 0, 1], [0, 1, 0.0]])
    elo = elo_scores(matrix)
    assert np.all(np.isfinite(elo)) and elo[0] == max(elo) and abs(elo[1] - elo[2]) < 1e-3
    assert np.allclose(elo_scores(np.zeros((3, 3))), 1000.0)  # no information: all equal
    with pytest.raises(HarnessError, match="square"):
        elo_scores(np.zeros((2, 3)))
    with pytest.raises(HarnessError, match="non-negative"):
        elo_scores(np.array([[0, -1.0], [1, 0]]))


def test_battle_matrix_is_the_papers_formula() -> None:
    # B_mn = w1 1[r^{mn} = 1] + w2 1[r^{nm} = -1]: a win shown first weighs w1, shown second w2
    battles = [Battle(0, 1, 1), Battle(1, 0, 1), Battle(0, 2, 1), Battle(2, 0, 2), Battle(1, 2, None)]
    matrix, w1, w2 = battle_matrix(battles, 3)
    assert (w1, w2) == (0.25, 0.75)  # win_1st = 3, win_2nd = 1
    expected = np.zeros((3, 3))
    expected[0, 1] = w1  # (0, 1): 0 won in first position
    expected[1, 0] = w1  # (1, 0): 1 won in first position
    expected[0, 2] = w1 + w2  # (0, 2): 0 won first; (2, 0): 0 won second
    assert np.array_equal(matrix, expected)
    custom, *_ = battle_matrix(battles, 3, weights=(1.0, 1.0))
    assert custom.sum() == 4
    with pytest.raises(HarnessError, match="distinct judgments"):
        battle_matrix([Battle(0, 0, 1)], 2)
    with pytest.raises(HarnessError, match="distinct judgments"):
        battle_matrix([Battle(0, 3, 1)], 2)


def test_position_weights_fallback() -> None:
    # one position never wins: the formula would give the winning position weight 0 and drop everything
    assert position_weights([Battle(0, 1, 1), Battle(1, 0, 1)]) == (0.5, 0.5)
    assert position_weights([Battle(0, 1, None)]) == (0.5, 0.5)
    assert position_weights([]) == (0.5, 0.5)
    # always-first on complete both-order battles: symmetric matrix, equal Elo, no pair
    always_first = [Battle(i, k, 1) for i in range(3) for k in range(3) if i != k]
    matrix, _, _ = battle_matrix(always_first, 3)
    assert np.array_equal(matrix, matrix.T) and choose_pair(elo_scores(matrix), random.Random(0)) is None


def test_position_bias_weights_restore_the_true_order() -> None:
    # true order 0 > 1 > 2: every pair once in both orders, the true winner winning both; plus battles of a
    # meta-judge biased to the first position whose reverse orders did not parse
    battles = [Battle(0, 1, 1), Battle(1, 0, 2), Battle(0, 2, 1), Battle(2, 0, 2), Battle(1, 2, 1), Battle(2, 1, 2)]
    battles += [Battle(2, 1, 1)] * 4 + [Battle(1, 0, 1)] * 5 + [Battle(1, 2, None)] * 4
    raw = np.zeros((3, 3))
    for b in battles:
        if b.winner is not None:
            raw[b.winner_index, b.loser_index] += 1
    assert list(np.argsort(-elo_scores(raw))) == [1, 2, 0]  # unweighted counts: the bias wins
    matrix, w1, w2 = battle_matrix(battles, 3)
    assert (w1, w2) == pytest.approx((3 / 15, 12 / 15))  # win_1st = 12, win_2nd = 3
    assert list(np.argsort(-elo_scores(matrix))) == [0, 1, 2]
    assert choose_pair(elo_scores(matrix), random.Random(0)) == (0, 2)


def test_choose_pair_ties_are_seeded() -> None:
    elo = np.array([1010.0, 1010.0, 990.0, 990.0])
    picks = {choose_pair(elo, random.Random(s)) for s in range(30)}
    assert picks == {(0, 2), (0, 3), (1, 2), (1, 3)}
    assert choose_pair(elo, random.Random(3)) == choose_pair(elo, random.Random(3))
    assert choose_pair(np.array([1000.0, 1000.0]), random.Random(0)) is None
    assert choose_pair(np.array([1000.0]), random.Random(0)) is None
    assert choose_pair(np.array([1000.0, 1200.0, 900.0]), random.Random(0)) == (1, 2)


def test_meta_judge_biases() -> None:
    judgments = ["... Score: 5", "... Score: 3", "... Score: 3", "no score"]
    battles = [
        Battle(0, 1, 1),  # diff score: higher (0) wins, first position
        Battle(1, 0, 1),  # diff score: lower (1) wins, first position
        Battle(2, 0, 2),  # diff score: higher (0) wins, second position
        Battle(1, 2, 1),  # same score, first position
        Battle(2, 1, 2),  # same score, second position
        Battle(0, 3, 1),  # a score did not parse: only in "all"
        Battle(0, 2, None),  # not parsed: nowhere
    ]
    b = meta_judge_biases(battles, judgments)
    assert (b["higher_win"], b["lower_win"]) == pytest.approx((2 / 3, 1 / 3))
    assert b["first_position_diff_score"] == pytest.approx(2 / 3)
    assert b["first_position_same_score"] == 0.5
    assert b["first_position_all"] == pytest.approx(4 / 6)
    assert meta_judge_biases([], judgments) == dict.fromkeys(b)


def test_meta_judge_asks_every_ordered_pair(tmp_path: Path) -> None:
    # a scripted meta-judge preferring the judgment with the higher score, wherever it is shown
    def answer(req: Request, _i: int) -> Completion:
        text = req.messages[0].content  # type: ignore[index]
        a = text.split("Judgment A: ")[1].split("\n")[0]
        b = text.split("Judgment B: ")[1].split("\n")[0]
        return Completion("Winner: Judgement " + ("A" if a > b else "B") if a != b else "Both are equally good.")

    model = Scripted(answer, "scripted-meta")
    run = Run.start(Store(tmp_path / "s.sqlite"), "test", {})
    judge = MetaJudge(model, run, seed=3)
    judgments = ["Score: 2", "Score: 5", "Score: 3"]
    battles = judge.battles("q", "r", judgments)
    assert [(b.first, b.second) for b in battles] == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert all(b.winner_index == max((b.first, b.second), key=lambda i: judgments[i]) for b in battles)
    assert len(model.requests) == 6 and all(r.params.n == 1 for r in model.requests)
    # one seed per ordered pair, derived from seed 3 and the pair: independent draws, the same in every process
    seeds = [r.params.seed for r in model.requests]
    assert len(set(seeds)) == 6
    assert seeds[0] == content_seed(3, "q", "r", "Score: 2", "Score: 5")
    assert MetaJudge(model, run, seed=4).params.seeded_for("q").seed != judge.params.seeded_for("q").seed
    matrix, _, _ = battle_matrix(battles, 3)
    assert choose_pair(elo_scores(matrix), random.Random(0)) == (1, 0)
    many = judge.battles_many([("q", "r", judgments), ("q2", "r2", ["Score: 1", "Score: 1"]), ("q3", "r3", ["x"])])
    assert many[0] == battles and [b.winner for b in many[1]] == [None, None] and many[2] == []
    with pytest.raises(HarnessError, match="judgments must be a list of strings"):
        judge.battles("q", "r", "Score: 1")  # type: ignore[arg-type]
