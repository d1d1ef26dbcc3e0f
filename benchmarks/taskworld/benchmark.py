"""The taskworld benchmark: actor accuracy on the held-out partition of the embedded task world
(:mod:`benchmarks.core.world`), greedy, and its paired statistics (``M_t - M_t-1`` on the same prompts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from benchmarks.core.world import accuracy, is_correct, tasks
from harness.runner import generate
from harness.stats import metric_with_ci
from harness.types import Request


@dataclass(frozen=True)
class TaskworldParams:
    """Options of the taskworld benchmark (``--option KEY=VALUE``)."""

    taskworld_n: int = 300  # held-out prompts (without --limit)
    max_tokens: int = 32  # per greedy answer
    n_resamples: int = 1000  # bootstrap rounds of the CIs


METRICS = (
    Metric("accuracy", "share of held-out prompts whose final answer is correct (greedy)", True, headline=True,
           terminal=True),
    Metric("avg_length", "mean answer length in characters", None, headline=True),
)  # fmt: skip


def run_taskworld(ctx: EvalContext) -> BenchmarkResult:
    """Actor accuracy on the held-out task-world partition (its own seed, disjoint from training prompts), greedy."""
    opts: TaskworldParams = ctx.params("taskworld")
    n = ctx.limit or opts.taskworld_n
    items = tasks(n, seed=10_000 + ctx.seed, split="eval")
    reqs = [Request.user(t.prompt, temperature=0.0, max_tokens=opts.max_tokens) for t in items]
    actor = ctx.actor()  # load before the progress bar: a load error stays one line
    with ctx.progress("taskworld: generate", len(reqs)) as advance:
        outs = generate(actor, reqs, ctx.run, on_progress=advance)
    pairs = [(t.answer, o[0].text) for t, o in zip(items, outs, strict=True)]
    lengths = [len(o[0].text) for o in outs]
    metrics = [
        metric_with_ci("accuracy", pairs, accuracy, seed=ctx.seed, n_resamples=opts.n_resamples),
        metric_with_ci(
            "avg_length",
            lengths,
            lambda xs: sum(xs) / len(xs) if xs else None,
            seed=ctx.seed,
            n_resamples=opts.n_resamples,
        ),
    ]
    samples = [
        {
            "item": t.prompt,
            "kind": t.kind,
            "prompt": t.prompt,
            "reference": t.answer,
            "output": o[0].text,
            "correct": is_correct(t.answer, o[0].text),
        }
        for t, o in zip(items, outs, strict=True)
    ]
    units = {t.prompt: {"correct": is_correct(t.answer, o[0].text), "length": len(o[0].text)}
             for t, o in zip(items, outs, strict=True)}  # fmt: skip
    return BenchmarkResult("taskworld", metrics, samples, units=units)


def _mean_of(key: str) -> Callable[[list[Any]], float | None]:
    return lambda units: sum(float(u[key]) for u in units) / len(units) if units else None


def paired_statistics(units: list[Any]) -> tuple[Callable[[Any], Any], dict[str, Callable[[list[Any]], float | None]]]:
    """Per held-out prompt, whether it was answered correctly and the answer's length: accuracy and avg_length."""
    return (lambda u: u), {"accuracy": _mean_of("correct"), "avg_length": _mean_of("length")}


BENCHMARK = declare(Benchmark("taskworld", "2", "actor", METRICS, roles=("actor",), params=TaskworldParams,
                              run=run_taskworld, paired=paired_statistics))  # fmt: skip
