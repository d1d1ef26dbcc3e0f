"""`harness eval --benchmarks arena_hard_v2`: the model answers the Arena-Hard v2.0 questions of one category; the
annotator judges each answer against that category's baseline in two games (positions swapped) as
arena-hard-auto's ``gen_judgment.py`` @ 196f6b8 does.

- Judge configuration: ``config/arena-hard-v2.0.yaml`` (``prompt_template`` with QUESTION / ANSWER_A /
  ANSWER_B, ``regex_patterns``, ``temperature``, ``max_tokens``) and ``utils/judge_utils.py``'s
  ``JUDGE_SETTINGS`` (each category's system prompt and baseline), built in as data
  (``benchmarks/arena_hard/data/v2.0``). One call per game, no retry turn (v2.0 has none); the verdict is
  :func:`benchmarks.arena_hard.v2.parse_verdict` (upper-cased, last match of the first pattern that matches).
- Game 1 puts the baseline as A and the model as B; game 2 swaps them.
- Questions (``uid``, ``category``, ``prompt``) and the baseline's answers (``messages[-1].content.answer``):
  ``--data-for arena_hard_v2_dir=DIR`` (``DIR/question.jsonl``, ``DIR/model_answer/BASELINE.jsonl``, optionally
  ``DIR/config/arena-hard-v2.0.yaml``), else the ``lmarena-ai/arena-hard-auto`` hub dataset's
  ``data/arena-hard-v2.0/`` files (HF cache first; offline: one line naming the file, before any model call).

The run writes ``OUT/arena_hard_v2/model_answer/MODEL.jsonl`` and ``OUT/arena_hard_v2/model_judgment/JUDGE/MODEL.jsonl``
in v2.0's format and scores those rows with :func:`benchmarks.arena_hard.v2.score_rows`, the scorer of
``harness score arena_hard`` for v2.0 files, so re-scoring the files gives the same numbers.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.arena_hard import v2
from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, declare
from harness.files import read_jsonl, read_yaml, read_yaml_mapping
from harness.runner import generate
from harness.spec import file_stem
from harness.types import HarnessError, Message, MetricValue, Request

BUILTIN_DIR = Path(__file__).resolve().parent / "data" / "v2.0"
HUB_REPO = "lmarena-ai/arena-hard-auto"
HUB_DIR = "data/arena-hard-v2.0"


@dataclass(frozen=True)
class ArenaHardV2Params:
    """Options of the arena_hard_v2 benchmark (``--option KEY=VALUE``)."""

    category: str = "hard_prompt"  # hard_prompt (baseline o3-mini) or creative_writing (gemini-2.0-flash)
    max_tokens: int = 4096  # per greedy answer
    judge_max_tokens: int = 0  # per judgment; 0: arena-hard-v2.0.yaml's max_tokens
    rounds: int = 100  # bootstrap rounds (show_result's)
    bootstrap_seed: int = 42  # upstream's bootstrap is unseeded; ours is seeded
    weight: int = 3  # battles per strong verdict


@dataclass(frozen=True)
class JudgeSetup:
    template: str
    patterns: tuple[Any, ...]
    temperature: float
    max_tokens: int
    system_prompt: str
    baseline: str


def judge_setup(category: str, config_path: Path | None = None) -> JudgeSetup:
    """The v2.0 judge configuration of one category (the config file's fields are all required)."""
    import re

    settings = read_yaml(BUILTIN_DIR / "judge_settings.yaml")
    if category not in settings:
        raise HarnessError(f"--option arena_hard_v2.category={category!r}: expected one of {', '.join(settings)}")
    path = config_path if config_path is not None and config_path.is_file() else BUILTIN_DIR / "arena-hard-v2.0.yaml"
    raw = read_yaml_mapping(path, ("prompt_template", "regex_patterns", "temperature", "max_tokens"))
    patterns = raw["regex_patterns"]
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise HarnessError(f"{path}: field 'regex_patterns' must be a non-empty list of strings")
    try:
        compiled = tuple(re.compile(p) for p in patterns)
    except re.error as exc:
        raise HarnessError(f"{path}: field 'regex_patterns' has an invalid regex ({exc})") from exc
    if not isinstance(raw["prompt_template"], str):
        raise HarnessError(f"{path}: field 'prompt_template' must be a string")
    try:  # checked before any model call: a template error after the answers are paid for loses them
        raw["prompt_template"].format(QUESTION="", ANSWER_A="", ANSWER_B="")
    except (KeyError, IndexError, ValueError) as exc:
        raise HarnessError(f"{path}: field 'prompt_template' has an unknown placeholder ({exc})") from None
    for key, kind in (("temperature", float), ("max_tokens", int)):
        if isinstance(raw[key], bool) or not isinstance(raw[key], int | float) or raw[key] < 0:
            raise HarnessError(f"{path}: field '{key}' must be a non-negative {kind.__name__}")
    return JudgeSetup(raw["prompt_template"], compiled, float(raw["temperature"]), int(raw["max_tokens"]),
                      settings[category]["system_prompt"], settings[category]["baseline"])  # fmt: skip


def _data_file(ctx: EvalContext, relative: str) -> Path:
    local = ctx.data_path("arena_hard_v2_dir")
    if local is not None:
        path = local / relative
        if not path.is_file():
            raise HarnessError(f"{path}: not found (--data-for arena_hard_v2_dir)")
        return path
    from benchmarks.core.hub import hub_file

    try:
        return hub_file(f"{HUB_DIR}/{relative}", repo=HUB_REPO)
    except HarnessError as exc:
        raise HarnessError(f"{exc}; or give --data-for arena_hard_v2_dir=DIR with {relative}") from None


def _load(ctx: EvalContext) -> tuple[JudgeSetup, list[dict[str, Any]], dict[str, str]]:
    opts: ArenaHardV2Params = ctx.params("arena_hard_v2")
    local = ctx.data_path("arena_hard_v2_dir")
    setup = judge_setup(opts.category, local / "config" / "arena-hard-v2.0.yaml" if local else None)
    questions_path = _data_file(ctx, "question.jsonl")
    answers_path = _data_file(ctx, f"model_answer/{setup.baseline}.jsonl")
    questions = []
    for r in read_jsonl(questions_path):
        where = f"{questions_path}:{r.get('__line__', '?')}"
        for key in ("uid", "category", "prompt"):
            if not isinstance(r.get(key), str):
                raise HarnessError(f"{where}: field '{key}' must be a string")
        if r["category"] == opts.category:
            questions.append(r)
    baseline: dict[str, str] = {}
    for r in read_jsonl(answers_path):
        where = f"{answers_path}:{r.get('__line__', '?')}"
        try:
            text = r["messages"][-1]["content"]["answer"]
        except (KeyError, IndexError, TypeError):
            raise HarnessError(f"{where}: field 'messages[-1].content.answer' is missing") from None
        if not isinstance(text, str) or not isinstance(r.get("uid"), str):
            raise HarnessError(f"{where}: fields 'uid' and 'messages[-1].content.answer' must be strings")
        baseline[r["uid"]] = text
    questions = [q for q in questions if q["uid"] in baseline]
    if not questions:
        raise HarnessError(f"{questions_path}: no question of category {opts.category!r} has a baseline answer")
    return setup, questions, baseline


def validate(ctx: EvalContext) -> None:
    opts: ArenaHardV2Params = ctx.params("arena_hard_v2")
    if opts.rounds < 1 or opts.weight < 1:
        raise HarnessError("--option arena_hard_v2.rounds and .weight must be positive")
    _load(ctx)


def _game(setup: JudgeSetup, question: str, answer_a: str, answer_b: str) -> list[dict[str, str]]:
    user = setup.template.format(QUESTION=question, ANSWER_A=answer_a, ANSWER_B=answer_b)
    return [{"role": "system", "content": setup.system_prompt}, {"role": "user", "content": user}]


def run_arena_hard_v2(ctx: EvalContext) -> BenchmarkResult:
    setup, questions, baseline = _load(ctx)
    opts: ArenaHardV2Params = ctx.params("arena_hard_v2")
    questions = questions[: ctx.limit or None]
    answers = generate(ctx.actor(), [Request.user(q["prompt"], temperature=0.0, max_tokens=opts.max_tokens)
                                     for q in questions], ctx.run)  # fmt: skip
    model, judge_name = file_stem(ctx.model_spec), file_stem(ctx.annotator_name)
    convs = []
    for q, a in zip(questions, answers, strict=True):
        convs += [_game(setup, q["prompt"], baseline[q["uid"]], a[0].text),  # game 1: A = baseline
                  _game(setup, q["prompt"], a[0].text, baseline[q["uid"]])]  # game 2: A = the model  # fmt: skip
    reqs = [Request.chat([Message(m["role"], m["content"]) for m in c], temperature=setup.temperature,
                         max_tokens=opts.judge_max_tokens or setup.max_tokens) for c in convs]  # fmt: skip
    outs = generate(ctx.annotator(), reqs, ctx.run)
    games = [{"score": v2.parse_verdict(o[0].text, setup.patterns), "judgment": {"answer": o[0].text}, "prompt": c}
             for c, o in zip(convs, outs, strict=True)]  # fmt: skip
    now = time.time()
    answer_rows = [
        {"uid": q["uid"], "ans_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{q['uid']}").hex, "model": model,
         "messages": [{"role": "user", "content": q["prompt"]}, {"role": "assistant", "content": {"answer": a[0].text}}],
         "tstamp": now}
        for q, a in zip(questions, answers, strict=True)
    ]  # fmt: skip
    judgment_rows = [
        {"uid": q["uid"], "category": q["category"], "judge": judge_name, "model": model, "baseline": setup.baseline,
         "games": games[2 * k : 2 * k + 2]}
        for k, q in enumerate(questions)
    ]  # fmt: skip
    # the scorer of `harness score arena_hard` (v2.0), on exactly the rows written to the peer-format files
    rows = [v2._row(r, f"judgment row {k + 1}") for k, r in enumerate(judgment_rows)]
    extra: dict[str, Any] = {"model": model, "judge": judge_name, "baseline": setup.baseline,
                             "category": opts.category, "seed": opts.bootstrap_seed}  # fmt: skip
    metrics = []
    try:
        scored = v2.score_rows(rows, category=opts.category, seed=opts.bootstrap_seed, rounds=opts.rounds,
                               weight=opts.weight)  # fmt: skip
    except HarnessError as exc:  # every row lacks a verdict: no score; the judgments are kept and counted
        extra["unscored"] = str(exc)
        metrics = [MetricValue("score", None, n=0), MetricValue("point_score", None, n=0),
                   MetricValue("n_dropped", float(len(rows)), n=len(rows))]  # fmt: skip
    else:
        m = scored["models"][model]
        extra["interval_90"] = [m["ci90_low"], m["ci90_high"]]
        metrics = v2.model_rows(m)  # the rows `harness score arena_hard --record` stores of the same files
    samples = [{**r, "answer": a[0].text} for r, a in zip(judgment_rows, answers, strict=True)]
    files = {f"model_answer/{model}.jsonl": answer_rows, f"model_judgment/{judge_name}/{model}.jsonl": judgment_rows}
    return BenchmarkResult("arena_hard_v2", metrics, samples, extra, files=files)


BENCHMARK = declare(
    Benchmark(
        "arena_hard_v2", "2.0", "actor", v2.METRICS, roles=("actor", "annotator"), params=ArenaHardV2Params,
        data_keys=("arena_hard_v2_dir",), run=run_arena_hard_v2, validate=validate, to_rows=v2.to_rows,
    )
)  # fmt: skip
