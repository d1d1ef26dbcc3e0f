"""Arena-Hard style control as upstream fits it, restated for the tests and the bench (test-only).

Source: lmarena/arena-hard-auto @ 196f6b8, ``show_result.py`` ``print_leaderboard_with_style_features`` and
``utils/math_utils.py`` (``one_hot_encode``, ``fit_pairwise_model``, ``bootstrap_pairwise_model``,
``to_winrate_probabilities``). What it computes, step by step, from the battle rows (one per battle value):

1. float32 features [+1 at the model, -1 at the baseline] (models and baseline sorted by name) followed by the
   four style columns z-scored with ``torch.std`` (n - 1);
2. per round, rows resampled by ``np.random.randint(0, n, (rounds, n))`` drawn once; a parameter vector
   initialised to 0.5 fitted by ``torch.optim.LBFGS(lr=0.1, max_iter=50, tolerance_grad=1e-9,
   tolerance_change=1e-9)``, one ``step`` on ``binary_cross_entropy_with_logits(features @ params, outcomes,
   reduction="sum")``;
3. win rate ``exp(b_m) / (exp(b_m) + exp(b_baseline))`` per round; score = median over rounds (pandas
   quantile 0.5), 5th / 95th percentiles; coefficients = ``torch.quantile(coefs[:, -4:], 0.5, axis=0)``.

``converged=True`` runs the same loss in float64 with a strong-Wolfe line search to convergence: the solution
upstream's 50 fixed-step iterations approach.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.arena_hard.style import StyleBattles


def style_features(model: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Upstream's four style columns before z-scoring, restated from show_result.py (not the product's function):
    the length difference over the length sum, then for each markdown count (headers, lists, bold) its density
    ``count / (length + 1)`` differenced as ``(d_model - d_baseline) / (d_model + d_baseline + 1)``. Columns of the
    inputs: length, then the three counts. Two empty answers give NaN here, as upstream."""
    model, baseline = model.astype(np.float64), baseline.astype(np.float64)
    with np.errstate(invalid="ignore"):
        length = (model[:, 0] - baseline[:, 0]) / (model[:, 0] + baseline[:, 0])
    d_model = model[:, 1:] / (model[:, :1] + 1)
    d_baseline = baseline[:, 1:] / (baseline[:, :1] + 1)
    return np.column_stack([length, (d_model - d_baseline) / (d_model + d_baseline + 1)])


def style_fit(
    battles: StyleBattles, *, seed: int, rounds: int, converged: bool = False
) -> tuple[dict[str, float], np.ndarray]:
    """(model -> median win rate %, median coefficients of the four style columns) as upstream computes them."""
    dtype = torch.float64 if converged else torch.float32
    raw = torch.tensor(style_features(battles.model_features, battles.baseline_features), dtype=dtype)
    style = (raw - raw.mean(dim=0)) / raw.std(dim=0)
    names = sorted([*battles.models, battles.baseline])
    col = {m: i for i, m in enumerate(names)}
    n = battles.value.size
    onehot = torch.zeros(n, len(names), dtype=dtype)
    onehot[torch.arange(n), torch.tensor([col[battles.models[i]] for i in battles.model])] = 1
    onehot[:, col[battles.baseline]] = -1
    features = torch.cat([onehot, style], dim=1)
    outcomes = torch.tensor(battles.value, dtype=dtype)
    idx = np.random.RandomState(seed).randint(0, n, size=(rounds, n))
    coefs = []
    for r in range(rounds):
        f, y = features[idx[r]], outcomes[idx[r]]
        params = torch.nn.Parameter(torch.full((features.shape[1],), 0.5, dtype=dtype))
        if converged:
            opt = torch.optim.LBFGS([params], lr=1, max_iter=2000, tolerance_grad=1e-12, tolerance_change=1e-15,
                                    line_search_fn="strong_wolfe")  # fmt: skip
        else:
            opt = torch.optim.LBFGS([params], lr=0.1, max_iter=50, tolerance_grad=1e-9, tolerance_change=1e-9)

        def closure(f: torch.Tensor = f, y: torch.Tensor = y, params: torch.nn.Parameter = params) -> torch.Tensor:
            params.grad = None  # what opt.zero_grad() does
            loss = torch.nn.functional.binary_cross_entropy_with_logits(f @ params, y, reduction="sum")
            loss.backward()
            return loss

        opt.step(closure)
        coefs.append(params.detach().numpy().astype(np.float64))
    stack = np.array(coefs)
    b = stack[:, : len(names)]
    win = 100.0 / (1.0 + np.exp(-(b - b[:, [col[battles.baseline]]])))
    scores = {m: float(np.quantile(win[:, col[m]], 0.5)) for m in battles.models}
    return scores, np.quantile(stack[:, len(names) :], 0.5, axis=0)
