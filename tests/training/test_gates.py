"""Gate rules after each iteration: parsing, every operator, prev-relative rules, errors, best iteration."""

from __future__ import annotations

import math

import pytest

from harness.types import HarnessError
from training.gates import GateRule, best_iteration, evaluate_gates, parse_rules, validate_rules


def test_parse_forms() -> None:
    assert GateRule.parse("judge.pairwise_accuracy >= 0.6") == GateRule("judge.pairwise_accuracy", ">=", constant=0.6)
    assert GateRule.parse("judge.agreement>=prev-0.02") == GateRule(
        "judge.agreement", ">=", uses_prev=True, prev_op="-", prev_operand=0.02
    )
    assert GateRule.parse("taskworld.avg_length <= prev * 1.2") == GateRule(
        "taskworld.avg_length", "<=", uses_prev=True, prev_op="*", prev_operand=1.2
    )
    assert GateRule.parse("judge.x > prev") == GateRule("judge.x", ">", uses_prev=True)
    assert GateRule.parse({"metric": "judge.parse_rate", "op": ">=", "value": 0.9}) == GateRule(
        "judge.parse_rate", ">=", constant=0.9
    )
    assert GateRule.parse({"metric": "judge.a", "op": "<", "value": "prev + 1e-2"}) == GateRule(
        "judge.a", "<", uses_prev=True, prev_op="+", prev_operand=0.01
    )
    assert str(GateRule.parse("judge.agreement   >=   prev - 0.02")) == "judge.agreement >= prev - 0.02"


@pytest.mark.parametrize(
    "spec",
    [
        "judge.acc >>= 0.6",
        "accuracy >= 0.6",  # not benchmark.metric
        "judge.acc >= prev / 2",
        "judge.acc >= ",
        "judge.acc >= nan",
        "judge.acc >= 0.6 extra",
        "judge.acc => 0.6",
        {"metric": "judge.acc", "op": ">=", "threshold": 0.6},
        {"metric": "judge.acc", "op": "~", "value": 0.6},
        {"metric": "judge.acc", "op": ">=", "value": True},
        {"metric": "judge.acc", "op": ">=", "value": math.inf},
        {"metric": "acc", "op": ">=", "value": 0.6},
        42,
    ],
)
def test_malformed_rules(spec: object) -> None:
    with pytest.raises(HarnessError, match="gate"):
        GateRule.parse(spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("op", "value", "passed"),
    [
        (">=", 0.6, True),
        (">=", 0.59, False),
        (">", 0.6, False),
        (">", 0.61, True),
        ("<=", 0.6, True),
        ("<=", 0.61, False),
        ("<", 0.6, False),
        ("<", 0.59, True),
        ("==", 0.6, True),
        ("==", 0.61, False),
    ],
)
def test_each_operator_against_a_constant(op: str, value: float, passed: bool) -> None:
    decision = evaluate_gates([f"judge.acc {op} 0.6"], [{"judge.acc": value}], 0)
    assert decision.passed is passed
    assert decision.failed == ([] if passed else [f"judge.acc {op} 0.6"])
    assert decision.reasons[0].startswith("PASS" if passed else "FAIL")


def test_prev_minus_delta() -> None:
    rule = ["judge.agreement >= prev - 0.02"]
    # bound 0.60 - 0.02 = 0.58
    assert evaluate_gates(rule, [{"judge.agreement": 0.60}, {"judge.agreement": 0.585}], 1).passed
    d = evaluate_gates(rule, [{"judge.agreement": 0.60}, {"judge.agreement": 0.575}], 1)
    assert not d.passed and d.failed == ["judge.agreement >= prev - 0.02"]
    assert d.reasons == ["FAIL judge.agreement >= prev - 0.02: 0.575 < 0.58 (prev = 0.6)"]


