"""Shared statistics helpers (bootstrap confidence intervals through scipy)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from harness.types import MetricValue


def bootstrap_ci(
    units: Sequence[Any],
    statistic: Callable[[list[Any]], float | None],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of ``statistic`` over resampled ``units`` (e.g. prompts).

    Resampling is over whole units (a cluster bootstrap when a unit is a prompt with several
    responses), done by ``scipy.stats.bootstrap`` on unit indices with a seeded generator.
    Returns (None, None) when there are fewer than 2 units or the statistic is undefined.
    """
    if len(units) < 2:
        return None, None
    items = list(units)

    def one(idx: np.ndarray) -> float:
        value = statistic([items[i] for i in idx.tolist()])
        return float("nan") if value is None else float(value)

    def stat(idx: np.ndarray, axis: int = -1) -> np.ndarray | float:
        # scipy's own loop for a non-vectorized statistic (apply_along_axis, one array split per resample) cost
        # more than the statistics themselves; the resamples and the interval are scipy's either way
        if idx.ndim == 1:
            return one(idx)
        rows = np.moveaxis(idx, axis, -1)
        return np.array([one(r) for r in rows.reshape(-1, rows.shape[-1])]).reshape(rows.shape[:-1])

    res = stats.bootstrap(
        (np.arange(len(items)),),
        stat,
        n_resamples=n_resamples,
        vectorized=True,
        method="percentile",
        confidence_level=confidence,
        rng=np.random.default_rng(seed),
    )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if np.isnan(low) or np.isnan(high):
        return None, None
    return low, high


def metric_with_ci(
    name: str,
    units: Sequence[Any],
    statistic: Callable[[list[Any]], float | None],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> MetricValue:
    """The statistic on all units plus its seeded bootstrap 95% CI."""
    value = statistic(list(units))
    low, high = (
        bootstrap_ci(units, statistic, n_resamples=n_resamples, seed=seed) if value is not None else (None, None)
    )
    return MetricValue(name, value, low, high, len(units))


def paired_bootstrap(
    units_a: Sequence[Any],
    units_b: Sequence[Any],
    statistic: Callable[[list[Any]], float | None],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> MetricValue:
    """The paired difference ``statistic(b) - statistic(a)`` over the same items, with a percentile bootstrap CI.

    ``units_a[i]`` and ``units_b[i]`` belong to the same evaluation item (e.g. one held-out prompt answered by
    iteration t-1 and by iteration t). Each bootstrap round draws ONE resample of item indices and applies it
    to both models, so item difficulty cancels out of the difference: this is ``scipy.stats.bootstrap`` with
    ``paired=True`` (same index draws from ``numpy.random.default_rng(seed)``, same percentile interval).
    Returns a MetricValue named ``"delta"`` (value, ci_low, ci_high, n = items); the CI is None with fewer
    than 2 items or an undefined statistic.
    """
    if len(units_a) != len(units_b):
        raise ValueError(f"paired_bootstrap: {len(units_a)} items for A but {len(units_b)} for B")
    a, b = list(units_a), list(units_b)
    va, vb = statistic(a), statistic(b)
    value = None if va is None or vb is None else float(vb) - float(va)
    if value is None:
        return MetricValue("delta", None, None, None, len(a))

    def diff(idx: list[int]) -> float | None:
        x, y = statistic([a[i] for i in idx]), statistic([b[i] for i in idx])
        return None if x is None or y is None else float(y) - float(x)

    low, high = bootstrap_ci(list(range(len(a))), diff, n_resamples=n_resamples, seed=seed, confidence=confidence)
    return MetricValue("delta", value, low, high, len(a))
