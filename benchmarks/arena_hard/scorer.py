"""Arena-Hard v0.1 (Li et al. 2024): loaders, verdict extraction and scoring as lmarena/arena-hard-auto of July 2024.

References (lmarena/arena-hard-auto at e883410, 2024-07-16; the ServiceNow fork at 3a7f199 has the same code):

- ``gen_judgment.py``: two games per question, game 1 with the baseline (gpt-4-0314) as assistant A and the
  model as B, game 2 swapped; the judge sees ``system_prompt`` and ``prompt_template`` of
  ``config/judge_config.yaml`` filled with ``str.format``. ``get_score``: all matches of ``regex_pattern``
  (``\\[\\[([AB<>=]+)\\]\\]``); none -> no verdict and ask again ("continue your judgment and finish by
  outputting a final verdict label", up to ``number_of_judgment_attempts``, the texts joined by newlines);
  one distinct label (possibly repeated) -> that label; several distinct labels -> no verdict, no retry.
- ``show_result.py`` ``get_battles_from_judgment``: game 1's ``A>>B`` is ``WEIGHT = 3`` baseline wins, ``A>B``
  one, ``A=B`` one tie, ``B>A`` one model win, ``B>>A`` three; game 2 the mirror image; any other label (null,
  ``A<B``, ...) gives no battle. Scores, CIs: see :mod:`benchmarks.arena_hard.stats` (the Bradley-Terry fit,
  the seeded 100-round bootstrap, the 2.5 / 97.5 percentiles, win rates against the baseline).
- ``utils.load_model_answers``: answers keyed by file name (without ``.jsonl``), then by ``question_id`` (a
  later duplicate replaces an earlier one); ``avg_tokens`` = ``int`` of the mean ``choices[0].turns[0].token_len``.

Deviations: scores are percentages left unrounded (show_result prints them
rounded to 2 decimals); a model without an answers file gets ``avg_tokens`` None (show_result: 0); judgment
rows of the baseline itself are skipped (show_result of July 2024 would enter a degenerate battle; later
versions drop them too). Style control (``--style-control`` of later versions) is not implemented.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.arena_hard import stats
from harness.files import read_jsonl, read_yaml_mapping
from harness.types import HarnessError, MetricValue

BASELINE = "gpt-4-0314"
WEIGHT = 3
VERDICT = re.compile(r"\[\[([AB<>=]+)\]\]")
#: label -> (winner, strong?) in game 1, where A is the baseline; game 2 (A is the model) mirrors it
_GAME1 = {"A=B": (stats.TIE, False), "A>B": (stats.A_WINS, False), "A>>B": (stats.A_WINS, True),
          "B>A": (stats.B_WINS, False), "B>>A": (stats.B_WINS, True)}  # fmt: skip
_MIRROR = {stats.A_WINS: stats.B_WINS, stats.B_WINS: stats.A_WINS, stats.TIE: stats.TIE}


# ---------------------------------------------------------------- verdicts


def get_score(judgment: str, pattern: re.Pattern[str] = VERDICT) -> tuple[str | None, bool]:
    """gen_judgment.py ``get_score``: ``(label, try_again)``.

    No match -> ``(None, True)`` (the judge is asked to continue); exactly one distinct label, however often it
    occurs -> ``(label, False)``; several distinct labels -> ``(None, False)``.
    """
    found = [m for m in pattern.findall(judgment) if m != ""]
    if not found:
        return None, True
    if len(set(found)) == 1:
        return found[0].strip("\n"), False
    return None, False


def extract_verdict(judgment: str, pattern: re.Pattern[str] = VERDICT) -> str | None:
    """The verdict label of a judgment text (``get_score``'s label), None when there is none or it is ambiguous."""
    return get_score(judgment, pattern)[0]


# ---------------------------------------------------------------- loaders


@dataclass(frozen=True)
class JudgeConfig:
    """The fields of arena-hard-auto's ``config/judge_config.yaml`` that judging and scoring use."""

    system_prompt: str
    prompt_template: tuple[str, ...]
    regex: re.Pattern[str]
    baseline_model: str
    judge_model: str | None = None
    number_of_judgment_attempts: int = 2
    temperature: float = 0.0
    max_tokens: int = 4096


@dataclass(frozen=True)
class Judgment:
    """One ``model_judgment/<judge>/*.jsonl`` row: the verdict label (or None) of each game, and where it came from."""

    question_id: str | int
    model: str
    labels: tuple[str | None, ...]
    where: str


def _where(path: str | Path, row: Mapping[str, Any]) -> str:
    return f"{path}:{row['__line__']}" if "__line__" in row else str(path)


@functools.lru_cache(maxsize=64)
def _path(dotted: str) -> tuple[str | int, ...]:
    # parsed once per distinct path: _get runs for every field of every row
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"[^.\[\]]+|\[\d+\]", dotted))


