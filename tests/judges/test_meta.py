import random

import numpy as np
import pytest

from judges.meta import Battle, battle_matrix, choose_pair, elo_scores, meta_judge_biases


def test_elo_recovers_a_known_order() -> None:
    # judgment i beats k with probability sigmoid(s_i - s_k): expected win counts over many battles
    strength = np.array([2.0, -1.0, 0.5, 1.0])
    n = len(strength)
    matrix = np.zeros((n, n))
    for i in range(n):
        for k in range(n):
            if i != k:
                matrix[i, k] = 100 / (1 + np.exp(-(strength[i] - strength[k])))
    elo = elo_scores(matrix)
    assert list(np.argsort(-elo)) == [0, 3, 2, 1]
    # the MLE recovers the strengths themselves (Elo scale), up to the tiny L2 term
    fitted = (elo - 1000) / (400 / np.log(10))
    assert np.allclose(fitted, strength - strength.mean(), atol=0.01)


def test_undefeated_judgment_stays_finite() -> None:
    matrix = np.array([[0, 2, 2], [0, 0, 1], [0, 1, 0.0]])
    elo = elo_scores(matrix)
    assert np.all(np.isfinite(elo)) and elo[0] == max(elo) and abs(elo[1] - elo[2]) < 1e-3


def test_position_bias_weights_restore_the_true_order() -> None:
    # true order 0 > 1 > 2: every pair once in both orders, the true winner winning both; plus parsed
    # battles of a meta-judge biased to the first position, whose reverse orders did not parse
    battles = [Battle(0, 1, 1), Battle(1, 0, 2), Battle(0, 2, 1), Battle(2, 0, 2), Battle(1, 2, 1), Battle(2, 1, 2)]
    battles += [Battle(2, 1, 1)] * 4 + [Battle(1, 0, 1)] * 5
    raw = np.zeros((3, 3))
    for b in battles:
        raw[b.winner_index, b.second if b.winner_index == b.first else b.first] += 1
    assert list(np.argsort(-elo_scores(raw))) != [0, 1, 2]  # unweighted, the bias wins
    matrix, w1, w2 = battle_matrix(battles, 3)
    win_1st = sum(b.winner == 1 for b in battles)
    win_2nd = sum(b.winner == 2 for b in battles)
    assert (win_1st, win_2nd) == (12, 3)
    assert (w1, w2) == pytest.approx((win_2nd / (win_1st + win_2nd), win_1st / (win_1st + win_2nd)))
    assert list(np.argsort(-elo_scores(matrix))) == [0, 1, 2]


def test_choose_pair_ties_are_seeded() -> None:
    elo = np.array([1010.0, 1010.0, 990.0, 990.0])
    picks = {choose_pair(elo, random.Random(s)) for s in range(20)}
    assert picks <= {(0, 2), (0, 3), (1, 2), (1, 3)} and len(picks) > 1
    assert choose_pair(elo, random.Random(3)) == choose_pair(elo, random.Random(3))
    assert choose_pair(np.array([1000.0, 1000.0]), random.Random(0)) is None


def test_meta_judge_biases() -> None:
    judgments = ["... Score: 5", "... Score: 3", "... Score: 3"]
    battles = [Battle(0, 1, 1), Battle(1, 0, 1), Battle(1, 2, 1), Battle(2, 1, 2), Battle(0, 2, None)]
    b = meta_judge_biases(battles, judgments)
    # different-score battles: (0,1) won by 0 (higher), (1,0) won by 1 (lower)
    assert (b["higher_win"], b["lower_win"]) == (0.5, 0.5)
    assert b["first_position_same_score"] == 0.5 and b["first_position_all"] == 0.75
