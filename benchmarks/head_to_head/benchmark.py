"""Head-to-head: model A vs model B on a prompt set with a pairwise judge (Self-Rewarding Fig. 3).

Both models answer every prompt (greedy unless told otherwise, through the store); the judge sees
each pair in both orders and a disagreement between the orders is a tie. Reported: wins, ties and
losses of A as shares of the prompts with a parsed verdict, each with a seeded bootstrap 95% CI over
prompts, plus the number of unparsed verdicts (``n_unparsed``); and the paired difference ``b_minus_a`` = losses - wins of A
(B's net win rate), whose bootstrap resamples each prompt's verdict once for both shares. On task-world
prompts (their answers are known) also each model's accuracy and the paired accuracy difference
``accuracy_b_minus_a`` on the same prompts (``harness.stats.paired_bootstrap``), as ``harness iterate`` reports
the difference between iterations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.core import world as taskworld
from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from harness.files import read_jsonl
from harness.runner import Run, generate
from harness.stats import metric_with_ci, paired_bootstrap
from harness.types import HarnessError, MetricValue, Model, Request
from judges.pairwise import PairwiseJudge


def share(verdicts: list[str], target: str) -> float | None:
    return sum(v == target for v in verdicts) / len(verdicts) if verdicts else None


def head_to_head(
    model_a: Model,
    model_b: Model,
    judge: Model,
    run: Run,
    prompts: list[str],
    *,
    max_tokens: int = 256,
    seed: int = 0,
    n_resamples: int = 1000,
) -> tuple[list[MetricValue], list[dict[str, Any]]]:
    reqs = [Request.user(p, temperature=0.0, max_tokens=max_tokens) for p in prompts]
    outs_a = generate(model_a, reqs, run)
    outs_b = generate(model_b, reqs, run)
    answers = [(p, a[0].text, b[0].text) for p, a, b in zip(prompts, outs_a, outs_b, strict=True)]
    verdicts = PairwiseJudge(judge, run, seed=seed).compare(answers)
    parsed = [v.verdict for v in verdicts if v.verdict is not None]
    metrics = [
        metric_with_ci("wins", parsed, lambda vs: share(vs, "A"), n_resamples=n_resamples, seed=seed),
        metric_with_ci("ties", parsed, lambda vs: share(vs, "tie"), n_resamples=n_resamples, seed=seed),
        metric_with_ci("losses", parsed, lambda vs: share(vs, "B"), n_resamples=n_resamples, seed=seed),
        metric_with_ci("b_minus_a", parsed, lambda vs: share(vs, "B") - share(vs, "A") if vs else None,  # type: ignore[operator]
                       n_resamples=n_resamples, seed=seed),
        MetricValue("n_unparsed", float(len(verdicts) - len(parsed)), n=len(verdicts)),
    ]  # fmt: skip
    known = [(t, a, b) for p, a, b in answers if (t := taskworld.parse_task(p)) is not None]
    if known:
        ca = [float(taskworld.is_correct(t.answer, a)) for t, a, _ in known]
        cb = [float(taskworld.is_correct(t.answer, b)) for t, _, b in known]

        def mean(xs: list[float]) -> float | None:
            return sum(xs) / len(xs) if xs else None

        d = paired_bootstrap(ca, cb, mean, n_resamples=n_resamples, seed=seed)
        metrics += [
            metric_with_ci("accuracy_a", ca, mean, n_resamples=n_resamples, seed=seed),
            metric_with_ci("accuracy_b", cb, mean, n_resamples=n_resamples, seed=seed),
            MetricValue("accuracy_b_minus_a", d.value, d.ci_low, d.ci_high, d.n),
        ]
    samples = [
        {"prompt": p, "output_a": a, "output_b": b, "verdict": v.verdict, "p_ab": v.p_ab, "p_ba": v.p_ba}
        for (p, a, b), v in zip(answers, verdicts, strict=True)
    ]
    return metrics, samples


METRICS = (
    Metric("wins", "share of prompts with a parsed verdict that model A wins (both orders agree)", True,
           headline=True, terminal=True, reference="Self-Rewarding Fig. 3"),
    Metric("ties", "share of prompts with a parsed verdict that are ties (the orders disagree or say tie)", None,
           headline=True),
    Metric("losses", "share of prompts with a parsed verdict that model A loses", False, headline=True),
    Metric("b_minus_a", "losses - wins of A: B's net win rate (paired over prompts)", None),
    Metric("n_unparsed", "prompts whose verdict did not parse in either order (excluded)", False),
    Metric("accuracy_a", "model A's task-world accuracy on the compared prompts", True),
    Metric("accuracy_b", "model B's task-world accuracy on the compared prompts", True),
    Metric("accuracy_b_minus_a", "paired accuracy difference B - A on the same prompts", None),
)  # fmt: skip


@dataclass(frozen=True)
class HeadToHeadParams:
    """Options of head_to_head (``harness compare`` sets them): model B's spec, and the answers' length."""

    model_b: str = ""  # the other model (model A is the actor, --model)
    max_tokens: int = 256
    taskworld_n: int = 300  # held-out task-world prompts when no prompt file is given (without --limit)


def load_prompts(ctx: EvalContext) -> list[str]:
    """``--data-for head_to_head=FILE`` (JSONL of {prompt} or {messages}: the last message's content), else the
    built-in held-out task-world prompts (their own seed); the first ``--limit``."""
    path = ctx.data_path("head_to_head")
    if path is None:
        n = ctx.limit or ctx.params("head_to_head").taskworld_n
        return [t.prompt for t in taskworld.tasks(n, seed=30_000 + ctx.seed, split="eval")]
    prompts = []
    for row in read_jsonl(path):
        msgs = row.get("messages")
        text = msgs[-1].get("content") if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) else None
        text = row.get("prompt", text)
        if not isinstance(text, str) or not text:
            raise HarnessError(f"{path}:{row['__line__']}: field 'prompt' (or 'messages') must hold a non-empty string")
        prompts.append(text)
    return prompts[: ctx.limit] if ctx.limit else prompts


def validate(ctx: EvalContext) -> None:
    if not ctx.params("head_to_head").model_b:
        raise HarnessError("head_to_head: --option head_to_head.model_b=SPEC (model B) is required")
    if ctx.judge_spec is None:
        raise HarnessError("head_to_head: --judge (the pairwise judge) is required")
    load_prompts(ctx)


def run_head_to_head(ctx: EvalContext) -> BenchmarkResult:
    """Model A (the actor) against ``model_b`` on the prompts, judged in both orders by ``--judge``."""
    opts: HeadToHeadParams = ctx.params("head_to_head")
    assert ctx.judge_spec is not None  # validate
    metrics, samples = head_to_head(ctx.actor(), ctx.load(opts.model_b), ctx.load(ctx.judge_spec), ctx.run,
                                    load_prompts(ctx), max_tokens=opts.max_tokens, seed=ctx.seed)  # fmt: skip
    return BenchmarkResult("head_to_head", metrics, samples)


BENCHMARK = declare(Benchmark("head_to_head", "1", "actor", METRICS, roles=("actor", "judge"), params=HeadToHeadParams,
                              data_keys=("head_to_head",), run=run_head_to_head, validate=validate))  # fmt: skip
