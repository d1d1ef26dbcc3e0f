"""The reference method for the tests and the bench: arena-hard-auto show_result.py (July 2024) restated.

Per round, a logistic regression (sklearn, no intercept, no penalty) on the one-hot battle matrix with
+/- log(10) entries, the battles duplicated so that a tie counts as one win for each side; ratings
1000 + 400 * coef, anchored at the baseline (gpt-4-0314 = 1000).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def compute_mle_elo(df: pd.DataFrame, baseline: str = "gpt-4-0314") -> pd.Series:
    models = pd.concat([df["model_a"], df["model_b"]]).unique()
    models = pd.Series(np.arange(len(models)), index=models)
    df = pd.concat([df, df], ignore_index=True)
    n, p = df.shape[0], len(models.index)
    x = np.zeros([n, p])
    x[np.arange(n), models[df["model_a"]]] = +math.log(10)
    x[np.arange(n), models[df["model_b"]]] = -math.log(10)
    y = np.zeros(n)
    y[df["winner"] == "model_a"] = 1.0
    tie = (df["winner"] == "tie").to_numpy().copy()
    tie[len(tie) // 2 :] = False
    y[tie] = 1.0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8)  # C=inf: no penalty (penalty=None)
    lr.fit(x, y)
    elo = 400 * lr.coef_[0] + 1000
    elo += 1000 - elo[models[baseline]]
    return pd.Series(elo, index=models.index)


def battles_frame(battle_list: list[tuple[str, str]], baseline: str = "gpt-4-0314") -> pd.DataFrame:
    winner = {"base": "model_a", "model": "model_b", "tie": "tie"}
    return pd.DataFrame([{"model_a": baseline, "model_b": m, "winner": winner[w]} for m, w in battle_list])


def win_rate(elo: pd.Series, baseline: str = "gpt-4-0314") -> pd.Series:
    return 100 / (1 + 10 ** ((elo[baseline] - elo) / 400))
