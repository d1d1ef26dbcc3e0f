"""MT-Bench (Zheng et al. 2023) single-answer grading, with FastChat ``llm_judge`` semantics.

References (lm-sys/FastChat, ``fastchat/llm_judge/``):

- ``common.py``: judge prompts are filled with ``str.format``; the GPT-4 reference answers go to the judge
  for the categories in ``NEED_REF_CATS`` (math, reasoning, coding; later versions add "arena-hard-200");
  the rating is the first ``[[x]]`` in the judgment (``one_score_pattern``), else the first ``[x]``
  (``one_score_pattern_backup``), else -1.
- ``gen_judgment.py`` (``make_judge_single``): ``single-v1`` / ``single-math-v1`` for turn 1, their
  ``-multi-turn`` forms (both turns in the prompt) for turn 2; the judge sees a system and a user message.
- ``show_result.py`` (``display_result_single``): rows with score -1 are dropped, then per model the mean of
  turn-1 scores, of turn-2 scores and of all remaining scores pooled ("Average"); every row read is used,
  so duplicate (question, model, turn) rows are all averaged in (no de-duplication).
- The radar-chart notebook linked from FastChat's README: per-category mean over both turns of the rows
  with ``score >= 0``, the category of question ``q`` being ``CATEGORIES[(q - 81) // 10]``.

Here a rating of -1 is a failure: excluded from every mean and counted (``n_failed``), never a default score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np
import pandas as pd

from harness.files import read_jsonl
from harness.types import HarnessError, Message, MetricValue

NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")
#: MT-Bench categories in question order: question ids 81-90 are writing, 91-100 roleplay, ...
MT_BENCH_CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
FAILED = -1
#: the rating scale the judge prompts ask for ("on a scale of 1 to 10"); FastChat averages any parsed rating,
#: so a rating outside it is kept in every mean (fidelity) and counted (``n_out_of_scale``), never silent
SCALE = (1.0, 10.0)
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


class Question(TypedDict):
    question_id: int
    category: str
    turns: list[str]
    reference: NotRequired[list[str]]


class JudgePrompt(TypedDict):
    name: str
    type: str
    system_prompt: str
    prompt_template: str
    output_format: str


class JudgmentRow(TypedDict):
    """One FastChat ``model_judgment/*_single.jsonl`` row (``tstamp`` left out); ``score`` -1 = failure."""

    question_id: int
    model: str
    judge: list[str]
    user_prompt: str
    judgment: str
    score: float
    turn: int


# ---------------------------------------------------------------- field validation


def _where(path: str | Path, row: Mapping[str, Any]) -> str:
    return f"{path}:{row['__line__']}" if "__line__" in row else str(path)


def _field(row: Mapping[str, Any], where: str, name: str, kind: str) -> Any:
    """``row[name]`` checked to be ``kind``: int, str, number, or strs (a non-empty list of strings)."""
    if name not in row:
        raise HarnessError(f"{where}: missing field '{name}'")
    v = row[name]
    ok = {
        "int": isinstance(v, int | np.integer) and not isinstance(v, bool),
        "str": isinstance(v, str),
        "number": isinstance(v, int | float | np.number) and not isinstance(v, bool) and math.isfinite(v),
        "strs": isinstance(v, list) and len(v) > 0 and all(isinstance(x, str) for x in v),
    }[kind]
    if not ok:
        what = {"int": "an integer", "str": "a string", "number": "a finite number", "strs": "a list of strings"}
        raise HarnessError(f"{where}: field '{name}' must be {what[kind]}, got {v!r:.60}")
    return int(v) if kind == "int" else float(v) if kind == "number" else v


def _choice_turns(row: Mapping[str, Any], where: str) -> list[str]:
    if "choices" not in row:
        raise HarnessError(f"{where}: missing field 'choices'")
    choices = row["choices"]
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise HarnessError(f"{where}: field 'choices' must be a non-empty list of objects")
    return list(_field(choices[0], where, "turns", "strs"))


# ---------------------------------------------------------------- loaders


def load_questions(path: str | Path) -> list[Question]:
    """FastChat ``question.jsonl``: question_id, category, turns (and an optional ``reference``); ids unique."""
    out: list[Question] = []
    seen: set[int] = set()
    for row in read_jsonl(path):
        where = _where(path, row)
        qid = _field(row, where, "question_id", "int")
        if qid in seen:
            raise HarnessError(f"{where}: duplicate question_id {qid}")
        seen.add(qid)
        q: Question = {"question_id": qid, "category": _field(row, where, "category", "str"),
                       "turns": list(_field(row, where, "turns", "strs"))}  # fmt: skip
        if "reference" in row:
            q["reference"] = list(_field(row, where, "reference", "strs"))
        out.append(q)
    return out


def load_answers(path: str | Path) -> dict[int, list[str]]:
    """FastChat ``model_answer/<model>.jsonl`` (the model's name is the file stem): question_id -> the
    turns of ``choices[0]``. A later row for the same question replaces an earlier one, as in FastChat's
    ``load_model_answers``."""
    out: dict[int, list[str]] = {}
    for row in read_jsonl(path):
        where = _where(path, row)
        qid = _field(row, where, "question_id", "int")
        if "model_id" in row:
            _field(row, where, "model_id", "str")
        out[qid] = _choice_turns(row, where)
    return out


def load_reference_answers(path: str | Path) -> dict[int, list[str]]:
    """FastChat ``reference_answer/gpt-4.jsonl`` (same format as model answers): question_id -> turns."""
    return load_answers(path)


def load_judge_prompts(path: str | Path) -> dict[str, JudgePrompt]:
    """FastChat ``judge_prompts.jsonl``: name -> prompt (type, system_prompt, prompt_template, output_format)."""
    out: dict[str, JudgePrompt] = {}
    for row in read_jsonl(path):
        where = _where(path, row)
        p: JudgePrompt = {
            "name": _field(row, where, "name", "str"),
            "type": _field(row, where, "type", "str"),
            "system_prompt": _field(row, where, "system_prompt", "str"),
            "prompt_template": _field(row, where, "prompt_template", "str"),
            "output_format": _field(row, where, "output_format", "str"),
        }
        out[p["name"]] = p
    return out


def judgment_from_row(row: Mapping[str, Any], where: str) -> JudgmentRow:
    """Validate one judgment row: question_id, model, turn (1 or 2) and score (-1 = failure, else >= 0)
    are required; judge, user_prompt, judgment are checked when present."""
    qid = _field(row, where, "question_id", "int")
    model = _field(row, where, "model", "str")
    turn = _field(row, where, "turn", "int")
    if turn not in (1, 2):
        raise HarnessError(f"{where}: field 'turn' must be 1 or 2, got {turn}")
    score = _field(row, where, "score", "number")
    if score < 0 and score != FAILED:
        raise HarnessError(f"{where}: field 'score' must be -1 (failed) or >= 0, got {score}")
    judge = row.get("judge", [])
    if not isinstance(judge, list | tuple) or not all(isinstance(x, str) for x in judge):
        raise HarnessError(f"{where}: field 'judge' must be a [judge model, prompt name] pair, got {judge!r:.60}")
    texts = {k: _field(row, where, k, "str") if k in row else "" for k in ("user_prompt", "judgment")}
    return {"question_id": qid, "model": model, "judge": list(judge), "user_prompt": texts["user_prompt"],
            "judgment": texts["judgment"], "score": score, "turn": turn}  # fmt: skip


def load_judgments(path: str | Path) -> list[JudgmentRow]:
    """FastChat ``model_judgment/*_single.jsonl``: every row, validated, duplicates kept (see module doc)."""
    return [judgment_from_row(row, _where(path, row)) for row in read_jsonl(path)]


# ---------------------------------------------------------------- judge prompts and ratings


def judge_prompt_name(category: str, turn: int) -> str:
    """FastChat's prompt for single-answer grading: ``single-math-v1`` for NEED_REF_CATS else ``single-v1``,
    with ``-multi-turn`` for turn 2 (``gen_judgment.make_judge_single``)."""
    if turn not in (1, 2):
        raise HarnessError(f"MT-Bench turn must be 1 or 2, got {turn}")
    return ("single-math-v1" if category in NEED_REF_CATS else "single-v1") + ("-multi-turn" if turn == 2 else "")


def judge_messages(
    question: Question | Mapping[str, Any], answers: Sequence[str], turn: int, prompts: Mapping[str, JudgePrompt],
    reference: Sequence[str] | None = None,
) -> list[Message]:  # fmt: skip
    """The judge's [system, user] messages for one turn of one answer, as FastChat's ``run_judge_single``:
    turn 1 fills ``question``/``answer`` from the first turns, turn 2 fills ``question_1/2``/``answer_1/2``;
    ``ref_answer_1/2`` (the reference answer's turns) are given for NEED_REF_CATS and then required."""
    qid, category, q = question["question_id"], question["category"], question["turns"]
    name = judge_prompt_name(category, turn)
    if name not in prompts:
        raise HarnessError(f"judge prompts lack '{name}' (FastChat judge_prompts.jsonl)")
    if len(q) < turn or len(answers) < turn:
        raise HarnessError(f"question {qid}: turn {turn} needs {turn} question turns and answers")
    kwargs: dict[str, str] = {}
    if category in NEED_REF_CATS:
        if reference is None or len(reference) < turn:
            raise HarnessError(f"question {qid} ({category}): turn {turn} needs a reference answer with {turn} turns")
        kwargs = {f"ref_answer_{i + 1}": r for i, r in enumerate(reference[:2])}
    if turn == 1:
        kwargs.update(question=q[0], answer=answers[0])
    else:
        kwargs.update(question_1=q[0], question_2=q[1], answer_1=answers[0], answer_2=answers[1])
    prompt = prompts[name]
    try:
        user = prompt["prompt_template"].format(**kwargs)
    except (KeyError, IndexError, ValueError) as exc:
        raise HarnessError(f"judge prompt '{name}': template cannot be filled ({exc!r})") from exc
    return [Message("system", prompt["system_prompt"]), Message("user", user)]


def parse_rating(judgment: str) -> float | None:
    """The first ``[[x]]`` in the judgment, else the first ``[x]`` (x: digits, optional ``.`` and digits),
    as FastChat's ``one_score_pattern`` then ``one_score_pattern_backup``; None (FastChat: -1) otherwise."""
    match = _RATING.search(judgment) or _RATING_BACKUP.search(judgment)
    return float(match.group(1)) if match else None


def judgment_row(
    question_id: int, turn: int, model: str, judge: str, prompt_name: str, judgment: str, user_prompt: str = ""
) -> JudgmentRow:
    """Our own judge's completion as a FastChat judgment row: the parsed rating, or -1 when none is found."""
    rating = parse_rating(judgment)
    return {"question_id": question_id, "model": model, "judge": [judge, prompt_name], "user_prompt": user_prompt,
            "judgment": judgment, "score": float(FAILED) if rating is None else rating, "turn": turn}  # fmt: skip


def judgment_rows(
    model: str, judge: str, items: Sequence[tuple[int, int, str, str]], user_prompts: Sequence[str] | None = None
) -> pd.DataFrame:
    """:func:`judgment_row` for each (question_id, turn, prompt name, judgment text), as a DataFrame."""
    prompts = list(user_prompts) if user_prompts is not None else [""] * len(items)
    if len(prompts) != len(items):
        raise HarnessError(f"{len(items)} judgments but {len(prompts)} user prompts")
    rows = [judgment_row(q, t, model, judge, n, text, p) for (q, t, n, text), p in zip(items, prompts, strict=True)]
    return pd.DataFrame(rows, columns=list(JudgmentRow.__annotations__))


# ---------------------------------------------------------------- scoring


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _clustered_ci(valid: Sequence[tuple[JudgmentRow, str]]) -> tuple[float | None, float | None]:
    """95% interval of the pooled mean, its standard error clustered by question (the linearised ratio
    estimator: residual sums per question, small-sample factor q / (q - 1)) times the t quantile with q - 1
    degrees of freedom (the cluster-robust convention, e.g. Stata's: with 30 questions 2.045, not 1.96, which
    covered 0.928 over 1000 planted repetitions); None with fewer than 2 questions."""
    by_q: dict[int, list[float]] = {}
    for j, _ in valid:
        by_q.setdefault(j["question_id"], []).append(j["score"])
    q = len(by_q)
    if q < 2:
        return None, None
    n = sum(len(v) for v in by_q.values())
    mean = math.fsum(x for v in by_q.values() for x in v) / n
    resid = [math.fsum(x - mean for x in v) for v in by_q.values()]
    se = math.sqrt(q / (q - 1) * math.fsum(e * e for e in resid)) / n
    from scipy.stats import t as student_t

    half = float(student_t.ppf(0.975, q - 1)) * se
    return mean - half, mean + half


def _category(qid: int, categories: Mapping[int, str] | None, where: str) -> str:
    if categories is not None:
        if qid not in categories:
            raise HarnessError(f"{where}: question_id {qid} is not in the question file")
        return categories[qid]
    if not 81 <= qid <= 160:
        raise HarnessError(f"{where}: question_id {qid} is not an MT-Bench question (81-160); give the question file")
    return MT_BENCH_CATEGORIES[(qid - 81) // 10]


def scores(
    judgments: pd.DataFrame | Sequence[Mapping[str, Any]], categories: Mapping[int, str] | None = None,
    source: str = "judgments",
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per model, FastChat show_result (single mode) over the rows with score != -1:

    - ``turn1`` / ``turn2``: mean score of the turn's rows; ``overall``: mean of all the model's valid
      scores pooled (FastChat's "Average", so a turn with more valid rows weighs more);
    - ``mean_of_turns``: (turn1 + turn2) / 2, NOT FastChat's number, reported beside it;
    - ``overall_ci_low`` / ``overall_ci_high``: a 95% interval of ``overall`` with the standard error clustered
      by question (its two turns are not independent) and a t(q - 1) quantile; FastChat prints none;
    - ``category``: mean over both turns per category (FastChat radar notebook; categories from
      ``categories`` = question_id -> category, else the MT-Bench id blocks of :data:`MT_BENCH_CATEGORIES`);
    - ``n_valid`` / ``n_failed`` (score -1) rows, ``n_valid_turn1/2``; ``n_duplicates``: rows whose
      (question_id, turn) was already seen for the model (valid or not); they are kept in every mean;
      ``n_out_of_scale``: valid rows whose rating lies outside :data:`SCALE` (kept, as FastChat).

    A mean over no rows is None. Models are ordered by ``overall``, best first, as show_result prints them.
    """
    raw = judgments.to_dict(orient="records") if isinstance(judgments, pd.DataFrame) else list(judgments)
    per_model: dict[str, list[tuple[JudgmentRow, str]]] = {}
    for i, row in enumerate(raw):
        where = _where(source, row) if "__line__" in row else f"{source}: row {i + 1}"
        j = judgment_from_row(row, where)
        per_model.setdefault(j["model"], []).append((j, _category(j["question_id"], categories, where)))
    out: dict[str, dict[str, Any]] = {}
    for model, rows in per_model.items():
        valid = [(j, c) for j, c in rows if j["score"] != FAILED]
        t1 = _mean([j["score"] for j, _ in valid if j["turn"] == 1])
        t2 = _mean([j["score"] for j, _ in valid if j["turn"] == 2])
        cats = [c for c in MT_BENCH_CATEGORIES if any(c == k for _, k in rows)]
        cats += sorted({k for _, k in rows} - set(cats))
        keys = [(j["question_id"], j["turn"]) for j, _ in rows]
        out[model] = {
            "turn1": t1,
            "turn2": t2,
            "overall": _mean([j["score"] for j, _ in valid]),
            **dict(zip(("overall_ci_low", "overall_ci_high"), _clustered_ci(valid), strict=True)),
            "mean_of_turns": None if t1 is None or t2 is None else (t1 + t2) / 2,
            "category": {c: _mean([j["score"] for j, k in valid if k == c]) for c in cats},
            "n_valid": len(valid),
            "n_failed": len(rows) - len(valid),
            "n_valid_turn1": sum(j["turn"] == 1 for j, _ in valid),
            "n_valid_turn2": sum(j["turn"] == 2 for j, _ in valid),
            "n_duplicates": len(keys) - len(set(keys)),
            "n_out_of_scale": sum(not SCALE[0] <= j["score"] <= SCALE[1] for j, _ in valid),
        }
    order = sorted(out, key=lambda m: (out[m]["overall"] is None, -(out[m]["overall"] or 0.0), m))
    return {m: out[m] for m in order}


def metric_rows(res: dict[str, Any]) -> list[MetricValue]:
    """The stored rows of one model's :func:`scores` entry: the one step from the scorer's result to rows, for
    `harness eval` and `harness score mt_bench --record` alike (so both store the same rows)."""
    n_valid = res["n_valid"]
    return [
        MetricValue("turn1", res["turn1"], n=n_valid),
        MetricValue("turn2", res["turn2"], n=n_valid),
        MetricValue("overall", res["overall"], res["overall_ci_low"], res["overall_ci_high"], n_valid),
        MetricValue("mean_of_turns", res["mean_of_turns"], n=n_valid),
        MetricValue("n_unparsed", float(res["n_failed"]), n=n_valid + res["n_failed"]),
        MetricValue("n_out_of_scale", float(res["n_out_of_scale"]), n=n_valid),
    ]


def to_rows(result: Mapping[str, Any]) -> dict[str, list[MetricValue]]:
    """Every model's rows of a :func:`score_mt_bench` result (:func:`metric_rows`)."""
    return {model: metric_rows(m) for model, m in result["models"].items()}


def score_mt_bench(judgments_path: str | Path, questions_path: str | Path | None = None) -> dict[str, Any]:
    """``harness score mt_bench``: a FastChat single-grading judgment file -> JSON-able per-model scores
    (see :func:`scores`); categories from ``questions_path`` when given."""
    rows = read_jsonl(judgments_path)
    cats = None
    if questions_path is not None:
        cats = {q["question_id"]: q["category"] for q in load_questions(questions_path)}
    models = scores(rows, cats, source=str(judgments_path))
    return {
        "benchmark": "mt_bench",
        "judgments": str(judgments_path),
        "questions": None if questions_path is None else str(questions_path),
        "n_rows": len(rows),
        "models": models,
    }
