"""Vectorised Bradley-Terry statistics for Arena-Hard: one batched Newton fit for every bootstrap round.

Reference: lmarena/arena-hard-auto ``show_result.py`` of July 2024 (e883410, 2024-07-16; same code in the
ServiceNow fork at 3a7f199 that produced the official ``bootstrapping_results.jsonl``):

- ``compute_mle_elo``: every battle is entered twice into a logistic regression (sklearn, no intercept, no
  penalty) whose design row is ``+ln(10)`` for model_a and ``-ln(10)`` for model_b; a model_a win gives
  ``y = 1`` twice, a model_b win ``y = 0`` twice, a tie ``y = 1`` once and ``y = 0`` once. Ratings are
  ``1000 + 400 * coef``, then shifted so that the baseline is exactly 1000.
- ``get_bootstrap_result``: ``np.random.seed(42)``, then per round ``battles.sample(frac=1.0, replace=True)``
  (all battles resampled jointly, not per model) and the same fit.
- 95% CI: ``np.percentile`` 2.5 / 97.5 of each model's bootstrap ratings; every rating is turned into a
  score by ``predict_win_rate``: ``1 / (1 + 10 ** ((R_baseline - R_model) / 400))``.

Here the logistic regression's likelihood is rewritten on the counts it depends on: with
``W[i, j] = 2 * (wins of i over j) + (ties between i and j)``, the log-likelihood is
``sum_ij W[i, j] * log(sigmoid(theta_i - theta_j))`` where ``theta = ln(10) * coef`` (the Bradley-Terry model
on base 10, scale 400). All rounds are fitted at once: a ``(rounds x models x models)`` count array and one
Newton iteration on the ``(rounds x models)`` strengths, the baseline held at 0, so its rating is exactly
1000. The resampled index sets are drawn with ``numpy.random.RandomState(seed).randint(0, n, n)`` per round,
which is the very stream ``DataFrame.sample(frac=1.0, replace=True)`` draws after ``np.random.seed(seed)``:
same battles in the same order give show_result's bootstrap rounds, not only their distribution.

Where the MLE does not exist the two differ only in how they give up: a model that never loses (or never
wins) within a round has an infinite rating; sklearn stops at a large finite one (gradient tolerance or 100
L-BFGS iterations), this fit after ``max_iter`` Newton steps (strength about +-100 on the natural-log scale);
both scores are 100 (or 0) to far below 0.01. A model without battles in a round (or not linked to the
baseline) gets NaN, as it is a missing column in show_result's bootstrap frame; CIs then use
``np.nanpercentile`` (show_result would print NaN).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import numpy as np
from scipy.special import expit

SCALE, BASE, INIT = 400.0, 10.0, 1000.0
#: battle outcomes, coded as show_result's ``winner`` column
A_WINS, B_WINS, TIE = 0, 1, 2
_MAX_STEP = 5.0  # largest Newton step (natural-log strength units) per iteration: damps overshoot far from 0


def cell_codes(model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray, n_models: int) -> np.ndarray:
    """One integer per battle naming its (model_a, model_b, outcome) cell: ``(a * M + b) * 3 + outcome``."""
    return (np.asarray(model_a, np.int64) * n_models + np.asarray(model_b, np.int64)) * 3 + np.asarray(outcome)


def effective_wins(cell_counts: np.ndarray, n_models: int) -> np.ndarray:
    """``(rounds x M x M)`` win weights from ``(rounds x 3 M^2)`` cell counts, ties as in show_result.

    ``W[r, i, j] = 2 * (wins of i over j) + (ties between i and j)``: the duplicated-battle logistic regression
    of ``compute_mle_elo`` counts a win twice and a tie once for each side.
    """
    c = np.asarray(cell_counts, float).reshape(-1, n_models, n_models, 3)
    a_wins, b_wins, ties = c[..., A_WINS], c[..., B_WINS], c[..., TIE]
    w = 2.0 * a_wins + 2.0 * np.swapaxes(b_wins, 1, 2) + ties + np.swapaxes(ties, 1, 2)
    idx = np.arange(n_models)
    w[:, idx, idx] = 0.0  # a model against itself carries no information
    return w


def _reachable(linked: np.ndarray, anchor: int) -> np.ndarray:
    """``(rounds x M)``: which models are joined to the anchor by a chain of battles in each round."""
    reach = np.zeros(linked.shape[:2], bool)
    reach[:, anchor] = True
    link = linked.astype(np.int32)
    while True:
        grown = reach | (np.einsum("rij,rj->ri", link, reach.astype(np.int32)) > 0)
        if (grown == reach).all():
            return reach
        reach = grown


def fit_bt(wins: np.ndarray, anchor: int = 0, *, max_iter: int = 100, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry MLE of every round at once (show_result's ``compute_mle_elo``): strengths ``theta`` (rounds x M).

    Maximises ``sum_ij W[r, i, j] * log(sigmoid(theta_i - theta_j))`` per round ``r`` by Newton's method with
    ``theta[anchor] = 0``; the Hessian of each round is the weighted graph Laplacian
    ``diag(sum_j A_ij) - A`` with ``A = N * p * (1 - p)``, ``N = W + W^T``. Rounds stop individually once the
    largest step is below ``tol``. Models without a chain of battles to the anchor get NaN.
    ``wins`` may be ``(M x M)`` for a single fit.
    """
    w = np.array(wins, float, ndmin=3)
    rounds, m, _ = w.shape
    diag = np.arange(m)
    w[:, diag, diag] = 0.0
    n = w + np.swapaxes(w, 1, 2)
    free = _reachable(n > 0, anchor)
    reach = free.copy()
    free[:, anchor] = False
    theta = np.zeros((rounds, m))
    active = np.flatnonzero(free.any(axis=1))
    for _ in range(max_iter):
        if active.size == 0:
            break
        t, nn, fr = theta[active], n[active], free[active]
        d = t[:, :, None] - t[:, None, :]
        p, q = expit(d), expit(-d)  # P(i beats j), P(j beats i); both accurate when one is tiny
        wa = w[active]
        grad = np.where(fr, (wa * q - np.swapaxes(wa, 1, 2) * p).sum(axis=2), 0.0)
        curv = nn * p * q
        lap = -curv
        lap[:, diag, diag] += curv.sum(axis=2)
        lap = np.where(fr[:, :, None] & fr[:, None, :], lap, 0.0)
        lap[:, diag, diag] += ~fr  # fixed coordinates (anchor, unlinked models): identity rows, zero step
        step = np.linalg.solve(lap, grad[:, :, None])[:, :, 0]
        big = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(big, 1e-300))[:, None]
        theta[active] = t + step
        active = active[big >= tol]
    theta[~reach] = np.nan
    return theta


