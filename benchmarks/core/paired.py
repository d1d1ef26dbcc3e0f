"""Paired differences between two evaluations of the same items: "did this iteration get better?".

Each benchmark that supports pairing exposes its per-item units (``BenchmarkResult.units``: item id -> a small
JSON value, e.g. whether a held-out prompt was answered correctly) and declares, per metric, the statistic that
turns a list of units into the metric (``Benchmark.paired``, in the benchmark's own ``benchmark.py``). The difference between two evaluations is computed on the
items both evaluated, with a paired bootstrap (``harness.stats.paired_bootstrap``): one resample of items per
round, applied to both. The results are ordinary metric rows named ``METRIC.delta_prev`` (against the previous
iteration) or ``METRIC.delta_first`` (against M1), with their 95% CI; a difference is *significant* when its
CI excludes 0. Gate rules can use them (``training/gates.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.stats import paired_bootstrap
from harness.types import HarnessError, MetricValue

Statistic = Callable[[list[Any]], float | None]


def _statistics(benchmark: str, units: list[Any]) -> tuple[Callable[[Any], Any], dict[str, Statistic]] | None:
    """The pairing a benchmark declares (``Benchmark.paired``; an ``lm_eval:TASK`` instance its family's), or
    None for a benchmark without one."""
    from benchmarks.core.registry import get

    try:
        decl = get(benchmark)
    except HarnessError:
        return None
    return None if decl.paired is None else decl.paired(units)


def excludes_zero(low: float | None, high: float | None) -> bool:
    """True when a difference's CI (``low``, ``high``) lies wholly on one side of 0: the difference is significant.
    A bound at exactly 0 does not exclude it."""
    return low is not None and high is not None and (low > 0 or high < 0)


def verdict(metric: str, low: float | None, high: float | None) -> str:
    """The one rule that names a paired difference, used by the terminal table, the report page and the
    leaderboard's ``*``: ``better`` / ``worse`` when its CI excludes 0 (by the metric's declared direction),
    ``up`` / ``down`` for a metric without a direction, ``n.s.`` when the CI holds 0, ``-`` without a CI."""
    if low is None or high is None:
        return "-"
    if not excludes_zero(low, high):
        return "n.s."
    from benchmarks.core.registry import higher_is_better

    up = low > 0
    direction = higher_is_better(metric)
    if direction is None:
        return "up" if up else "down"
    return "better" if up == direction else "worse"


def paired_deltas(
    benchmark: str,
    before: dict[str, Any],
    after: dict[str, Any],
    suffix: str,
    *,
    seed: int = 0,
    n_resamples: int = 1000,
) -> list[MetricValue]:
    """``METRIC.<suffix>`` = metric(after) - metric(before) on their common items, with paired bootstrap CIs.

    Args:
        benchmark: a benchmark that declares its pairing (``Benchmark.paired``); others give [].
        before, after: item id -> unit, as in ``BenchmarkResult.units``.
        suffix: ``delta_prev`` or ``delta_first``.
    Returns:
        One MetricValue per metric of the benchmark; n = the number of common items.
    """
    common = sorted(set(before) & set(after))
    pairing = _statistics(benchmark, [before[i] for i in common] + [after[i] for i in common])
    if pairing is None:
        return []
    prepare, statistics = pairing
    a, b = [prepare(before[i]) for i in common], [prepare(after[i]) for i in common]
    out = []
    for name, stat in statistics.items():
        d = paired_bootstrap(a, b, stat, seed=seed, n_resamples=n_resamples)
        out.append(MetricValue(f"{name}.{suffix}", d.value, d.ci_low, d.ci_high, d.n))
    return out