def _get(obj: Any, where: str, dotted: str) -> Any:
    """``obj`` followed along ``dotted`` ("choices[0].turns[0].token_len"); HarnessError naming the field if absent."""
    cur = obj
    for part in _path(dotted):
        if isinstance(part, int):
            k = part
            ok = isinstance(cur, list) and k < len(cur)
            cur = cur[k] if ok else None
        else:
            ok = isinstance(cur, dict) and part in cur
            cur = cur[part] if ok else None
        if not ok:
            raise HarnessError(f"{where}: missing field '{dotted}'")
    return cur


def _check_id(value: Any, where: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise HarnessError(f"{where}: field 'question_id' must be a string or an integer")
    return value


def load_questions(path: str | Path) -> list[dict[str, Any]]:
    """``question.jsonl``: rows with ``question_id`` and ``turns[0].content`` (a string)."""
    rows = read_jsonl(path)
    for r in rows:
        where = _where(path, r)
        _check_id(_get(r, where, "question_id"), where)
        if not isinstance(_get(r, where, "turns[0].content"), str):
            raise HarnessError(f"{where}: field 'turns[0].content' must be a string")
    return rows


def load_judge_config(path: str | Path) -> JudgeConfig:
    """``judge_config.yaml``; the system prompt, template(s), verdict regex and baseline model are required."""
    raw = read_yaml_mapping(path, ("system_prompt", "prompt_template", "regex_pattern", "baseline_model"))
    templates = raw["prompt_template"]
    if not isinstance(templates, list) or not templates or not all(isinstance(t, str) for t in templates):
        raise HarnessError(f"{path}: field 'prompt_template' must be a non-empty list of strings")
    for key in ("system_prompt", "regex_pattern", "baseline_model"):
        if not isinstance(raw[key], str):
            raise HarnessError(f"{path}: field '{key}' must be a string")
    try:
        regex = re.compile(raw["regex_pattern"])
    except re.error as exc:
        raise HarnessError(f"{path}: field 'regex_pattern' is not a valid regex ({exc})") from exc
    attempts = raw.get("number_of_judgment_attempts", 2)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise HarnessError(f"{path}: field 'number_of_judgment_attempts' must be a positive integer")
    return JudgeConfig(raw["system_prompt"], tuple(templates), regex, raw["baseline_model"], raw.get("judge_model"),
                       attempts, float(raw.get("temperature", 0.0)), int(raw.get("max_tokens", 4096)))  # fmt: skip


def game_messages(config: JudgeConfig, question: str, model_answer: str, baseline_answer: str) -> list[list[dict]]:
    """The judge conversations of the two games (gen_judgment.py): game 1 baseline = A, game 2 model = A."""
    games = []
    for first, second in ((baseline_answer, model_answer), (model_answer, baseline_answer)):
        conv = [{"role": "system", "content": config.system_prompt}]
        for template in config.prompt_template:
            conv.append(
                {"role": "user", "content": template.format(question_1=question, answer_1=first, answer_2=second)}
            )
        games.append(conv)
    return games


def load_model_answers(answers_dir: str | Path) -> dict[str, dict[str | int, dict[str, Any]]]:
    """``model_answer/*.jsonl`` as utils.load_model_answers: model (file stem) -> question_id -> row.

    Every row needs ``question_id`` and a numeric ``choices[0].turns[0].token_len`` (what show_result averages).
    """
    if not Path(answers_dir).is_dir():
        raise HarnessError(f"{answers_dir}: answers directory not found")
    files = sorted(Path(answers_dir).glob("*.jsonl"))
    if not files:
        raise HarnessError(f"{answers_dir}: no answer files (*.jsonl)")
    out: dict[str, dict[str | int, dict[str, Any]]] = {}
    for f in files:
        answers: dict[str | int, dict[str, Any]] = {}
        for r in read_jsonl(f):
            where = _where(f, r)
            qid = _check_id(_get(r, where, "question_id"), where)
            tokens = _get(r, where, "choices[0].turns[0].token_len")
            if isinstance(tokens, bool) or not isinstance(tokens, int | float) or tokens < 0:
                raise HarnessError(f"{where}: field 'choices[0].turns[0].token_len' must be a non-negative number")
            answers[qid] = r
        out[f.name[: -len(".jsonl")]] = answers
    return out


def average_tokens(answers: Mapping[str, Mapping[str | int, Mapping[str, Any]]]) -> dict[str, int]:
    """show_result's ``avg_tokens``: ``int(mean of choices[0].turns[0].token_len)`` over a model's answers."""
    return {
        model: int(sum(a["choices"][0]["turns"][0]["token_len"] for a in rows.values()) / len(rows))
        for model, rows in answers.items()
    }


def judgment_from_row(row: Mapping[str, Any], where: str) -> Judgment:
    """A validated :class:`Judgment` from a judgment row (``question_id``, ``model``, ``games[k].score``)."""
    qid = _check_id(_get(row, where, "question_id"), where)
    model = _get(row, where, "model")
    if not isinstance(model, str) or not model:
        raise HarnessError(f"{where}: field 'model' must be a non-empty string")
    games = _get(row, where, "games")
    if not isinstance(games, list) or len(games) != 2:
        raise HarnessError(f"{where}: field 'games' must be a list of the 2 games (baseline as A, then swapped)")
    labels = []
    for k in range(2):
        label = _get(row, where, f"games[{k}].score")
        if label is not None and not isinstance(label, str):
            raise HarnessError(f"{where}: field 'games[{k}].score' must be a verdict label string or null")
        labels.append(label)
    return Judgment(qid, model, tuple(labels), where)


def load_judgments(judgments_dir: str | Path) -> list[Judgment]:
    """``model_judgment/<judge>/*.jsonl``, files in name order, rows in file order."""
    if not Path(judgments_dir).is_dir():
        raise HarnessError(f"{judgments_dir}: judgments directory not found")
    files = sorted(Path(judgments_dir).glob("*.jsonl"))
    if not files:
        raise HarnessError(f"{judgments_dir}: no judgment files (*.jsonl)")
    return [judgment_from_row(r, _where(f, r)) for f in files for r in read_jsonl(f)]


# ---------------------------------------------------------------- battles and scores


@dataclass(frozen=True)
class Battles:
    """show_result's battle list: model_a is always the baseline (index 0 of ``models``)."""

    models: tuple[str, ...]
    model_b: np.ndarray  # index into models, per battle
    outcome: np.ndarray  # stats.A_WINS (baseline won), B_WINS (model won), TIE
    null_verdicts: dict[str, int]  # per model: games whose label gave no battle
    judgments: dict[str, int]  # per model: judgment rows used
    question: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per battle: its question's index


def game_battles(labels: Sequence[str | None], *, first_game_only: bool = False, weight: int = WEIGHT) -> list[int]:
    """Outcomes (stats codes, baseline = model_a) of one judgment row's games, strong verdicts ``weight`` times."""
    out: list[int] = []
    for k, label in enumerate(labels[:1] if first_game_only else labels[:2]):
        winner, strong = _GAME1.get(label or "", (None, False))
        if winner is not None:
            out += [winner if k == 0 else _MIRROR[winner]] * (weight if strong else 1)
    return out


def make_battles(
    judgments: Sequence[Judgment], baseline: str = BASELINE, *, first_game_only: bool = False, weight: int = WEIGHT
) -> Battles:
    """Battles in show_result's order: row by row, game 1's then game 2's; the baseline's own rows skipped."""
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
        raise HarnessError(f"arena_hard: weight must be a positive integer, got {weight!r}")
    names = sorted({j.model for j in judgments} - {baseline})
    pos = {m: i + 1 for i, m in enumerate(names)}
    model_b: list[int] = []
    outcome: list[int] = []
    question: list[int] = []
    qpos: dict[str | int, int] = {}
    nulls = dict.fromkeys(names, 0)
    counts = dict.fromkeys(names, 0)
    for j in judgments:
        if j.model == baseline:
            continue
        games = j.labels[:1] if first_game_only else j.labels
        nulls[j.model] += sum(label not in _GAME1 for label in games)
        counts[j.model] += 1
        got = game_battles(j.labels, first_game_only=first_game_only, weight=weight)
        model_b += [pos[j.model]] * len(got)
        outcome += got
        question += [qpos.setdefault(j.question_id, len(qpos))] * len(got)
    return Battles((baseline, *names), np.array(model_b, np.int64), np.array(outcome, np.int64), nulls, counts,
                   np.array(question, np.int64))  # fmt: skip


def _num(x: Any) -> float | None:
    return None if not np.isfinite(x) else float(x)


BOOTSTRAPS = ("battles", "questions")


def score_battles(
    battles: Battles, *, seed: int = 42, rounds: int = 100, bootstrap: str = "battles"
) -> dict[str, dict[str, Any]]:
    """Per model with battles: score, 95% CI, Elo and its CI, battle count; best first (show_result.py, July 2024).

    ``score = 100 * predict_win_rate(R_model)``: the win probability (%) against the baseline of the full-data
    Bradley-Terry ratings (``compute_mle_elo``, baseline 1000); ``ci_low`` / ``ci_high`` the same of the
    ``np.percentile`` 2.5 / 97.5 of ``rounds`` bootstrap ratings (``get_bootstrap_result``, seeded, same
    resampling stream). The baseline itself scores 50 with the CI (50, 50), as show_result prints it.

    ``bootstrap="questions"`` (not show_result's) resamples questions instead of battles: all battles of a drawn
    question, every model's, enter together. The two games of a question judge one answer, so battles are not
    independent and show_result's interval is too narrow (tests/app/test_calibration.py measures its coverage).
    """
    if battles.model_b.size == 0:
        raise HarnessError("arena_hard: no usable verdicts (no game has one of A>>B, A>B, A=B, B>A, B>>A)")
    if rounds < 1:
        raise HarnessError(f"arena_hard: rounds must be positive, got {rounds}")
    if not 0 <= seed < 2**32:
        raise HarnessError(f"arena_hard: seed must lie in [0, 2**32), got {seed}")
    if bootstrap not in BOOTSTRAPS:
        raise HarnessError(f"arena_hard: bootstrap must be one of {', '.join(BOOTSTRAPS)}, got {bootstrap!r}")
    m = len(battles.models)
    model_a = np.zeros_like(battles.model_b)
    groups = battles.question if bootstrap == "questions" else None
    full, boot = stats.bootstrap_elo(model_a, battles.model_b, battles.outcome, m, 0, rounds=rounds, seed=seed,
                                     groups=groups)  # fmt: skip
    low, high = stats.percentile_interval(boot)
    n_battles = np.bincount(battles.model_b, minlength=m)
    n_battles[0] = battles.model_b.size
    out = {}
    for i, name in enumerate(battles.models):
        if n_battles[i] == 0:
            continue  # every game of the model lacked a verdict: no rating (listed as unscored)
        out[name] = {
            "score": _num(100 * stats.predict_win_rate(full[i])),
            "ci_low": _num(100 * stats.predict_win_rate(low[i])),
            "ci_high": _num(100 * stats.predict_win_rate(high[i])),
            "elo": _num(full[i]),
            "elo_ci_low": _num(low[i]),
            "elo_ci_high": _num(high[i]),
            "n_battles": int(n_battles[i]),
            "n_judgments": battles.judgments.get(name, 0),
            "n_null_verdicts": battles.null_verdicts.get(name, 0),
        }
    return dict(sorted(out.items(), key=lambda kv: -(kv[1]["score"] or 0.0)))


def score_judgments(
    judgments: Sequence[Judgment], *, baseline: str = BASELINE, seed: int = 42, rounds: int = 100,
    weight: int = WEIGHT, first_game_only: bool = False, avg_tokens: Mapping[str, int] | None = None,
    bootstrap: str = "battles",
) -> dict[str, Any]:  # fmt: skip
    """The JSON-able Arena-Hard result of judgment rows (see :func:`score_arena_hard`)."""
    battles = make_battles(judgments, baseline, first_game_only=first_game_only, weight=weight)
    models = score_battles(battles, seed=seed, rounds=rounds, bootstrap=bootstrap)
    for name, row in models.items():
        row["avg_tokens"] = None if avg_tokens is None else avg_tokens.get(name)
    unscored = sorted(set(battles.models) - set(models))
    return {
        "benchmark": "arena_hard", "version": "v0.1", "baseline": baseline, "seed": seed, "rounds": rounds,
        "weight": weight, "first_game_only": first_game_only, "bootstrap": bootstrap,
        "n_battles": int(battles.model_b.size),
        "n_judgments": sum(battles.judgments.values()), "n_null_verdicts": sum(battles.null_verdicts.values()),
        "score_scale": "win rate against the baseline, %, unrounded (show_result prints 2 decimals)",
        "unscored_models": unscored, "models": models,
    }  # fmt: skip


# written by a live run beside its judgments: the bootstrap, seed and rounds its score and CI used
EXPORT_SETTINGS = "harness_export.json"


def export_settings(judgments_dir: str | Path) -> dict[str, Any] | None:
    """The settings a live `harness eval` run wrote beside its judgments (:data:`EXPORT_SETTINGS`), if any."""
    path = Path(judgments_dir) / EXPORT_SETTINGS
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not a JSON object ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("bootstrap") not in BOOTSTRAPS:
        raise HarnessError(f"{path}: field 'bootstrap' must be one of {', '.join(BOOTSTRAPS)}")
    return doc


def model_rows(m: Mapping[str, Any]) -> list[MetricValue]:
    """The stored rows of one model's entry of a :func:`score_judgments` result: the one step from the scorer to
    rows, for `harness eval` and `harness score arena_hard --record` alike (so both store the same rows)."""
    return [
        MetricValue("score", m["score"], m["ci_low"], m["ci_high"], n=m["n_battles"]),
        MetricValue("n_unparsed", float(m["n_null_verdicts"]), n=2 * m["n_judgments"]),
        MetricValue("avg_tokens", None if m["avg_tokens"] is None else float(m["avg_tokens"]), n=m["n_judgments"]),
    ]


def to_rows(result: Mapping[str, Any]) -> dict[str, list[MetricValue]]:
    """Every scored model's rows (:func:`model_rows`), the baseline left out (its score is 50 by construction)."""
    return {model: model_rows(m) for model, m in result["models"].items() if model != result["baseline"]}


def score_arena_hard(
    answers_dir: str | Path | None, judgments_dir: str | Path, baseline: str = BASELINE, seed: int = 42,
    rounds: int = 100, *, weight: int = WEIGHT, first_game_only: bool = False, bootstrap: str = "battles",
) -> dict[str, Any]:  # fmt: skip
    """``harness score arena_hard``: show_result.py's leaderboard of a judgments directory, as a JSON-able dict.

    ``models[name]``: ``score`` (win rate against the baseline in %, the baseline itself 50), ``ci_low`` /
    ``ci_high`` (95% bootstrap CI), ``elo`` and its CI (baseline 1000), ``avg_tokens`` (from ``answers_dir``,
    None without it), ``n_battles``, ``n_judgments``, ``n_null_verdicts``; models ordered best first.
    """
    tokens = average_tokens(load_model_answers(answers_dir)) if answers_dir is not None else None
    judgments = load_judgments(judgments_dir)
    try:
        result = score_judgments(judgments, baseline=baseline, seed=seed, rounds=rounds, weight=weight,
                                 first_game_only=first_game_only, avg_tokens=tokens, bootstrap=bootstrap)  # fmt: skip
    except HarnessError as exc:  # a whole-set error (no usable verdict) names the directory it came from
        raise HarnessError(f"{judgments_dir}: {exc}") from exc
    result["judge"] = Path(judgments_dir).name
    return result
