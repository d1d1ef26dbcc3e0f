"""`harness eval --benchmarks alpaca_eval`: the model answers the AlpacaEval instructions; the weighted judge
(alpaca_eval_clf prompt, max_tokens 1, top-5 logprobs, p = 2 - P(m)/(P(m)+P(M))) compares each answer with the
reference output in alpaca_eval's seeded per-instruction order, flipped back; scored by ``benchmarks.alpaca_eval``.

Data: ``--data-for alpaca_eval_reference=FILE`` (the reference ``model_outputs.json``, gpt4_1106_preview for
AlpacaEval 2; without it the hub eval set is loaded); the LC win rate is added with
``--data-for alpaca_eval_gamed=FILE`` (and optionally ``alpaca_eval_difficulty=FILE``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks import alpaca_eval
from benchmarks.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from harness.runner import generate
from harness.types import MetricValue, Request
from judges.pairwise import preference_from_completion
from judges.prompts import load_prompt


@dataclass(frozen=True)
class AlpacaEvalParams:
    """Options of the alpaca_eval benchmark (``--option KEY=VALUE``)."""

    max_tokens: int = 2048  # per greedy answer


_REF = "alpaca_eval/metrics/"
METRICS = (
    Metric("win_rate", "mean preference for the model over the reference output x 100 (weighted judge)", True,
           headline=True, reference=_REF + "winrate.py get_winrate"),
    Metric("standard_error", "standard error of the win rate", None, reference=_REF + "winrate.py get_winrate"),
    Metric("lc_win_rate", "length-controlled win rate x 100 (GLM with the length term zeroed)", True, headline=True,
           terminal=True, reference=_REF + "glm_winrate.py get_length_controlled_winrate"),
    Metric("lc_standard_error", "standard error of the LC win rate", None,
           reference=_REF + "glm_winrate.py get_length_controlled_winrate"),
    Metric("discrete_win_rate", "win rate from preferences rounded to win/draw/loss x 100", True,
           reference=_REF + "winrate.py get_winrate"),
    Metric("avg_length", "mean length of the model's outputs in characters", None,
           reference=_REF + "winrate.py get_winrate"),
    Metric("n_unparsed", "judgments whose preference did not parse (excluded, never defaulted)", False),
)  # fmt: skip


def _reference(ctx: EvalContext) -> list[dict]:
    path = ctx.data_path("alpaca_eval_reference")
    rows = alpaca_eval.load_model_outputs(path) if path else alpaca_eval.load_eval_set()
    return rows[: ctx.limit] if ctx.limit else rows


def validate(ctx: EvalContext) -> None:
    if ctx.data_path("alpaca_eval_reference"):
        _reference(ctx)


def run_alpaca_eval(ctx: EvalContext) -> BenchmarkResult:
    reference = _reference(ctx)
    actor = ctx.actor()
    max_tokens = ctx.params("alpaca_eval").max_tokens
    outs = generate(
        actor, [Request.user(r["instruction"], temperature=0.0, max_tokens=max_tokens) for r in reference], ctx.run
    )
    model_rows = [{"instruction": r["instruction"], "output": o[0].text, "generator": ctx.model_spec}
                  for r, o in zip(reference, outs, strict=True)]  # fmt: skip
    pairs = alpaca_eval.judge_pairs(reference, model_rows, generator_2=ctx.model_spec, seed=ctx.seed)
    template = load_prompt("alpaca_eval_clf")
    todo = [p for p in pairs if not p.identical]
    reqs = [
        Request.chat(
            template.to_messages(instruction=p.instruction, output_1=p.shown[0], output_2=p.shown[1]),
            max_tokens=1,
            temperature=1.0,
            logprobs=5,
            seed=ctx.seed,
        )
        for p in todo
    ]
    judged = generate(ctx.annotator(), reqs, ctx.run)
    shown: dict[int, float | None] = {}
    for p, comps in zip(todo, judged, strict=True):
        shown[id(p)] = preference_from_completion(comps[0])[0]
    prefs = [None if p.identical else shown[id(p)] for p in pairs]
    annotations = alpaca_eval.annotations_from_judgments(pairs, prefs, annotator=ctx.annotator_name)
    result: dict = {**alpaca_eval.win_rate_metrics([a["preference"] for a in annotations])}
    result["avg_length"] = alpaca_eval.avg_length(model_rows)
    gamed = ctx.data_path("alpaca_eval_gamed")
    if gamed is not None:
        lc = alpaca_eval.length_controlled_win_rate(
            annotations, gamed=gamed, difficulty=ctx.data_path("alpaca_eval_difficulty")
        )
        result.update(lc_win_rate=lc.win_rate, lc_standard_error=lc.standard_error)
    metrics = alpaca_eval.metric_values(result)
    for m in metrics:  # no parsed preference at all: undefined, not NaN
        if m.value is not None and math.isnan(m.value):
            m.value = m.ci_low = m.ci_high = None
    unparsed = sum(a["preference"] is None for a in annotations)
    metrics.append(MetricValue("n_unparsed", float(unparsed), n=len(annotations)))
    extra = {"unparsed_judgments": unparsed, "n_draws": result["n_draws"], "n_total": result["n_total"]}
    return BenchmarkResult("alpaca_eval", metrics, annotations, extra)


BENCHMARK = declare(
    Benchmark(
        "alpaca_eval", "2.0", "actor", METRICS, roles=("actor", "annotator"), params=AlpacaEvalParams,
        data_keys=("alpaca_eval_reference", "alpaca_eval_gamed", "alpaca_eval_difficulty"),
        run=run_alpaca_eval, validate=validate,
    )
)  # fmt: skip
