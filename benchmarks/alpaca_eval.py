"""AlpacaEval 2 win rates from annotations, with alpaca_eval's definitions (``metrics/winrate.py:get_winrate``).

- preference p per instruction in [1, 2] (1: the reference output_1 wins, 2: the model's output_2 wins);
  p == 0 or p == 1.5 is a draw (n_draws), and 0 is read as 1.5; values outside [1, 2] or missing are dropped.
- win_rate = 100 * mean(p - 1); standard_error = 100 * pandas sem (ddof=1) of (p - 1);
  n_wins = #(p - 1 > 0.5), n_wins_base = #(p - 1 < 0.5), n_total = #kept (``AbsoluteScoringRule``).
- discrete_win_rate: p is first binarised as alpaca_eval's ``ZeroOneScoringRule`` does (1.5 -> 0, then
  rounded half-to-even to 0, 1 or 2, 0 meaning a draw worth 0.5), then the same mean.
- avg_length: mean number of characters of the model's outputs, as an integer (the leaderboard's column).
The length-controlled win rate is not implemented yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.io import read_json
from harness.types import HarnessError


def _records(path: str | Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise HarnessError(f"{path}: expected a non-empty JSON list")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise HarnessError(f"{path}: item {i} is not an object")
        for name in required:
            if name not in row:
                raise HarnessError(f"{path}: item {i}: missing field '{name}'")
    return data


def load_annotations(path: str | Path) -> pd.DataFrame:
    """alpaca_eval ``annotations.json``: instruction, output_1, output_2, generator_2, preference, ..."""
    rows = _records(path, ("instruction", "output_1", "output_2", "preference"))
    for i, r in enumerate(rows):
        if r["preference"] is not None and not isinstance(r["preference"], int | float):
            raise HarnessError(f"{path}: item {i}: field 'preference' must be a number")
    return pd.DataFrame(rows)


def load_model_outputs(path: str | Path) -> pd.DataFrame:
    """alpaca_eval ``model_outputs.json``: instruction, output, generator."""
    rows = _records(path, ("instruction", "output"))
    for i, r in enumerate(rows):
        if not isinstance(r["output"], str):
            raise HarnessError(f"{path}: item {i}: field 'output' must be a string")
    return pd.DataFrame(rows)


def _head2head(p: pd.Series, n_draws: int) -> dict[str, Any]:
    p = p.astype(float).replace({0.0: 1.5})
    x = p[(p >= 1) & (p <= 2)] - 1
    return {
        "win_rate": float(x.mean() * 100),
        "standard_error": float(x.sem() * 100),
        "n_wins": int((x > 0.5).sum()),
        "n_wins_base": int((x < 0.5).sum()),
        "n_draws": int(n_draws),
        "n_total": len(x),
    }


def win_rate_metrics(preferences: Any) -> dict[str, Any]:
    """win_rate, standard_error, n_wins, n_wins_base, n_draws, n_total and discrete_win_rate (see module doc)."""
    p = pd.Series(preferences, dtype=float)
    out = _head2head(p, int(((p == 1.5) | (p == 0)).sum()))
    binary = p.replace({1.5: 0.0}).round()  # numpy rounds half to even, as pandas' Int64 rounding does
    out["discrete_win_rate"] = _head2head(binary, int((binary == 0).sum()))["win_rate"]
    return out


def avg_length(outputs: pd.DataFrame) -> int:
    return int(np.mean([len(o) for o in outputs["output"]]))


def score_alpaca_eval(annotations_path: str | Path, outputs_path: str | Path | None = None) -> dict[str, Any]:
    """`harness score alpaca_eval`: metrics of an annotations file (and avg_length of the outputs)."""
    ann = load_annotations(annotations_path)
    result: dict[str, Any] = {"benchmark": "alpaca_eval", "annotations": str(annotations_path)}
    if "generator_2" in ann:
        result["model"] = str(ann["generator_2"].iloc[0])
    result.update(win_rate_metrics(ann["preference"]))
    if outputs_path:
        result["avg_length"] = avg_length(load_model_outputs(outputs_path))
    return result