def test_prev_times_factor_length_growth() -> None:
    rule = ["taskworld.avg_length <= prev * 1.2"]
    hist = [{"taskworld.avg_length": 100.0}]
    assert evaluate_gates(rule, [*hist, {"taskworld.avg_length": 119.0}], 1).passed
    assert evaluate_gates(rule, [*hist, {"taskworld.avg_length": 120.0}], 1).passed  # 100 * 1.2 = 120 exactly
    assert not evaluate_gates(rule, [*hist, {"taskworld.avg_length": 121.0}], 1).passed


def test_prev_plus_and_bare_prev() -> None:
    hist = [{"b.m": 2.0}, {"b.m": 2.5}]
    assert evaluate_gates(["b.m <= prev + 0.5"], hist, 1).passed
    assert not evaluate_gates(["b.m < prev + 0.5"], hist, 1).passed
    assert evaluate_gates(["b.m >= prev"], hist, 1).passed
    assert not evaluate_gates(["b.m <= prev"], hist, 1).passed


def test_prev_is_the_iteration_before_the_index() -> None:
    hist = [{"b.m": 10.0}, {"b.m": 1.0}, {"b.m": 1.5}, {"b.m": 0.0}]
    assert evaluate_gates(["b.m >= prev"], hist, 2).passed  # 1.5 vs 1.0, not vs 10 or the later 0.0
    assert not evaluate_gates(["b.m >= prev"], hist, 1).passed


def test_prev_rule_vacuous_on_first_iteration() -> None:
    d = evaluate_gates(
        ["judge.agreement >= prev - 0.02", "judge.acc >= 0.9"], [{"judge.agreement": 0.1, "judge.acc": 0.5}], 0
    )
    assert not d.passed and d.failed == ["judge.acc >= 0.9"]
    assert "vacuous on M1" in d.reasons[0] and d.reasons[0].startswith("PASS")


def test_several_rules_all_reported() -> None:
    rules = parse_rules(["judge.acc >= 0.6", "judge.parse_rate >= 0.9", "taskworld.avg_length <= 500"])
    d = evaluate_gates(rules, [{"judge.acc": 0.7, "judge.parse_rate": 0.85, "taskworld.avg_length": 600.0}], 0)
    assert not d.passed
    assert d.failed == ["judge.parse_rate >= 0.9", "taskworld.avg_length <= 500"]
    assert [r.split()[0] for r in d.reasons] == ["PASS", "FAIL", "FAIL"]


def test_no_rules_pass() -> None:
    assert evaluate_gates([], [{"judge.acc": 0.1}], 0).passed


def test_nan_value_fails() -> None:
    d = evaluate_gates(["judge.acc >= 0.6"], [{"judge.acc": math.nan}], 0)
    assert not d.passed and "NaN" in d.reasons[0]


def test_unknown_metric_raises_naming_the_rule() -> None:
    with pytest.raises(HarnessError, match=r"gate 'judge\.acc >= 0\.6': a gate on an unknown metric"):
        evaluate_gates(["judge.acc >= 0.6"], [{"judge.accuracy": 0.7}], 0)
    with pytest.raises(HarnessError, match="previous iteration"):
        evaluate_gates(["judge.acc >= prev"], [{"judge.other": 1.0}, {"judge.acc": 0.7}], 1)
    with pytest.raises(ValueError):
        evaluate_gates(["judge.acc >= 0.6"], [{"judge.acc": 0.7}], 1)


def test_validate_rules() -> None:
    known = ["judge.acc", "taskworld.avg_length"]
    rules = validate_rules(["judge.acc >= 0.6", "taskworld.avg_length <= prev * 1.2"], known)
    assert [r.metric for r in rules] == ["judge.acc", "taskworld.avg_length"]
    with pytest.raises(HarnessError, match=r"unknown metric 'judge\.agreement'"):
        validate_rules(["judge.agreement >= prev - 0.02"], known)
    with pytest.raises(HarnessError, match="malformed"):
        validate_rules(["judge.acc >="], known)


