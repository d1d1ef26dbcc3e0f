"""The reference method for the Arena-Hard tests and bench: show_result.py of July 2024, restated (test-only).

Source: lmarena/arena-hard-auto ``show_result.py`` at e883410 (2024-07-16), same code in the ServiceNow fork
at 3a7f199 whose run produced the official ``bootstrapping_results.jsonl``. What it computes, step by step:

1. ``get_battles_from_judgment``: for every judgment row (files in glob order, here name order), game 1 then
   game 2, a DataFrame row (model_a = baseline, model_b = the model, winner) repeated 3 times for ``>>``.
2. ``compute_mle_elo``: the battles concatenated with themselves; design matrix ``+ln 10`` at model_a,
   ``-ln 10`` at model_b; ``y = 1`` where model_a won, and for ties only in the first copy;
   ``LogisticRegression(fit_intercept=False, penalty=None, tol=1e-8)``; ``1000 + 400 * coef``, shifted so
   that the baseline is 1000.
3. ``get_bootstrap_result``: ``np.random.seed(seed)``, then ``battles.sample(frac=1.0, replace=True)`` and
   ``compute_mle_elo`` per round.
4. score / lower / upper: the full-data rating and ``np.percentile(., 2.5 / 97.5)`` of the bootstrap ratings,
   each turned into a win rate against the baseline by ``predict_win_rate`` (``get_win_rate_column``:
   the pairwise table's baseline column, the baseline's own NaN filled with 0.5), times 100, rounded to 2.
5. avg_tokens: ``utils.load_model_answers`` (file stem -> question_id -> row), ``int`` of the mean
   ``choices[0].turns[0].token_len``, 0 for a model without answers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

# show_result's branches: label -> (winner, repeated WEIGHT times?) for game 1 (A = baseline) and game 2 (A = model)
GAME_1 = {"A=B": ("tie", False), "A>B": ("model_a", False), "A>>B": ("model_a", True),
          "B>A": ("model_b", False), "B>>A": ("model_b", True)}  # fmt: skip
GAME_2 = {"A=B": ("tie", False), "A>B": ("model_b", False), "A>>B": ("model_b", True),
          "B>A": ("model_a", False), "B>>A": ("model_a", True)}  # fmt: skip


def battles_from_judgments(
    judgment_dir: Path, baseline: str = "gpt-4-0314", weight: int = 3, first_game_only: bool = False
) -> pd.DataFrame:
    """Step 1: one DataFrame row per battle, in file-name, row and game order."""
    records = []
    for path in sorted(Path(judgment_dir).glob("*jsonl")):
        for _, row in pd.read_json(path, lines=True).iterrows():
            tables = [GAME_1] if first_game_only else [GAME_1, GAME_2]
            for game, table in zip(row["games"], tables, strict=False):
                if game["score"] not in table:
                    continue
                winner, strong = table[game["score"]]
                rec = {
                    "question_id": row["question_id"],
                    "model_a": baseline,
                    "model_b": row["model"],
                    "winner": winner,
                }
                records += [rec] * (weight if strong else 1)
    return pd.DataFrame(records)


def compute_mle_elo(df: pd.DataFrame, baseline: str = "gpt-4-0314") -> pd.Series:
    """Step 2: the duplicated-battle logistic regression; Elo ratings with the baseline at 1000."""
    names = pd.concat([df["model_a"], df["model_b"]]).unique()
    col = pd.Series(np.arange(len(names)), index=names)
    doubled = pd.concat([df, df], ignore_index=True)
    n = len(doubled)
    x = np.zeros((n, len(names)))
    x[np.arange(n), col[doubled["model_a"]].to_numpy()] = math.log(10)
    x[np.arange(n), col[doubled["model_b"]].to_numpy()] = -math.log(10)
    y = np.zeros(n)
    y[(doubled["winner"] == "model_a").to_numpy()] = 1.0
    first_copy_ties = (doubled["winner"] == "tie").to_numpy() & (np.arange(n) < n // 2)
    y[first_copy_ties] = 1.0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8)  # sklearn >= 1.8 spelling of penalty=None
    lr.fit(x, y)
    elo = 1000 + 400 * lr.coef_[0]
    if baseline in col.index:
        elo = elo + (1000 - elo[col[baseline]])
    return pd.Series(elo, index=names)


def bootstrap_elo(df: pd.DataFrame, rounds: int, seed: int = 42, baseline: str = "gpt-4-0314") -> pd.DataFrame:
    """Step 3: one row of ratings per round, battles resampled with pandas from the seeded global RNG."""
    np.random.seed(seed)
    return pd.DataFrame([compute_mle_elo(df.sample(frac=1.0, replace=True), baseline) for _ in range(rounds)])


def win_rate_column(elo: dict[str, float], baseline: str = "gpt-4-0314") -> dict[str, float]:
    """Step 4's ``get_win_rate_column`` before rounding: P(model beats baseline), the baseline 0.5."""
    names = sorted(elo)
    table = pd.DataFrame(
        {a: [1 / (1 + 10 ** ((elo[b] - elo[a]) / 400)) if a != b else np.nan for b in names] for a in names},
        index=names,
    ).T  # row: model, column: opponent
    return table[baseline].fillna(0.5).to_dict()


