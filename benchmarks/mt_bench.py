"""MT-Bench (Zheng et al. 2023), single-answer grading, with FastChat llm_judge semantics.

- 80 two-turn questions in 8 categories; the GPT-4 reference answers are given to the judge for
  math, reasoning and coding (FastChat's ``NEED_REF_CATS``).
- Judge prompts: ``single-v1`` / ``single-math-v1`` for turn 1, their ``-multi-turn`` forms for turn 2
  (from FastChat's ``judge_prompts.jsonl``); the template is filled with ``str.format`` as FastChat does.
- Rating: the first ``[[x]]`` in the judgment, else the first ``[x]`` (FastChat ``common.py``
  ``one_score_pattern`` / ``one_score_pattern_backup``); no match is FastChat's -1: here a failure,
  excluded from every mean and counted.
- Scores (FastChat ``show_result.py``, single mode): rows with score -1 dropped; per model the mean of
  turn-1 ratings, of turn-2 ratings, and ``overall`` = the mean of ALL valid ratings pooled (FastChat's
  "Average"); also ``mean_of_turns`` = (turn1 + turn2) / 2, labelled as such, and per-category means over
  both turns. Duplicate (question, model, turn) rows are kept and averaged, as show_result reads every row;
  their number is reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.io import read_jsonl
from harness.types import HarnessError, Message

NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


def parse_rating(judgment: str) -> float | None:
    """First ``[[x]]``, else first ``[x]``; None (FastChat: -1) when neither appears."""
    match = _RATING.search(judgment or "") or _RATING_BACKUP.search(judgment or "")
    return float(match.group(1)) if match else None


def _require(row: dict[str, Any], path: str, fields: dict[str, type | tuple[type, ...]]) -> None:
    for name, kind in fields.items():
        if name not in row:
            raise HarnessError(f"{path}:{row['__line__']}: missing field '{name}'")
        if not isinstance(row[name], kind):
            raise HarnessError(f"{path}:{row['__line__']}: field '{name}' has the wrong type")


def load_questions(path: str | Path) -> list[dict[str, Any]]:
    rows = read_jsonl(path)
    for r in rows:
        _require(r, str(path), {"question_id": int, "category": str, "turns": list})
    return rows


def load_judge_prompts(path: str | Path) -> dict[str, dict[str, Any]]:
    rows = read_jsonl(path)
    for r in rows:
        _require(r, str(path), {"name": str, "system_prompt": str, "prompt_template": str})
    return {r["name"]: r for r in rows}


def load_reference_answers(path: str | Path) -> dict[int, list[str]]:
    rows = read_jsonl(path)
    for r in rows:
        _require(r, str(path), {"question_id": int, "choices": list})
    return {r["question_id"]: list(r["choices"][0]["turns"]) for r in rows}


def load_answers(path: str | Path) -> dict[int, list[str]]:
    """FastChat ``model_answer/<model>.jsonl``: question_id -> the model's turns."""
    rows = read_jsonl(path)
    for r in rows:
        _require(r, str(path), {"question_id": int, "choices": list})
    return {r["question_id"]: list(r["choices"][0]["turns"]) for r in rows}


def load_judgments(path: str | Path) -> pd.DataFrame:
    """FastChat ``model_judgment/*_single.jsonl`` rows (question_id, model, score, turn, judgment, ...)."""
    rows = read_jsonl(path)
    for r in rows:
        _require(r, str(path), {"question_id": int, "model": str, "score": (int, float), "turn": int})
        if r["turn"] not in (1, 2):
            raise HarnessError(f"{path}:{r['__line__']}: field 'turn' must be 1 or 2")
    return pd.DataFrame(rows)


def judge_messages(
    question: dict[str, Any], answers: Sequence[str], turn: int, prompts: dict[str, dict[str, Any]],
    reference: Sequence[str] | None = None,
) -> list[Message]:  # fmt: skip
    """The judge's system + user messages for one turn, as FastChat's single-answer grading builds them."""
    needs_ref = question["category"] in NEED_REF_CATS
    name = ("single-math-v1" if needs_ref else "single-v1") + ("-multi-turn" if turn == 2 else "")
    prompt = prompts[name]
    q = question["turns"]
    if turn == 1:
        kwargs: dict[str, str] = {"question": q[0], "answer": answers[0]}
        if needs_ref:
            kwargs["ref_answer_1"] = (reference or [""])[0]
    else:
        kwargs = {"question_1": q[0], "question_2": q[1], "answer_1": answers[0], "answer_2": answers[1]}
        if needs_ref:
            kwargs.update(ref_answer_1=(reference or ["", ""])[0], ref_answer_2=(reference or ["", ""])[1])
    user = prompt["prompt_template"].format(**kwargs)
    return [Message("system", prompt["system_prompt"]), Message("user", user)]


def scores(judgments: pd.DataFrame, categories: dict[int, str] | None = None) -> dict[str, dict[str, Any]]:
    """Per model: turn1, turn2, overall (pooled), mean_of_turns, per category, n_valid, n_failed, n_duplicates."""
    df = judgments.copy()
    df["score"] = df["score"].astype(float)
    out: dict[str, dict[str, Any]] = {}
    for model, g in df.groupby("model", sort=True):
        valid = g[g["score"] != -1]
        t1 = valid[valid["turn"] == 1]["score"].mean() if (valid["turn"] == 1).any() else None
        t2 = valid[valid["turn"] == 2]["score"].mean() if (valid["turn"] == 2).any() else None
        res: dict[str, Any] = {
            "turn1": None if t1 is None else float(t1),
            "turn2": None if t2 is None else float(t2),
            "overall": float(valid["score"].mean()) if len(valid) else None,
            "mean_of_turns": None if t1 is None or t2 is None else float((t1 + t2) / 2),
            "n_valid": len(valid),
            "n_failed": len(g) - len(valid),
            "n_duplicates": int(g.duplicated(subset=["question_id", "turn"]).sum()),
        }
        if categories:
            cat = valid["question_id"].map(categories)
            res["category"] = {str(k): float(v) for k, v in valid.groupby(cat)["score"].mean().items()}
        out[str(model)] = res
    return out


def score_mt_bench(judgments_path: str | Path, questions_path: str | Path | None = None) -> dict[str, Any]:
    """`harness score mt_bench`: FastChat judgment file(s) -> per-model scores (JSON-able)."""
    df = load_judgments(judgments_path)
    cats = None
    if questions_path:
        cats = {q["question_id"]: q["category"] for q in load_questions(questions_path)}
    return {"benchmark": "mt_bench", "judgments": str(judgments_path), "models": scores(df, cats)}


def judgment_rows(model: str, judge: str, items: list[tuple[int, int, str, str]]) -> pd.DataFrame:
    """Our own judge completions as FastChat judgment rows: (question_id, turn, prompt name, judgment text);
    an unparsed rating becomes FastChat's -1 (excluded and counted by :func:`scores`)."""
    rows = []
    for qid, turn, name, text in items:
        rating = parse_rating(text)
        rows.append({"question_id": qid, "model": model, "judge": [judge, name], "judgment": text,
                     "score": -1.0 if rating is None else rating, "turn": turn})  # fmt: skip
    return pd.DataFrame(rows)
