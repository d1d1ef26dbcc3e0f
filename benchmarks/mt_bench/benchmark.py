"""`harness eval --benchmarks mt_bench`: multi-turn answers from the model, single-answer grading by the judge.

The run writes ``OUT/mt_bench/model_answer/MODEL.jsonl`` and ``OUT/mt_bench/model_judgment/JUDGE_single.jsonl``
in FastChat's format and computes its numbers with the scorer of `harness score mt_bench`
(``benchmarks.mt_bench.scorer.scores``) on exactly those rows.

Data: built in (:data:`BUILTIN_DIR`, FastChat 0e6d3e4b's questions, GPT-4 reference answers and judge prompts;
Apache-2.0, see benchmarks/PROVENANCE.md), or ``--data-for mt_bench_dir=DIR`` in FastChat's
``llm_judge/data`` layout (``judge_prompts.jsonl``, ``mt_bench/question.jsonl``,
``mt_bench/reference_answer/gpt-4.jsonl``). The grader is ``--annotator`` (default
``openai:gpt-4-1106-preview``; FastChat uses gpt-4; any spec works).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from benchmarks.mt_bench import scorer as mt_bench
from harness.runner import generate
from harness.spec import file_stem
from harness.types import Message, Request


@dataclass(frozen=True)
class MtBenchParams:
    """Options of the mt_bench benchmark (``--option KEY=VALUE``)."""

    max_tokens: int = 1024  # per greedy turn
    judge_max_tokens: int = 2048  # per annotator judgment


_SHOW = "FastChat fastchat/llm_judge/show_result.py display_result_single"
METRICS = (
    Metric("turn1", "mean 1-10 rating of first turns (failed ratings excluded)", True, reference=_SHOW),
    Metric("turn2", "mean 1-10 rating of second turns (failed ratings excluded)", True, reference=_SHOW),
    Metric("overall", "mean rating over both turns pooled (95% CI: normal, clustered by question)", True,
           headline=True, terminal=True, reference=_SHOW),
    Metric("mean_of_turns", "mean of the turn-1 and turn-2 means", True),
    Metric("n_unparsed", "judgments whose rating did not parse (-1: excluded, never defaulted)", False),
    Metric("n_out_of_scale", "parsed ratings outside 1-10 (kept in the means, as FastChat)", False),
)  # fmt: skip


BUILTIN_DIR = Path(__file__).resolve().parent / "data"


def _paths(ctx: EvalContext) -> tuple[Path, Path, Path]:
    root = ctx.data_path("mt_bench_dir") or BUILTIN_DIR
    return (
        root / "judge_prompts.jsonl",
        root / "mt_bench" / "question.jsonl",
        root / "mt_bench" / "reference_answer" / "gpt-4.jsonl",
    )


def validate(ctx: EvalContext) -> None:
    prompts, questions, refs = _paths(ctx)
    mt_bench.load_judge_prompts(prompts)
    mt_bench.load_questions(questions)
    mt_bench.load_reference_answers(refs)


def run_mt_bench(ctx: EvalContext) -> BenchmarkResult:
    prompts_path, questions_path, refs_path = _paths(ctx)
    prompts = mt_bench.load_judge_prompts(prompts_path)
    questions = mt_bench.load_questions(questions_path)[: ctx.limit or None]
    refs = mt_bench.load_reference_answers(refs_path)
    opts: MtBenchParams = ctx.params("mt_bench")
    max_tokens = opts.max_tokens
    actor = ctx.actor()
    # turn 1, then turn 2 with the model's own first answer in the history (greedy, as FastChat's default)
    first = generate(
        actor, [Request.user(q["turns"][0], temperature=0.0, max_tokens=max_tokens) for q in questions], ctx.run
    )
    second_reqs = [
        Request.chat(
            [Message("user", q["turns"][0]), Message("assistant", a[0].text), Message("user", q["turns"][1])],
            temperature=0.0,
            max_tokens=max_tokens,
        )
        for q, a in zip(questions, first, strict=True)
    ]
    second = generate(actor, second_reqs, ctx.run)
    answers = {q["question_id"]: [a[0].text, b[0].text] for q, a, b in zip(questions, first, second, strict=True)}
    judge = ctx.annotator()
    judge_max = opts.judge_max_tokens
    items, reqs, user_prompts = [], [], []
    for q in questions:
        for turn in (1, 2):
            msgs = mt_bench.judge_messages(q, answers[q["question_id"]], turn, prompts, refs.get(q["question_id"]))
            items.append((q["question_id"], turn, mt_bench.judge_prompt_name(q["category"], turn)))
            user_prompts.append(msgs[1].content)
            reqs.append(Request.chat(msgs, temperature=0.0, max_tokens=judge_max))
    outs = generate(judge, reqs, ctx.run)
    model, judge_name = file_stem(ctx.model_spec), file_stem(ctx.annotator_name)
    df = mt_bench.judgment_rows(model, judge_name, [(qid, t, n, o[0].text) for (qid, t, n), o in
                                                    zip(items, outs, strict=True)], user_prompts)  # fmt: skip
    now = time.time()
    judgment_rows = [{**r, "tstamp": now} for r in df.to_dict(orient="records")]
    answer_rows = [
        {"question_id": q["question_id"], "answer_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{q['question_id']}").hex,
         "model_id": model, "choices": [{"index": 0, "turns": answers[q["question_id"]]}], "tstamp": now}
        for q in questions
    ]  # fmt: skip
    cats = {q["question_id"]: q["category"] for q in questions}
    # the scorer of `harness score mt_bench`, on exactly the rows written to the peer-format file
    res = mt_bench.scores(judgment_rows, cats)[model]
    metrics = mt_bench.metric_rows(res)
    samples = df.assign(answer=[answers[qid][t - 1] for qid, t in zip(df["question_id"], df["turn"], strict=True)])
    files = {f"model_answer/{model}.jsonl": answer_rows, f"model_judgment/{judge_name}_single.jsonl": judgment_rows}
    return BenchmarkResult("mt_bench", metrics, samples.to_dict(orient="records"),
                           {"category": res.get("category", {}), "model": model, "judge": judge_name},
                           files=files)  # fmt: skip


BENCHMARK = declare(
    Benchmark(
        "mt_bench", "0.1", "actor", METRICS, roles=("actor", "annotator"), params=MtBenchParams,
        data_keys=("mt_bench_dir",), run=run_mt_bench, to_rows=mt_bench.to_rows,
        validate=validate,
    )
)  # fmt: skip