def to_elo(theta: np.ndarray) -> np.ndarray:
    """Ratings on show_result's scale: ``1000 + 400 * theta / ln(10)`` (the anchor, theta 0, is 1000)."""
    return INIT + SCALE * np.asarray(theta) / math.log(BASE)


def predict_win_rate(elo: np.ndarray, baseline_elo: float | np.ndarray = INIT) -> np.ndarray:
    """show_result ``predict_win_rate`` against the baseline: ``1 / (1 + 10 ** ((R_base - R) / 400))``."""
    return 1.0 / (1.0 + BASE ** ((np.asarray(baseline_elo) - np.asarray(elo)) / SCALE))


def bootstrap_indices(n: int, rounds: int, seed: int) -> Iterator[np.ndarray]:
    """Per round, the battle indices ``DataFrame.sample(frac=1.0, replace=True)`` draws after ``np.random.seed(seed)``.

    pandas draws them with the global RandomState's ``choice(n, n, replace=True)``, i.e. ``randint(0, n, n)``;
    a private ``RandomState(seed)`` gives the same numbers without touching numpy's global state.
    """
    rs = np.random.RandomState(seed)
    for _ in range(rounds):
        yield rs.randint(0, n, size=n)


def bootstrap_cell_counts(codes: np.ndarray, n_cells: int, rounds: int, seed: int) -> np.ndarray:
    """``(rounds x n_cells)``: how often each battle cell appears in each resampled round."""
    codes = np.asarray(codes, np.int64)
    out = np.empty((rounds, n_cells))
    for r, idx in enumerate(bootstrap_indices(len(codes), rounds, seed)):
        out[r] = np.bincount(codes[idx], minlength=n_cells)
    return out


def bootstrap_group_cell_counts(
    codes: np.ndarray, groups: np.ndarray, n_cells: int, rounds: int, seed: int
) -> np.ndarray:
    """``(rounds x n_cells)`` cell counts when whole groups (questions) are resampled with replacement: a group
    drawn k times brings all its battles k times. Not show_result's (it resamples battles); see ``score_battles``."""
    codes, groups = np.asarray(codes, np.int64), np.asarray(groups, np.int64)
    n_groups = int(groups.max()) + 1 if groups.size else 0
    per_group = np.zeros((n_groups, n_cells))
    np.add.at(per_group, (groups, codes), 1)
    rs = np.random.RandomState(seed)
    out = np.empty((rounds, n_cells))
    for r in range(rounds):
        out[r] = np.bincount(rs.randint(0, n_groups, size=n_groups), minlength=n_groups) @ per_group
    return out


def bootstrap_elo(
    model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray, n_models: int, anchor: int, *, rounds: int,
    seed: int, groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Full-data ratings ``(M,)`` and bootstrap ratings ``(rounds x M)`` of a battle list, show_result's way
    (battles resampled), or with ``groups`` (a group per battle) whole groups resampled."""
    codes = cell_codes(model_a, model_b, outcome, n_models)
    n_cells = 3 * n_models * n_models
    full = to_elo(fit_bt(effective_wins(np.bincount(codes, minlength=n_cells)[None], n_models), anchor))[0]
    if groups is None:
        boot = bootstrap_cell_counts(codes, n_cells, rounds, seed)
    else:
        boot = bootstrap_group_cell_counts(codes, groups, n_cells, rounds, seed)
    return full, to_elo(fit_bt(effective_wins(boot, n_models), anchor))


def percentile_interval(boot: np.ndarray, low: float = 2.5, high: float = 97.5) -> tuple[np.ndarray, np.ndarray]:
    """show_result's CI bounds: per model ``np.percentile`` (linear interpolation) of its bootstrap ratings.

    Rounds where the model had no battles (NaN) are left out (``np.nanpercentile``).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)  # a model without any battle: NaN
        return np.nanpercentile(boot, low, axis=0), np.nanpercentile(boot, high, axis=0)
