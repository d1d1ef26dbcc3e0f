"""The paired bootstrap of "did this iteration get better?" (harness.stats.paired_bootstrap)."""

import numpy as np
import pytest
from scipy import stats

from harness.stats import paired_bootstrap


def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def test_hand_worked_two_items() -> None:
    # item deltas (b - a) are 1 and 0. A resample of 2 items has mean delta 0 (both draws item 2: p = 1/4),
    # 0.5 (p = 1/2) or 1 (p = 1/4); the 2.5th percentile of those is 0 and the 97.5th is 1.
    d = paired_bootstrap([0.0, 1.0], [1.0, 1.0], mean, n_resamples=4000, seed=3)
    assert d.value == 0.5 and d.n == 2
    assert d.ci_low == 0.0 and d.ci_high == 1.0


def test_constant_improvement_has_a_zero_width_interval() -> None:
    # every item improves by exactly 0.25: whatever items are drawn, the difference is 0.25. An unpaired
    # comparison of these very different items would give a wide interval; pairing removes item difficulty.
    a = [0.0, 0.5, 0.25, 0.75, 0.1, 0.6]
    b = [x + 0.25 for x in a]
    d = paired_bootstrap(a, b, mean, seed=0)
    assert d.value == pytest.approx(0.25)
    assert d.ci_low == pytest.approx(0.25) and d.ci_high == pytest.approx(0.25)


def test_same_model_is_no_change() -> None:
    a = [1.0, 0.0, 1.0, 1.0, 0.0]
    d = paired_bootstrap(a, list(a), mean, seed=0)
    assert (d.value, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("seed", [0, 7])
def test_equals_scipy_paired_bootstrap(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    a = (rng.random(300) < 0.4).astype(float)
    b = np.where(rng.random(300) < 0.8, a, 1 - a)  # correlated with a, as two iterations of one model are
    ours = paired_bootstrap(list(a), list(b), mean, n_resamples=999, seed=seed)
    ref = stats.bootstrap(
        (a, b), lambda x, y: np.mean(y) - np.mean(x), paired=True, vectorized=False, n_resamples=999,
        method="percentile", confidence_level=0.95, rng=np.random.default_rng(seed),
    )  # fmt: skip
    assert ours.value == pytest.approx(float(np.mean(b) - np.mean(a)), abs=1e-12)
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=1e-12)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=1e-12)


def test_unaligned_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0], mean)
