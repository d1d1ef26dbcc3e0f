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

    def stat(idx: np.ndarray) -> float:
        value = statistic([items[int(i)] for i in idx])
        return float("nan") if value is None else float(value)

    res = stats.bootstrap(
        (np.arange(len(items)),),
        stat,
        n_resamples=n_resamples,
        vectorized=False,
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
