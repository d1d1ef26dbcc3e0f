"""Arena-Hard v0.1 scoring, as lmarena/arena-hard-auto's ``show_result.py`` of July 2024.

Battles (``get_battles_from_judgment``): each judgment row has two games against the baseline
(gpt-4-0314). Game 1 shows the baseline as A, game 2 swaps positions. A strong verdict (A>>B, B>>A)
counts as WEIGHT = 3 battles, a weak one as 1, A=B as one tie, anything else (no verdict) as 0.
Ratings (``compute_mle_elo``): a Bradley-Terry MLE on base 10, scale 400, 1000 + 400 * strength,
where a tie counts as one win for each side (show_result duplicates the battles and lets the
first copy of a tie be an A win, the second a B win), then shifted so the baseline is 1000.
Score: the predicted win rate against the baseline, 1 / (1 + 10^((R_base - R_model) / 400)), in %.
CI: 100 bootstrap rounds of the battles (resampled with replacement, seeded) -> 2.5 / 97.5 percentiles
of each model's rating -> win rates. ``avg_tokens``: the mean ``token_len`` of the model's answers.

The fit here is vectorised: the win counts of every bootstrap round go into one (rounds x models x
models) array and the BT MLE of all rounds is found at once by the minorisation-maximisation
iteration (Hunter 2004). The verdict regex is judge_config's ``\\[\\[([AB<>=]+)\\]\\]``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from harness.io import read_jsonl
from harness.types import HarnessError

BASELINE = "gpt-4-0314"
WEIGHT = 3
SCALE, BASE, INIT = 400.0, 10.0, 1000.0
VERDICT = re.compile(r"\[\[([AB<>=]+)\]\]")
# (winner in game 1, winner in game 2) for each label; game 1: A = baseline, game 2: A = the model
_GAME1 = {
    "A=B": ("tie", 1),
    "A>B": ("base", 1),
    "A>>B": ("base", WEIGHT),
    "B>A": ("model", 1),
    "B>>A": ("model", WEIGHT),
}
_GAME2 = {
    "A=B": ("tie", 1),
    "A>B": ("model", 1),
    "A>>B": ("model", WEIGHT),
    "B>A": ("base", 1),
    "B>>A": ("base", WEIGHT),
}


def extract_verdict(judgment: str) -> str | None:
    """gen_judgment.py: the verdicts found by the regex; one distinct verdict -> it (spaces removed), else None."""
    found = {m.strip() for m in VERDICT.findall(judgment or "")}
    return found.pop() if len(found) == 1 else None


def load_judgment_dir(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    files = sorted(Path(path).glob("*.jsonl"))
    if not files:
        raise HarnessError(f"{path}: no judgment files (*.jsonl)")
    for f in files:
        for r in read_jsonl(f):
            for name in ("question_id", "model", "games"):
                if name not in r:
                    raise HarnessError(f"{f}:{r['__line__']}: missing field '{name}'")
            if not isinstance(r["games"], list) or len(r["games"]) != 2:
                raise HarnessError(f"{f}:{r['__line__']}: field 'games' must hold the two games")
            rows.append(r)
    return rows


def battles(judgments: list[dict[str, Any]], *, first_game_only: bool = False) -> list[tuple[str, str]]:
    """(model, winner) battles against the baseline, winner in {"base", "model", "tie"}, weights expanded."""
    out: list[tuple[str, str]] = []
    for r in judgments:
        games = [(r["games"][0], _GAME1)] + ([] if first_game_only else [(r["games"][1], _GAME2)])
        for game, table in games:
            winner, weight = table.get((game or {}).get("score") or "", (None, 0))
            out += [(r["model"], winner)] * weight if winner else []
    return out


def win_counts(models: list[str], battle_list: list[tuple[str, str]], idx: np.ndarray) -> np.ndarray:
    """(rounds x M x M) win matrix from resampled battle indices; ties count half to each side.

    Index 0 is the baseline; W[r, i, j] = wins of i over j in round r.
    """
    pos = {m: i for i, m in enumerate(models)}
    model_idx = np.array([pos[m] for m, _ in battle_list])
    kind = np.array([{"base": 0, "model": 1, "tie": 2}[w] for _, w in battle_list])
    rounds, m = idx.shape[0], len(models)
    w = np.zeros((rounds, m, m))
    for k in range(3):  # 0: the baseline won, 1: the model won, 2: a tie
        sel = kind[idx] == k  # (rounds x n) battles of this kind in each round
        counts = np.zeros((rounds, m))
        np.add.at(counts, (np.repeat(np.arange(rounds), idx.shape[1])[sel.ravel()], model_idx[idx][sel]), 1.0)
        if k == 0:
            w[:, 0, :] += counts  # baseline beat model j
        elif k == 1:
            w[:, :, 0] += counts  # model i beat the baseline
        else:
            w[:, 0, :] += 0.5 * counts
            w[:, :, 0] += 0.5 * counts
    w[:, 0, 0] = 0.0
    return w


def bt_mle(w: np.ndarray, iters: int = 10_000, tol: float = 1e-12) -> np.ndarray:
    """Bradley-Terry strengths of every round at once (MM iteration), as Elo anchored at the baseline (index 0)."""
    n = w + np.swapaxes(w, 1, 2)  # games between i and j
    wins = w.sum(axis=2)
    p = np.ones(w.shape[:2])
    for _ in range(iters):
        denom = (n / (p[:, :, None] + p[:, None, :])).sum(axis=2)
        new = np.where(denom > 0, wins / np.where(denom > 0, denom, 1.0), p)
        new = np.clip(new / new[:, :1], 1e-12, 1e12)  # baseline strength 1; bounded for never-losing models
        if np.max(np.abs(np.log(new) - np.log(p))) < tol:
            p = new
            break
        p = new
    return INIT + SCALE * np.log10(p)


def win_rate_vs_baseline(elo: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + BASE ** ((elo[..., :1] - elo) / SCALE))


def avg_tokens(answers_dir: str | Path) -> dict[str, float]:
    out = {}
    for f in sorted(Path(answers_dir).glob("*.jsonl")):
        rows = read_jsonl(f)
        lens = []
        for r in rows:
            try:
                lens.append(float(r["choices"][0]["turns"][0]["token_len"]))
            except (KeyError, IndexError, TypeError) as exc:
                raise HarnessError(f"{f}:{r['__line__']}: missing field 'choices[0].turns[0].token_len'") from exc
        out[str(rows[0].get("model_id", f.stem))] = float(np.mean(lens))
    return out


def score_arena_hard(
    answers_dir: str | Path | None, judgments_dir: str | Path, *, baseline: str = BASELINE, seed: int = 42,
    rounds: int = 100,
) -> dict[str, Any]:  # fmt: skip
    """Scores (win rate vs the baseline, %), 95% CIs from the bootstrap, and average answer tokens per model."""
    judgments = load_judgment_dir(judgments_dir)
    battle_list = battles(judgments)
    if not battle_list:
        raise HarnessError(f"{judgments_dir}: no usable verdicts")
    models = [baseline, *sorted({m for m, _ in battle_list} - {baseline})]
    n = len(battle_list)
    full = bt_mle(win_counts(models, battle_list, np.arange(n)[None, :]))[0]
    rng = np.random.default_rng(seed)
    boot = bt_mle(win_counts(models, battle_list, rng.integers(0, n, size=(rounds, n))))
    lo, hi = np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)
    wr = lambda e: 100 * win_rate_vs_baseline(e[None, :])[0]  # noqa: E731
    tokens = avg_tokens(answers_dir) if answers_dir else {}
    return {
        "benchmark": "arena_hard",
        "baseline": baseline,
        "models": {
            m: {
                "score": float(wr(full)[i]),
                "ci_low": float(wr(lo)[i]),
                "ci_high": float(wr(hi)[i]),
                "elo": float(full[i]),
                "avg_tokens": tokens.get(m),
                "n_battles": sum(b[0] == m for b in battle_list),
            }
            for i, m in enumerate(models)
            if m != baseline
        },
    }
