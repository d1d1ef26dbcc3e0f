"""`harness eval --benchmarks arena_hard`: the model answers the Arena-Hard questions; the judge compares each
answer with the baseline's in two games (positions swapped), using judge_config.yaml's system prompt, template
and verdict regex; scored by ``benchmarks.arena_hard``. Data: ``--data-for arena_hard_dir=DIR`` holding
``judge_config.yaml``, ``question.jsonl`` and ``model_answer/gpt-4-0314.jsonl`` (arena-hard-auto's layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks import arena_hard
from benchmarks.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from harness.files import read_jsonl, read_text
from harness.runner import generate
from harness.types import HarnessError, Message, MetricValue, Request


@dataclass(frozen=True)
class ArenaHardParams:
    """Options of the arena_hard benchmark (``--option KEY=VALUE``)."""

    max_tokens: int = 4096  # per greedy answer
    judge_max_tokens: int = 4096  # per annotator judgment
    rounds: int = 100  # bootstrap rounds of the score's CI (arena-hard-auto's default)


METRICS = (
    Metric("score", "win rate x 100 against the baseline from the Bradley-Terry fit of both games per question",
           True, headline=True, terminal=True, reference="arena-hard-auto show_result.py (v0.1)"),
    Metric("avg_tokens", "mean completion tokens of the model's answers", None,
           reference="arena-hard-auto show_result.py (v0.1)"),
    Metric("n_unparsed", "games whose verdict did not parse (excluded, never defaulted)", False),
)  # fmt: skip


def _load(ctx: EvalContext) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    root = ctx.data_path("arena_hard_dir")
    if root is None:
        raise HarnessError(
            "arena_hard: give --data-for arena_hard_dir=DIR (judge_config.yaml, question.jsonl, model_answer/)"
        )
    config_path = root / "judge_config.yaml"
    try:
        config = yaml.safe_load(read_text(config_path))
    except yaml.YAMLError as exc:
        raise HarnessError(f"{config_path}: malformed YAML") from exc
    for key in ("system_prompt", "prompt_template", "baseline_model"):
        if key not in (config or {}):
            raise HarnessError(f"{config_path}: missing field '{key}'")
    questions = read_jsonl(root / "question.jsonl")
    base_rows = read_jsonl(Path(root) / "model_answer" / f"{config['baseline_model']}.jsonl")
    baseline = {r["question_id"]: r["choices"][0]["turns"][0]["content"] for r in base_rows}
    return config, questions, baseline


def validate(ctx: EvalContext) -> None:
    _load(ctx)


def run_arena_hard(ctx: EvalContext) -> BenchmarkResult:
    config, questions, baseline = _load(ctx)
    questions = [q for q in questions if q["question_id"] in baseline][: ctx.limit or None]
    actor = ctx.actor()
    opts: ArenaHardParams = ctx.params("arena_hard")
    max_tokens = opts.max_tokens
    answers = generate(actor, [Request.user(q["turns"][0]["content"], temperature=0.0, max_tokens=max_tokens)
                               for q in questions], ctx.run)  # fmt: skip
    template = config["prompt_template"][0]
    reqs = []
    for q, a in zip(questions, answers, strict=True):
        base = baseline[q["question_id"]]
        for first, second in ((base, a[0].text), (a[0].text, base)):  # game 1: baseline is A; game 2 swapped
            user = template.format(question_1=q["turns"][0]["content"], answer_1=first, answer_2=second)
            reqs.append(Request.chat([Message("system", config["system_prompt"]), Message("user", user)],
                                     temperature=0.0, max_tokens=opts.judge_max_tokens))  # fmt: skip
    judge = ctx.annotator()
    outs = generate(judge, reqs, ctx.run)
    rows = []
    for k, q in enumerate(questions):
        games = [
            {"judgment": o[0].text, "score": arena_hard.extract_verdict(o[0].text)} for o in outs[2 * k : 2 * k + 2]
        ]
        rows.append({"question_id": q["question_id"], "model": ctx.model_spec, "games": games})
    battle_list = arena_hard.battles(rows)
    unparsed = sum(g["score"] is None for r in rows for g in r["games"])
    metrics = [MetricValue("n_unparsed", float(unparsed), n=2 * len(rows))]
    tokens = float(np.mean([a[0].completion_tokens for a in answers])) if answers else None
    if battle_list:
        models = [config["baseline_model"], ctx.model_spec]
        n = len(battle_list)
        full = arena_hard.bt_mle(arena_hard.win_counts(models, battle_list, np.arange(n)[None, :]))[0]
        idx = np.random.default_rng(ctx.seed).integers(0, n, size=(opts.rounds, n))
        boot = arena_hard.bt_mle(arena_hard.win_counts(models, battle_list, idx))
        wr = lambda e: float(100 * arena_hard.win_rate_vs_baseline(np.atleast_2d(e))[0, 1])  # noqa: E731
        metrics.insert(0, MetricValue("score", wr(full), wr(np.percentile(boot, 2.5, axis=0)),
                                      wr(np.percentile(boot, 97.5, axis=0)), n=n))  # fmt: skip
    else:
        metrics.insert(0, MetricValue("score", None, n=0))
    metrics.append(MetricValue("avg_tokens", tokens, n=len(answers)))
    samples = [{**r, "answer": a[0].text} for r, a in zip(rows, answers, strict=True)]
    return BenchmarkResult("arena_hard", metrics, samples)


BENCHMARK = declare(
    Benchmark(
        "arena_hard", "0.1", "actor", METRICS, roles=("actor", "annotator"), params=ArenaHardParams,
        data_keys=("arena_hard_dir",),
        run=run_arena_hard, validate=validate,
    )
)  # fmt: skip
