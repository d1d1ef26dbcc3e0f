"""Arena-Hard v2.0 (April 2025) scoring without style control, as lmarena/arena-hard-auto at 196f6b8.

References (lmarena/arena-hard-auto @ 196f6b8):

- ``gen_judgment.py``: one row per question in ``model_judgment/<judge>/<model>.jsonl``: ``uid``, ``category``,
  ``judge``, ``model``, ``baseline``, ``games`` = [game 1 (A = baseline, B = model), game 2 (A = model,
  B = baseline)]; a game is ``{"score": label or null, "judgment", "prompt"}``, or null when its call failed.
  ``get_score``: the judgment upper-cased, the config's patterns (``\\[\\[([AB<>=]+)\\]\\]`` then
  ``\\[([AB<>=]+)\\]``) tried in order, the **last** match of the first that matches (:func:`parse_verdict`).
- ``utils/judge_utils.py``: the baseline per category: o3-mini-2025-01-31 for hard_prompt (its coding and math
  subcategories), gemini-2.0-flash-001 for creative_writing.
- ``show_result.py``: rows whose either game (or its label) is null are dropped (one count printed); a label is
  the value "A wins" 1 (``A>B``, ``B<A``), 0.5 (``A=B``, ``B=A``) or 0 (``A<B``, ``B>A``), strong labels
  (``A>>B``, ``B<<A``, ``A<<B``, ``B>>A``) repeated ``weight`` = 3 times; the model's battles are game 2's
  values and one minus game 1's; ``--judge-names`` pools the rows of several judges; ``--category`` keeps one
  category; the printed score is the **mean over 100 bootstrap rounds** of each model's mean battle value
  (battles resampled within each model, ``groupby("model").sample(frac=1, replace=True)``); its "CI" is the
  5th to 95th percentile of the rounds, i.e. a 90% interval; model names lose any ``path/`` prefix; the
  baseline is listed at 50 (+0 / -0).

Deviations, all labelled in the output: upstream's bootstrap is unseeded; here it is seeded (a private
``RandomState(seed)`` drawing each round's indices model by model in name order, which is what
``np.random.seed(seed)`` before upstream's loop would draw); the 90% interval is named ``ci90_*`` and a 95% one
(2.5th to 97.5th percentile) is given beside it; ``point_score`` (the mean without resampling) is reported too;
an unknown label is a one-line error naming the row (upstream raises KeyError); scores are percentages, unrounded.
Style control (``-f length markdown``) is ``benchmarks/arena_hard/style.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.core.registry import Metric
from harness.files import read_jsonl
from harness.types import HarnessError, MetricValue

WEIGHT = 3
ROUNDS = 100
#: the baseline of each category (utils/judge_utils.py JUDGE_SETTINGS)
BASELINES = {
    "hard_prompt": "o3-mini-2025-01-31",
    "coding": "o3-mini-2025-01-31",
    "math": "o3-mini-2025-01-31",
    "creative_writing": "gemini-2.0-flash-001",
}
PATTERNS = (re.compile(r"\[\[([AB<>=]+)\]\]"), re.compile(r"\[([AB<>=]+)\]"))
#: label -> (value "A wins", strong?)
LABELS = {
    "A>B": (1.0, False), "B<A": (1.0, False), "A>>B": (1.0, True), "B<<A": (1.0, True),
    "A=B": (0.5, False), "B=A": (0.5, False),
    "A<B": (0.0, False), "B>A": (0.0, False), "A<<B": (0.0, True), "B>>A": (0.0, True),
}  # fmt: skip


def parse_verdict(judgment: str, patterns: Sequence[re.Pattern[str]] = PATTERNS) -> str | None:
    """gen_judgment.py ``get_score``: the last non-empty match of the first pattern that matches the upper-cased
    judgment; None when none does."""
    text = judgment.upper()
    for pattern in patterns:
        found = [m for m in pattern.findall(text) if m != ""]
        if found:
            return str(found[-1])
    return None


@dataclass(frozen=True)
class Row:
    """One v2.0 judgment row: the labels of game 1 and game 2 (None: no verdict or no game)."""

    uid: str
    category: str
    model: str
    labels: tuple[str | None, str | None]
    where: str


def is_v2_row(row: dict[str, Any]) -> bool:
    """A v2.0 judgment row is keyed by ``uid`` (v0.1 rows by ``question_id``)."""
    return "uid" in row and "question_id" not in row


def _row(raw: dict[str, Any], where: str) -> Row:
    for key in ("uid", "category", "model"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise HarnessError(f"{where}: field '{key}' must be a non-empty string")
    games = raw.get("games")
    if not isinstance(games, list) or len(games) != 2:
        raise HarnessError(f"{where}: field 'games' must be a list of the 2 games (baseline as A, then swapped)")
    labels: list[str | None] = []
    for k, game in enumerate(games):
        if game is None:
            labels.append(None)
            continue
        if not isinstance(game, dict):
            raise HarnessError(f"{where}: field 'games[{k}]' must be an object or null")
        label = game.get("score")
        if label is not None and not isinstance(label, str):
            raise HarnessError(f"{where}: field 'games[{k}].score' must be a verdict label string or null")
        if label is not None and label not in LABELS:
            raise HarnessError(f"{where}: field 'games[{k}].score': unknown verdict label {label!r}")
        labels.append(label)
    return Row(raw["uid"], raw["category"], raw["model"].split("/")[-1], (labels[0], labels[1]), where)


def load_judgments(judgment_dirs: Sequence[str | Path]) -> list[Row]:
    """``model_judgment/<judge>/*.jsonl`` of each judge directory (upstream's ``--judge-names``), pooled."""
    rows: list[Row] = []
    for d in judgment_dirs:
        if not Path(d).is_dir():
            raise HarnessError(f"{d}: judgments directory not found")
        files = sorted(Path(d).glob("*.jsonl"))
        if not files:
            raise HarnessError(f"{d}: no judgment files (*.jsonl)")
        for f in files:
            for raw in read_jsonl(f):
                rows.append(_row(raw, f"{f}:{raw.get('__line__', '?')}"))
    return rows


def battle_values(labels: tuple[str | None, str | None], weight: int = WEIGHT) -> list[float]:
    """The model's battle values of one row (show_result): game 2's values, then one minus game 1's, each strong
    label ``weight`` times; [] when either label is missing (the row is dropped)."""
    if labels[0] is None or labels[1] is None:
        return []
    out: list[float] = []
    for k in (1, 0):
        value, strong = LABELS[labels[k]]  # type: ignore[index]
        out += [value if k == 1 else 1.0 - value] * (weight if strong else 1)
    return out


def score_rows(
    rows: Sequence[Row], *, category: str = "hard_prompt", seed: int = 42, rounds: int = ROUNDS, weight: int = WEIGHT
) -> dict[str, Any]:
    """The v2.0 leaderboard of one category (see the module doc), as a JSON-able dict."""
    if category not in BASELINES:
        raise HarnessError(f"arena_hard v2.0: unknown category {category!r} (known: {', '.join(BASELINES)})")
    if rounds < 1 or isinstance(weight, bool) or weight < 1:
        raise HarnessError("arena_hard v2.0: rounds and weight must be positive")
    baseline = BASELINES[category]
    kept = [r for r in rows if r.category == category]
    if not kept:
        raise HarnessError(f"arena_hard v2.0: no judgment row of category {category!r}")
    values: dict[str, list[float]] = {}
    dropped: dict[str, int] = {}
    n_rows: dict[str, int] = {}
    for r in kept:
        n_rows[r.model] = n_rows.get(r.model, 0) + 1
        got = battle_values(r.labels, weight)
        if not got:
            dropped[r.model] = dropped.get(r.model, 0) + 1
        values.setdefault(r.model, []).extend(got)
    names = sorted(m for m in values if values[m])
    if not names:
        raise HarnessError(f"arena_hard v2.0: every row of category {category!r} lacks a verdict")
    rs = np.random.RandomState(seed)
    boot = np.empty((rounds, len(names)))
    arrays = [np.asarray(values[m]) for m in names]
    for b in range(rounds):  # round by round, model by model in name order: upstream's draw order
        for i, v in enumerate(arrays):
            boot[b, i] = v[rs.randint(0, len(v), size=len(v))].mean()
    models: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(names):
        col = 100 * boot[:, i]
        models[m] = {
            "score": float(col.mean()), "point_score": float(100 * arrays[i].mean()),
            "ci90_low": float(np.percentile(col, 5)), "ci90_high": float(np.percentile(col, 95)),
            "ci95_low": float(np.percentile(col, 2.5)), "ci95_high": float(np.percentile(col, 97.5)),
            "n_battles": len(arrays[i]), "n_rows": n_rows[m], "n_dropped": dropped.get(m, 0),
        }  # fmt: skip
    models.setdefault(baseline, {"score": 50.0, "point_score": 50.0, "ci90_low": 50.0, "ci90_high": 50.0,
                                 "ci95_low": 50.0, "ci95_high": 50.0, "n_battles": 0, "n_rows": 0, "n_dropped": 0})  # fmt: skip
    return {
        "benchmark": "arena_hard", "version": "v2.0", "category": category, "baseline": baseline, "seed": seed,
        "rounds": rounds, "weight": weight, "n_dropped": sum(dropped.values()),
        "score_scale": "mean over bootstrap rounds of the mean battle value, %, unrounded",
        "interval": "ci90_*: 5th-95th percentile of the rounds (upstream prints it as 'CI'); ci95_*: 2.5th-97.5th",
        "models": dict(sorted(models.items(), key=lambda kv: -kv[1]["score"])),
    }  # fmt: skip


def model_rows(m: Mapping[str, Any]) -> list[MetricValue]:
    """The stored rows of one model's entry of a :func:`score_rows` result (the 95% interval), for `harness eval`
    and `harness score arena_hard --record` alike."""
    return [
        MetricValue("score", m["score"], m["ci95_low"], m["ci95_high"], n=m["n_battles"]),
        MetricValue("point_score", m["point_score"], n=m["n_battles"]),
        MetricValue("n_dropped", float(m["n_dropped"]), n=m["n_rows"]),
    ]


def to_rows(result: Mapping[str, Any]) -> dict[str, list[MetricValue]]:
    """Every scored model's rows (:func:`model_rows`), the baseline left out (its score is 50 by construction)."""
    return {model: model_rows(m) for model, m in result["models"].items() if model != result["baseline"]}


def score_arena_hard_v2(
    judgment_dirs: Sequence[str | Path], *, category: str = "hard_prompt", seed: int = 42, rounds: int = ROUNDS,
    weight: int = WEIGHT,
) -> dict[str, Any]:  # fmt: skip
    """``harness score arena_hard --version v2.0``: the leaderboard of pooled judge directories."""
    rows = load_judgments(judgment_dirs)
    try:
        result = score_rows(rows, category=category, seed=seed, rounds=rounds, weight=weight)
    except HarnessError as exc:  # a whole-set error (no row of the category) names the directories
        raise HarnessError(f"{', '.join(str(d) for d in judgment_dirs)}: {exc}") from exc
    result["judges"] = [Path(d).name for d in judgment_dirs]
    return result


_REF = "arena-hard-auto show_result.py @ 196f6b8"
METRICS = (
    Metric("score", "mean over seeded bootstrap rounds of the mean battle value x 100 (95% interval: 2.5th-97.5th "
           "percentile; upstream prints the 5th-95th as 'CI')", True, headline=True, terminal=True, reference=_REF),
    Metric("point_score", "mean battle value x 100 without resampling", True),
    Metric("n_dropped", "judgment rows dropped because a game has no verdict", False, reference=_REF),
)  # fmt: skip
# declared (with the live run) in benchmarks/arena_hard/benchmark_v2.py
