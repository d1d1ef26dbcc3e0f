"""Gates: rules on the evaluation metrics of each iteration that decide whether the iterative loop goes on.

Self-Rewarding (Sec. 3) and Meta-Rewarding (Sec. 3.3-3.5) track, per iteration, instruction-following quality,
reward-modeling quality (pairwise accuracy / agreement with human or GPT-4 judgments) and response length (which
grows with iterations without length control, Meta-Rewarding 2.1 and 3.5). A run config turns such checks into
rules evaluated after every iteration; the loop stops at the first failing gate and keeps the best iteration.

Rule grammar (string form), metrics named ``benchmark.metric`` as in the flat results of an iteration::

    rule   := METRIC OP rhs
    OP     := ">=" | "<=" | ">" | "<" | "=="
    rhs    := NUMBER | "prev" | "prev" ("+" | "-" | "*") NUMBER

Every metric ``M`` also gives ``M.ci_low`` and ``M.ci_high`` (its 95% CI bounds), and the paired differences of
``benchmarks.core.paired`` give ``M.delta_prev`` (this iteration minus the previous one, on the same held-out items) and
``M.delta_first`` (minus M1), each with ``.ci_low`` / ``.ci_high``. So:

- ``judge.pairwise_accuracy_ties_excluded.ci_low >= 0.5``: the judge is significantly better than chance;
- ``judge.pairwise_accuracy_ties_excluded.delta_prev.ci_high >= 0``: no *significant* regression of the judge
  (the rule fails only when the whole CI of the difference lies below 0);
- ``taskworld.accuracy.delta_first.ci_low > 0``: significantly better than M1.

A rule on a difference is vacuously true where there is nothing to compare with (M1).

``prev`` is the same metric in the previous iteration, e.g. ``judge.agreement >= prev - 0.02`` (may not drop by more
than 0.02), ``taskworld.avg_length <= prev * 1.2`` (mean length may grow by at most 20%). Dict form:
``{"metric": "judge.parse_rate", "op": ">=", "value": 0.9}`` where ``value`` is a number or an rhs string.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.types import HarnessError

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
}  # fmt: skip
_NEGATION = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!="}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_METRIC = r"[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-@/]+)+"
_RULE = re.compile(rf"^\s*(?P<metric>{_METRIC})\s*(?P<op>>=|<=|==|>|<)\s*(?P<rhs>.*?)\s*$")
_RHS = re.compile(rf"^(?:(?P<number>{_NUMBER})|prev(?:\s*(?P<pop>[-+*])\s*(?P<operand>{_NUMBER}))?)$")


@dataclass(frozen=True)
class GateRule:
    """``metric op rhs``; rhs is ``constant`` (uses_prev False) or ``prev [prev_op prev_operand]`` (uses_prev True)."""

    metric: str
    op: str
    uses_prev: bool = False
    constant: float | None = None
    prev_op: str | None = None
    prev_operand: float | None = None

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | GateRule) -> GateRule:
        """A rule from its string or dict form (see the module docstring); HarnessError when malformed."""
        if isinstance(spec, GateRule):
            return spec
        if isinstance(spec, Mapping):
            return cls._from_dict(spec)
        if not isinstance(spec, str):
            raise HarnessError(f"gate {spec!r}: expected a rule string or mapping")
        m = _RULE.match(spec)
        if m is None:
            raise HarnessError(
                f"gate {spec!r}: malformed rule (expected 'benchmark.metric OP value' with OP one of "
                f"{', '.join(OPS)} and value a number, prev, or prev +/-/* number)"
            )
        return cls._with_rhs(m["metric"], m["op"], m["rhs"], spec)

    @classmethod
    def _from_dict(cls, spec: Mapping[str, Any]) -> GateRule:
        keys = set(spec)
        if keys != {"metric", "op", "value"}:
            raise HarnessError(f"gate {dict(spec)!r}: malformed rule (expected exactly the keys metric, op, value)")
        metric, op, value = spec["metric"], spec["op"], spec["value"]
        if not isinstance(metric, str) or re.fullmatch(_METRIC, metric) is None:
            raise HarnessError(f"gate {dict(spec)!r}: malformed metric name (expected benchmark.metric)")
        if op not in OPS:
            raise HarnessError(f"gate {dict(spec)!r}: unknown operator {op!r} (expected one of {', '.join(OPS)})")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise HarnessError(f"gate {dict(spec)!r}: value must be a number or an expression of prev")
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise HarnessError(f"gate {dict(spec)!r}: value must be finite")
            return cls(metric, op, constant=float(value))
        return cls._with_rhs(metric, op, value.strip(), dict(spec))

    @classmethod
    def _with_rhs(cls, metric: str, op: str, rhs: str, spec: object) -> GateRule:
        r = _RHS.match(rhs)
        if r is None:
            raise HarnessError(
                f"gate {spec!r}: malformed right-hand side {rhs!r} (a number, prev, or prev +/-/* number)"
            )
        if r["number"] is not None:
            return cls(metric, op, constant=float(r["number"]))
        operand = float(r["operand"]) if r["operand"] is not None else None
        return cls(metric, op, uses_prev=True, prev_op=r["pop"], prev_operand=operand)

    def rhs_text(self) -> str:
        if not self.uses_prev:
            return f"{self.constant:g}"
        return "prev" if self.prev_op is None else f"prev {self.prev_op} {self.prev_operand:g}"

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.rhs_text()}"

    def threshold(self, prev: float | None) -> float:
        """The right-hand side's value given the previous iteration's value of the metric."""
        if not self.uses_prev:
            return float(self.constant)  # type: ignore[arg-type]
        if prev is None:
            raise ValueError(f"gate {self}: needs the previous value")
        if self.prev_op is None:
            return prev
        b = float(self.prev_operand)  # type: ignore[arg-type]
        return {"+": prev + b, "-": prev - b, "*": prev * b}[self.prev_op]


@dataclass
class GateDecision:
    """Outcome of the gates after one iteration: ``passed`` iff no rule failed; ``reasons`` has one line per rule;
    ``failed`` the rules (canonical text) that failed."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def parse_rules(specs: Iterable[str | Mapping[str, Any] | GateRule] | None) -> list[GateRule]:
    """Parse every rule (HarnessError naming the first malformed one)."""
    return [GateRule.parse(s) for s in specs or []]


