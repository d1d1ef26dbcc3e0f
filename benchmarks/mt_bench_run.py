"""`harness eval --benchmarks mt_bench`: multi-turn answers from the model, single-answer grading by the judge.

Data: ``--data-for mt_bench_dir=DIR`` pointing at FastChat's ``llm_judge/data`` layout (``judge_prompts.jsonl``,
``mt_bench/question.jsonl``, ``mt_bench/reference_answer/gpt-4.jsonl``). The judge is ``--judge`` (default
``openai:gpt-4-1106-preview``... FastChat uses gpt-4; any spec works). Scoring: ``benchmarks.mt_bench``.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import mt_bench
from benchmarks.registry import DEFAULT_JUDGE, BenchmarkResult, EvalContext, benchmark
from harness.runner import generate
from harness.types import HarnessError, Message, MetricValue, Request


def _paths(ctx: EvalContext) -> tuple[Path, Path, Path]:
    root = ctx.data_path("mt_bench_dir")
    if root is None:
        raise HarnessError("mt_bench: give --data-for mt_bench_dir=DIR (FastChat llm_judge/data layout)")
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


@benchmark("mt_bench")
def run_mt_bench(ctx: EvalContext) -> BenchmarkResult:
    prompts_path, questions_path, refs_path = _paths(ctx)
    prompts = mt_bench.load_judge_prompts(prompts_path)
    questions = mt_bench.load_questions(questions_path)[: ctx.limit or None]
    refs = mt_bench.load_reference_answers(refs_path)
    max_tokens = int(ctx.options.get("max_tokens", 1024))
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
    judge = ctx.load(ctx.judge_spec or DEFAULT_JUDGE)
    judge_max = int(ctx.options.get("judge_max_tokens", 2048))
    items, reqs = [], []
    for q in questions:
        for turn in (1, 2):
            msgs = mt_bench.judge_messages(q, answers[q["question_id"]], turn, prompts, refs.get(q["question_id"]))
            name = ("single-math-v1" if q["category"] in mt_bench.NEED_REF_CATS else "single-v1") + (
                "-multi-turn" if turn == 2 else ""
            )
            items.append((q["question_id"], turn, name))
            reqs.append(Request.chat(msgs, temperature=0.0, max_tokens=judge_max))
    outs = generate(judge, reqs, ctx.run)
    df = mt_bench.judgment_rows(ctx.model_spec, ctx.judge_spec or DEFAULT_JUDGE,
                                [(qid, t, n, o[0].text) for (qid, t, n), o in zip(items, outs, strict=True)])  # fmt: skip
    cats = {q["question_id"]: q["category"] for q in questions}
    res = mt_bench.scores(df, cats)[ctx.model_spec]
    metrics = [MetricValue(k, res[k], n=res["n_valid"]) for k in ("turn1", "turn2", "overall", "mean_of_turns")]
    metrics.append(MetricValue("n_failed", float(res["n_failed"]), n=len(df)))
    samples = df.assign(answer=[answers[qid][t - 1] for qid, t in zip(df["question_id"], df["turn"], strict=True)])
    return BenchmarkResult(
        "mt_bench", metrics, samples.to_dict(orient="records"), {"category": res.get("category", {})}
    )
