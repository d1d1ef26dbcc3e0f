"""The judge alarms, worked by hand on a small iteration (benchmarks/judge/alarms.py)."""

from __future__ import annotations

import math

import pytest

from benchmarks.core.registry import get
from benchmarks.judge.alarms import alarms


def _pair(chosen: str, rejected: str, cs: float, rs: float) -> dict:
    return {"chosen": [{"role": "assistant", "content": chosen}], "rejected": [{"role": "assistant", "content": rejected}],
            "chosen_score": cs, "rejected_score": rs}  # fmt: skip


JUDGED = [
    # all three means equal: an "all equal" prompt; 6 parsed scores (one None left out), four of them 5
    {"responses": ["a", "b", "c"], "scores": [[5.0, 5.0], [5.0, None], [4.0, 6.0]], "mean": [5.0, 5.0, 5.0]},
    # different means: not all equal; scores 3, 1, 2
    {"responses": ["a", "b"], "scores": [[3.0], [1.0, 2.0]], "mean": [3.0, 1.5]},
    # one scored response only (the other fully unparsed): not counted among the prompts
    {"responses": ["a", "b"], "scores": [[5.0], [None]], "mean": [5.0, None]},
]
PAIRS = [_pair("one two three", "one", 3.0, 1.5), _pair("a b", "c d e f", 4.0, 3.0)]


def test_alarms_by_hand() -> None:
    got = {r["metric"]: (r["value"], r["n"]) for r in alarms(JUDGED, PAIRS)}
    assert got["all_equal_share"] == (1 / 2, 2)  # prompts 1 and 2 have >= 2 scored responses; prompt 1 is all equal
    # parsed scores: 5 5 5 4 6 | 3 1 2 | 5  -> nine, four of them 5
    assert got["top_score_share"] == (4 / 9, 9)
    # rounded: {5: 4, 4: 1, 6: 1, 3: 1, 1: 1, 2: 1}
    p = [4 / 9] + [1 / 9] * 5
    assert got["score_entropy"][0] == pytest.approx(-sum(x * math.log2(x) for x in p)) and got["score_entropy"][1] == 9
    assert got["chosen_length"] == (2.5, 2) and got["rejected_length"] == (2.5, 2)  # (3 + 2) / 2, (1 + 4) / 2
    assert got["score_gap"] == (pytest.approx((1.5 + 1.0) / 2), 2) and got["n_pairs"] == (2.0, 2)


def test_a_saturated_judge_fires_the_alarms_and_nothing_unparsed_counts() -> None:
    always_five = [{"responses": ["a", "b", "c", "d"], "scores": [[5.0, 5.0, None]] * 4, "mean": [5.0] * 4}] * 10
    got = {r["metric"]: r["value"] for r in alarms(always_five, [])}
    assert got["all_equal_share"] == 1.0 and got["top_score_share"] == 1.0 and got["score_entropy"] == 0.0
    assert got["chosen_length"] is None and got["score_gap"] is None and got["n_pairs"] == 0.0
    # only unparsed judgments: undefined, never a default score
    unparsed = [{"responses": ["a", "b"], "scores": [[None], [None]], "mean": [None, None]}]
    got = {r["metric"]: r["value"] for r in alarms(unparsed, [])}
    assert got["all_equal_share"] is None and got["top_score_share"] is None and got["score_entropy"] is None


def test_every_alarm_is_declared_once_with_a_definition() -> None:
    bench = get("judge_alarms")
    assert bench.family == "judge" and bench.run is None
    names = [m.name for m in bench.metrics]
    emitted = [r["metric"] for r in alarms(JUDGED, PAIRS)] + ["rank_consistency", "dpo_reward_agreement"]
    assert sorted(names) == sorted(emitted) and len(set(names)) == len(names)
    assert all(m.definition for m in bench.metrics)


def test_rank_consistency_by_hand_and_unparsed_left_out() -> None:
    from scipy.stats import kendalltau

    from benchmarks.judge.alarms import rank_consistency

    before = {"p1": {"ranks": [0, 1, 2], "scores": [5.0, 3.0, 1.0]}, "p2": {"ranks": [0, 1], "scores": [4.0, None]},
              "gone": {"ranks": [0, 1], "scores": [1.0, 2.0]}}  # fmt: skip
    after = {"p1": {"ranks": [0, 1, 2], "scores": [4.0, 4.0, 2.0]}, "p2": {"ranks": [0, 1], "scores": [2.0, 3.0]},
             "new": {"ranks": [0, 1], "scores": [1.0, 2.0]}}  # fmt: skip
    got = rank_consistency(before, after)
    # pooled over responses scored in both: (5, 4), (3, 4), (1, 2), (4, 2); p2's second is unparsed before
    x, y = [5.0, 3.0, 1.0, 4.0], [4.0, 4.0, 2.0, 2.0]
    # tau-b from the pair counts: (concordant - discordant) / sqrt((pairs - ties in x) (pairs - ties in y))
    assert got["n"] == 4 and got["value"] == pytest.approx(kendalltau(x, y, variant="b").statistic)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    conc = sum((x[i] - x[j]) * (y[i] - y[j]) > 0 for i, j in pairs)
    disc = sum((x[i] - x[j]) * (y[i] - y[j]) < 0 for i, j in pairs)
    ties_x = sum(x[i] == x[j] for i, j in pairs)
    ties_y = sum(y[i] == y[j] for i, j in pairs)
    assert got["value"] == pytest.approx((conc - disc) / math.sqrt((6 - ties_x) * (6 - ties_y)))
    assert rank_consistency({}, after) == {"metric": "rank_consistency", "value": None, "n": 0}


def test_a_gate_on_rank_consistency_is_vacuous_on_m1() -> None:
    from training.gates import evaluate_gates

    first = evaluate_gates(["judge_alarms.rank_consistency >= 0.5"], [{"judge.spearman": 0.5}], 0)
    assert first.passed and "vacuous on M1" in first.reasons[0]
    later = evaluate_gates(["judge_alarms.rank_consistency >= 0.5"], [{}, {"judge_alarms.rank_consistency": 0.2}], 1)
    assert not later.passed


def test_dpo_reward_agreement_by_hand() -> None:
    from benchmarks.judge.alarms import reward_agreement

    # margins (log p(chosen) - log p(rejected)) before and after DPO: grew, shrank, unchanged, grew
    got = reward_agreement([1.0, 2.0, 0.5, -3.0], [1.5, 1.0, 0.5, -1.0])
    assert got == {"metric": "dpo_reward_agreement", "value": (1 + 0 + 0.5 + 1) / 4, "n": 4}
    assert reward_agreement([], [])["value"] is None