DELTAS = ("delta_prev", "delta_first")
BOUNDS = ("ci_low", "ci_high")


def expand_known(known_metrics: Iterable[str]) -> set[str]:
    """Every metric name a gate may use: each metric, its CI bounds, and its paired differences with theirs."""
    out: set[str] = set()
    for m in known_metrics:
        for base in (m, *(f"{m}.{d}" for d in DELTAS)):
            out |= {base, *(f"{base}.{b}" for b in BOUNDS)}
    return out


def is_delta(metric: str) -> bool:
    """A metric that compares an iteration with an earlier one (none exists on M1): a paired difference, or a
    judge alarm declared as such (``benchmarks.judge.alarms.VS_PREVIOUS``)."""
    from benchmarks.judge.alarms import VS_PREVIOUS

    parts = metric.split(".")
    return any(d in parts for d in DELTAS) or (
        parts[0] == "judge_alarms" and len(parts) > 1 and parts[1] in VS_PREVIOUS
    )


def flat_metrics(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """``{"benchmark.metric": value, "benchmark.metric.ci_low": ..., ...}`` of result rows (None -> NaN)."""
    out: dict[str, float] = {}
    for r in rows:
        key = f"{r['benchmark']}.{r['metric']}"
        out[key] = _number(r.get("value"), key, r)
        for b in BOUNDS:
            out[f"{key}.{b}"] = _number(r.get(b), f"{key}.{b}", r)
    return out


def _number(value: Any, key: str, row: Mapping[str, Any]) -> float:
    """A stored value as a float (None -> NaN); anything else, e.g. text in a hand-edited store, is one line."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HarnessError(
            f"result {key} of iteration {row.get('iteration')}: {str(value)[:40]!r} is not a number (an edited store?)"
        )
    return float(value)


def validate_rules(specs: Iterable[str | Mapping[str, Any] | GateRule], known_metrics: Iterable[str]) -> list[GateRule]:
    """Parse the rules and check, before anything runs, that each names a metric that will be reported."""
    known = expand_known(known_metrics)
    rules = parse_rules(specs)
    for rule in rules:
        if rule.metric not in known:
            import difflib

            close = difflib.get_close_matches(rule.metric, sorted(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            plain = sorted(m for m in known if not m.endswith(("ci_low", "ci_high")) and ".delta_" not in m)
            raise HarnessError(
                f"gate '{rule}': a gate on an unknown metric {rule.metric!r}{hint} (metrics: {', '.join(plain)}; "
                "each also as METRIC.ci_low/.ci_high and METRIC.delta_prev/.delta_first[.ci_low/.ci_high])"
            )
    return rules


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def evaluate_gates(
    rules: Sequence[GateRule | str | Mapping[str, Any]], history: Sequence[Mapping[str, float]], iteration_index: int
) -> GateDecision:
    """Evaluate every rule on ``history[iteration_index]`` (``prev`` = ``history[iteration_index - 1]``).

    ``history[i]`` is the flat ``{"benchmark.metric": value}`` dict of iteration i. A rule on ``prev`` is
    vacuously true on the first iteration (index 0; the reason says so). A metric missing from the current
    results, or from the previous ones for a ``prev`` rule, raises HarnessError naming the rule. A NaN value fails.
    """
    if not 0 <= iteration_index < len(history):
        raise ValueError(f"iteration_index {iteration_index} outside the history of {len(history)} iterations")
    current = history[iteration_index]
    previous = history[iteration_index - 1] if iteration_index > 0 else None
    reasons: list[str] = []
    failed: list[str] = []
    for rule in parse_rules(rules):
        if rule.metric not in current and is_delta(rule.metric) and iteration_index == 0:
            reasons.append(f"PASS {rule}: vacuous on M1 (nothing to compare with)")
            continue
        if rule.metric not in current:
            raise HarnessError(
                f"gate '{rule}': a gate on an unknown metric {rule.metric!r} "
                f"(iteration {iteration_index} reported: {', '.join(sorted(current)) or 'nothing'})"
            )
        value = float(current[rule.metric])
        if rule.uses_prev and previous is None:
            reasons.append(f"PASS {rule}: vacuous on M1 (no previous value)")
            continue
        prev_value: float | None = None
        if rule.uses_prev:
            assert previous is not None
            if rule.metric not in previous:
                raise HarnessError(
                    f"gate '{rule}': metric {rule.metric!r} missing from the previous iteration's results"
                )
            prev_value = float(previous[rule.metric])
        bound = rule.threshold(prev_value)
        ok = OPS[rule.op](value, bound)
        shown = _fmt(bound) if prev_value is None else f"{_fmt(bound)} (prev = {_fmt(prev_value)})"
        if math.isnan(value):
            reasons.append(f"FAIL {rule}: the value is NaN")
        else:
            relation = rule.op if ok else _NEGATION[rule.op]
            reasons.append(f"{'PASS' if ok else 'FAIL'} {rule}: {_fmt(value)} {relation} {shown}")
        if not ok:
            failed.append(str(rule))
    return GateDecision(passed=not failed, reasons=reasons, failed=failed)


def best_iteration(
    history: Sequence[Mapping[str, float]], key_metric: str, higher_is_better: bool | None = None
) -> int:
    """Index of the iteration with the best ``key_metric`` (ties: the earliest).

    Args:
        history: per iteration, metric name -> value.
        key_metric: ``<benchmark>.<metric>``.
        higher_is_better: the direction; None (the default) takes the metric's declared direction
            (``benchmarks.core.registry``), so a lower-is-better metric picks its minimum.
    Returns:
        The index into ``history``. Iterations without the metric, or with a NaN value, are not candidates.
    Raises:
        HarnessError: no iteration has the metric, or it declares no direction.
    """
    if higher_is_better is None:
        from benchmarks.core.registry import higher_is_better as declared_direction

        higher_is_better = declared_direction(key_metric)
        if higher_is_better is None:
            raise HarnessError(f"best metric {key_metric!r} declares no better direction (higher_is_better=None)")
    candidates = [
        (i, float(h[key_metric]))
        for i, h in enumerate(history)
        if key_metric in h and not math.isnan(float(h[key_metric]))
    ]
    if not candidates:
        raise HarnessError(f"best metric {key_metric!r} is not in the results of any iteration")
    sign = 1.0 if higher_is_better else -1.0
    return min(candidates, key=lambda c: (-sign * c[1], c[0]))[0]