def test_best_iteration() -> None:
    hist = [{"m.x": 0.5, "m.len": 300.0}, {"m.x": 0.7, "m.len": 200.0}, {"m.x": 0.7, "m.len": 200.0}, {"m.x": 0.6}]
    assert best_iteration(hist, "m.x", higher_is_better=True) == 1  # tie between 1 and 2: the earliest
    assert best_iteration(hist, "m.x", higher_is_better=False) == 0
    assert best_iteration(hist, "m.len", higher_is_better=False) == 1  # iteration 3 lacks the metric
    assert best_iteration([{"m.x": math.nan}, {"m.x": 0.1}], "m.x", higher_is_better=True) == 1
    with pytest.raises(HarnessError, match=r"m\.y"):
        best_iteration(hist, "m.y", higher_is_better=True)


def test_best_iteration_takes_the_declared_direction() -> None:
    """Without an explicit direction the metric's declaration decides: a lower-is-better count picks its minimum,
    a higher-is-better accuracy its maximum, and a metric without a good direction (a length) is refused."""
    hist = [
        {"arena_hard.n_unparsed": 4.0, "taskworld.accuracy": 0.2, "taskworld.avg_length": 30.0},
        {"arena_hard.n_unparsed": 1.0, "taskworld.accuracy": 0.3, "taskworld.avg_length": 10.0},
        {"arena_hard.n_unparsed": 9.0, "taskworld.accuracy": 0.4, "taskworld.avg_length": 50.0},
    ]
    assert best_iteration(hist, "arena_hard.n_unparsed") == 1
    assert best_iteration(hist, "taskworld.accuracy") == 2
    with pytest.raises(HarnessError, match="declares no better direction"):
        best_iteration(hist, "taskworld.avg_length")


def test_gates_on_ci_bounds_and_paired_differences() -> None:
    from training.gates import flat_metrics

    rows = [
        {"benchmark": "judge", "metric": "acc", "value": 0.7, "ci_low": 0.62, "ci_high": 0.78},
        {"benchmark": "judge", "metric": "acc.delta_prev", "value": -0.05, "ci_low": -0.09, "ci_high": -0.01},
        {"benchmark": "taskworld", "metric": "accuracy", "value": None, "ci_low": None, "ci_high": None},
    ]
    flat = flat_metrics(rows)
    assert flat["judge.acc.ci_low"] == 0.62 and flat["judge.acc.delta_prev.ci_high"] == -0.01
    assert math.isnan(flat["taskworld.accuracy"]) and math.isnan(flat["taskworld.accuracy.ci_low"])
    rules = ["judge.acc.ci_low >= 0.6", "judge.acc.delta_prev.ci_high >= 0"]
    d = evaluate_gates(rules, [{"judge.acc": 0.8}, flat], 1)
    # the floor holds (0.62 >= 0.6); the whole CI of the difference lies below 0: a significant regression
    assert d.failed == ["judge.acc.delta_prev.ci_high >= 0"]
    assert "FAIL judge.acc.delta_prev.ci_high >= 0: -0.01 < 0" in d.reasons
    # on the first iteration there is nothing to compare with: a rule on a difference is vacuously true
    first = evaluate_gates(rules, [{"judge.acc": 0.7, "judge.acc.ci_low": 0.61}], 0)
    assert first.passed and any("vacuous on M1" in r for r in first.reasons)


def test_known_metrics_expand_to_bounds_and_differences() -> None:
    rules = validate_rules(
        ["judge.acc.ci_low >= 0.5", "judge.acc.delta_first.ci_low > 0", "judge.acc.delta_prev <= 0.1"], ["judge.acc"]
    )
    assert [r.metric for r in rules] == ["judge.acc.ci_low", "judge.acc.delta_first.ci_low", "judge.acc.delta_prev"]
    with pytest.raises(HarnessError, match=r"did you mean judge\.acc\.delta_prev"):
        validate_rules(["judge.acc.delta_pre >= 0"], ["judge.acc"])
