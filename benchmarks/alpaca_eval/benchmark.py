"""`harness eval --benchmarks alpaca_eval`: the model answers the AlpacaEval instructions; the weighted judge
(alpaca_eval's ``weighted_alpaca_eval_gpt4_turbo``: the alpaca_eval_clf prompt, max_tokens 1, top-5 logprobs,
p = 2 - P(m)/(P(m)+P(M))) compares each answer with the reference output in alpaca_eval's seeded
per-instruction order, flipped back. Each judge request carries its own seed (derived from --seed and the
instruction, so it does not change with --limit).

The run writes ``OUT/alpaca_eval/model_outputs.json`` and ``OUT/alpaca_eval/annotations.json`` in alpaca_eval's
format and computes its numbers with the scorer of `harness score alpaca_eval` (``benchmarks.alpaca_eval.scorer``)
on exactly those rows, so re-scoring the files gives the same numbers.

Data: ``--data-for alpaca_eval_reference=FILE`` (the reference ``model_outputs.json``, gpt4_1106_preview for
AlpacaEval 2; without it the hub eval set is loaded). The LC win rate is computed by default
(``--option alpaca_eval.lc=auto``) from ``--data-for alpaca_eval_gamed=FILE`` (and optionally
``alpaca_eval_difficulty=FILE``) or else the hub's ``df_gamed.csv``; when that cannot be had, the win rate is
still computed and one line says LC is unavailable. ``lc=on`` makes a missing input an error before any model
call; ``lc=off`` skips LC.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmarks.alpaca_eval import scorer as alpaca_eval
from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from harness.runner import generate
from harness.spec import shown
from harness.types import HarnessError, Request
from judges.pairwise import preference_from_completion
from judges.prompts import load_prompt


@dataclass(frozen=True)
class AlpacaEvalParams:
    """Options of the alpaca_eval benchmark (``--option KEY=VALUE``)."""

    max_tokens: int = 2048  # per greedy answer
    lc: str = "auto"  # length-controlled win rate: auto (when df_gamed.csv can be had), on (required), off


LC_MODES = ("auto", "on", "off")


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
    try:
        rows = alpaca_eval.load_model_outputs(path) if path else alpaca_eval.load_eval_set()
    except HarnessError as exc:
        if path:
            raise
        raise HarnessError(f"alpaca_eval: {exc} (--data-for alpaca_eval_reference=FILE)") from None
    return rows[: ctx.limit] if ctx.limit else rows


def _lc_inputs(ctx: EvalContext) -> tuple[pd.DataFrame | None, pd.Series | None, str | None]:
    """(df_gamed, difficulty or None, why LC is unavailable or None); raises when lc=on and an input is missing."""
    mode = ctx.params("alpaca_eval").lc
    if mode not in LC_MODES:
        raise HarnessError(f"--option alpaca_eval.lc={mode!r}: expected one of {', '.join(LC_MODES)}")
    gamed_path, diff_path = ctx.data_path("alpaca_eval_gamed"), ctx.data_path("alpaca_eval_difficulty")
    if mode == "off":
        if gamed_path or diff_path:
            raise HarnessError("alpaca_eval: --data-for alpaca_eval_gamed/difficulty given with lc=off")
        return None, None, None
    difficulty = alpaca_eval.load_instruction_difficulty(diff_path) if diff_path else None
    try:
        gamed = alpaca_eval.load_gamed(gamed_path)
    except HarnessError as exc:
        if gamed_path is not None or mode == "on":
            raise HarnessError(
                f"alpaca_eval: the LC win rate needs df_gamed.csv: {exc} (--data-for alpaca_eval_gamed=FILE, "
                "or --option alpaca_eval.lc=off)"
            ) from None
        return None, None, str(exc)
    return gamed, difficulty, None


def validate(ctx: EvalContext) -> None:
    _reference(ctx)
    mode = ctx.params("alpaca_eval").lc
    if mode == "on" or ctx.data_path("alpaca_eval_gamed") or mode not in LC_MODES:
        _lc_inputs(ctx)


def request_seed(seed: int, instruction: str) -> int:
    """The judge request's own seed: a hash of (--seed, instruction), in [0, 2**31)."""
    digest = hashlib.sha256(f"{seed}\x00{instruction}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def run_alpaca_eval(ctx: EvalContext) -> BenchmarkResult:
    reference = _reference(ctx)
    gamed, difficulty, lc_missing = _lc_inputs(ctx)
    actor = ctx.actor()
    max_tokens = ctx.params("alpaca_eval").max_tokens
    outs = generate(
        actor, [Request.user(r["instruction"], temperature=0.0, max_tokens=max_tokens) for r in reference], ctx.run
    )
    generator = shown(ctx.model_spec)
    model_rows = [{"instruction": r["instruction"], "output": o[0].text, "generator": generator}
                  for r, o in zip(reference, outs, strict=True)]  # fmt: skip
    pairs = alpaca_eval.judge_pairs(reference, model_rows, generator_2=generator, seed=ctx.seed)
    template = load_prompt("alpaca_eval_clf")
    todo = [p for p in pairs if not p.identical]
    reqs = [
        Request.chat(
            template.to_messages(instruction=p.instruction, output_1=p.shown[0], output_2=p.shown[1]),
            max_tokens=1,
            temperature=1.0,
            logprobs=5,
            seed=request_seed(ctx.seed, p.instruction),
        )
        for p in todo
    ]
    judged = generate(ctx.annotator(), reqs, ctx.run)
    shown_pref: dict[int, float | None] = {}
    for p, comps in zip(todo, judged, strict=True):
        shown_pref[id(p)] = preference_from_completion(comps[0])[0]
    prefs = [None if p.identical else shown_pref[id(p)] for p in pairs]
    annotations = alpaca_eval.annotations_from_judgments(pairs, prefs, annotator=shown(ctx.annotator_name))
    # the scorer of `harness score alpaca_eval`, on exactly the rows written to the peer-format files
    result = alpaca_eval.score_annotations(annotations, model_rows)
    if gamed is not None:
        try:
            result = alpaca_eval.score_annotations(annotations, model_rows, gamed=gamed, difficulty=difficulty)
        except HarnessError as exc:  # e.g. the length differences do not vary: the win rate still stands
            if ctx.params("alpaca_eval").lc == "on" or ctx.data_path("alpaca_eval_gamed") is not None:
                raise  # LC was asked for (lc=on, or its input given): a failure is an error, not a footnote
            lc_missing = str(exc)
    if lc_missing is not None:
        print(f"alpaca_eval: LC win rate unavailable: {lc_missing}", file=sys.stderr)
    metrics = alpaca_eval.metric_values(result)  # the rows `harness score alpaca_eval --record` stores
    unparsed = int(result["n_unparsed"])
    extra: dict[str, Any] = {"unparsed_judgments": unparsed, "n_draws": result["n_draws"],
                             "n_total": result["n_total"]}  # fmt: skip
    if lc_missing is not None:
        extra["lc_unavailable"] = lc_missing
    files = {"model_outputs.json": model_rows, "annotations.json": annotations}
    return BenchmarkResult("alpaca_eval", metrics, annotations, extra, files=files)


BENCHMARK = declare(
    Benchmark(
        "alpaca_eval", "2.0", "actor", METRICS, roles=("actor", "annotator"), params=AlpacaEvalParams,
        data_keys=("alpaca_eval_reference", "alpaca_eval_gamed", "alpaca_eval_difficulty"),
        run=run_alpaca_eval, validate=validate, to_rows=alpaca_eval.to_rows,
    )
)  # fmt: skip