def average_tokens(answers_dir: Path) -> dict[str, int]:
    """Step 5: utils.load_model_answers then show_result's mean token_len, truncated to int."""
    out = {}
    for path in sorted(Path(answers_dir).glob("*.jsonl")):
        by_question = {}
        for line in path.read_text().splitlines():
            row = json.loads(line)
            by_question[row["question_id"]] = row
        total = sum(r["choices"][0]["turns"][0]["token_len"] for r in by_question.values())
        out[path.name[: -len(".jsonl")]] = int(total / len(by_question))
    return out


def show_result(
    judgment_dir: Path, answers_dir: Path | None, baseline: str = "gpt-4-0314", seed: int = 42, rounds: int = 100
) -> dict[str, dict[str, float]]:
    """The whole of show_result.py: per model score / lower / upper (% unrounded and rounded) and avg_tokens."""
    battles = battles_from_judgments(judgment_dir, baseline)
    full = compute_mle_elo(battles, baseline)
    boot = bootstrap_elo(battles, rounds, seed, baseline)
    columns = {
        "score": full.to_dict(),
        "lower": {m: np.percentile(boot[m], 2.5) for m in full.index},
        "upper": {m: np.percentile(boot[m], 97.5) for m in full.index},
    }
    tokens = average_tokens(answers_dir) if answers_dir is not None else {}
    out: dict[str, dict[str, float]] = {m: {"avg_tokens": tokens.get(m, 0)} for m in full.index}
    for name, elo in columns.items():
        for m, p in win_rate_column(elo, baseline).items():
            out[m][name] = 100 * p
            out[m][f"{name}_rounded"] = round(p * 100, 2)
            out[m][f"{name}_elo"] = elo[m]
    return out


# ---------------------------------------------------------------- synthetic data (tests and bench)

LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")  # game 1 order: the baseline (A) best first


def write_synthetic_judgments(
    out_dir: Path, n_models: int, n_questions: int, seed: int, *, null_rate: float = 0.02
) -> dict[str, float]:
    """Seeded judgment files ``out_dir/model-XX.jsonl`` in arena-hard-auto's format; returns the true strengths.

    Per game ``d = strength + N(0, 1)`` (> 0: the model is better than the baseline) is cut into the five
    labels at -1.5 / -0.4 / 0.4 / 1.5, written from the baseline's side in game 1 and mirrored in game 2;
    a fraction ``null_rate`` of the games gets no verdict (null) or an unused label (``A<B``).
    """
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    strengths = {}
    for m in range(n_models):
        name = f"model-{m:02d}"
        strengths[name] = float(rng.normal(0.0, 1.0))
        rows = []
        for q in range(n_questions):
            games = []
            for game in (1, 2):
                d = strengths[name] + rng.normal()
                k = int(np.searchsorted([-1.5, -0.4, 0.4, 1.5], d))  # 0: model much worse ... 4: much better
                label = LABELS[k] if game == 1 else LABELS[4 - k]
                u = rng.random()
                if u < null_rate:
                    label = None if u < null_rate / 2 else "A<B"
                games.append({"user_prompt": "...", "judgment": f"... [[{label}]]", "score": label})
            rows.append({"question_id": f"q{q:03d}", "model": name, "judge": "synthetic", "games": games})
        (out_dir / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return strengths
