"""The judge-quality benchmark: `harness eval --benchmarks judge`.

The judge (``--judge``, else the model itself: the self-rewarding setting) scores every response
of human-ranked prompts with the pointwise prompt (N judgments each, mean of the valid ones);
the scores are compared with the human ranks (``benchmarks.judge.metrics``). With
``--reference-judge`` it also measures agreement with that judge on reference-chosen and
self-chosen pairs (Meta-Rewarding Sec. 3.4).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from benchmarks.core import world as taskworld
from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from benchmarks.judge import metrics as judge_metrics
from benchmarks.judge.data import RankedPrompt, load_ranked
from harness.spec import shown
from harness.stats import metric_with_ci
from harness.types import HarnessError, MetricValue, Model
from judges.ensemble import METHODS, ensemble_scores, majority_verdict
from judges.pairwise import PairwiseJudge
from judges.pointwise import SCORE_MODES, PointwiseJudge, PointwiseScore

BUILTIN = "builtin:taskworld"
_JM = "benchmarks/judge/metrics.py"


@dataclass(frozen=True)
class JudgeParams:
    """Options of the judge benchmark (``--option KEY=VALUE``)."""

    judge_prompt: str = "pointwise_additive"  # a template of judges/prompts/
    judge_n: int = 1  # judgments per response (their valid scores are averaged)
    judge_temperature: float = 0.7
    judge_max_tokens: int = 256
    judge_score: str = "sampled"  # or expected: the expectation over the score token's distribution (logprobs)
    n_resamples: int = 1000  # bootstrap rounds of the CIs
    taskworld_n: int = 300  # prompts of the built-in held-out data (without --limit)
    pairwise: bool = False  # also judge each prompt's human best-vs-worst pair in both orders (order consistency)
    ensemble: str = "mean"  # with several --judge: how their scores combine (judges.ensemble.METHODS)


METRICS = (
    # the 80-column table shows the agreement with ties counted (and its change), without ties and the tie rate
    # side by side, so that a judge that only ties more never reads as better there either (issue 34)
    Metric("pairwise_accuracy", "share of human-ordered response pairs the judge orders the same way (a judge tie "
           "is wrong)", True, headline=True, terminal=True, reference="Self-Rewarding Table 4 (pairwise accuracy)"),
    Metric("pairwise_accuracy_ties_half", "pairwise accuracy with a judge tie counted 0.5", True),
    Metric("pairwise_accuracy_ties_excluded", "pairwise accuracy over the pairs the judge does not tie", True,
           headline=True, terminal=True),
    # headline beside the agreement: a judge that only ties more must not read as better (issue 34)
    Metric("judge_tie_rate", "share of human-ordered pairs the judge scores equally", None, headline=True,
           terminal=True),
    Metric("five_best", "share of responses scored 5 that humans rank best", True,
           reference="Self-Rewarding Table 4 (5-best)"),
    Metric("exact_match", "share of prompts whose score order equals the human ranking exactly", True,
           reference="Self-Rewarding Table 4 (exact match)"),
    Metric("spearman", "mean per-prompt Spearman correlation of scores with human ranks", True, headline=True,
           reference="Self-Rewarding Table 4; scipy.stats.spearmanr"),
    Metric("kendall", "mean per-prompt Kendall tau-b of scores with human ranks", True, headline=True,
           reference="Self-Rewarding Table 4; scipy.stats.kendalltau"),
    Metric("spearman_pooled", "Spearman correlation over all responses pooled", True),
    Metric("kendall_pooled", "Kendall tau-b over all responses pooled", True),
    Metric("parse_rate", "share of responses with at least one parsed judgment", True, terminal=True),
    Metric("mean_score", "mean parsed score (0-5)", None, headline=True),
    Metric("judgment_parse_rate", "share of individual judgments whose score parsed", True, headline=True),
    *(Metric(f"score_frac_{k}", f"share of parsed judgment scores nearest to {k} (halves up)", None) for k in range(6)),
    Metric("length_bias", "over response pairs the judge orders, share where the longer response wins (0.5: none)",
           None),
    Metric("unscored_judgments", "judgments whose score did not parse: unscored (left out of every metric), "
           "never a tie or a loss", None),
    Metric("best_of_k", "per prompt, 1 if the human-best response scores strictly highest, 1/k if tied at the top "
           "with k responses, else 0; unscored responses left out, a prompt whose best is unscored left out", True,
           reference="RewardBench 2 (best-of-4 accuracy, ties 1/k)"),
    Metric("prefer_lists", "over response pairs the judge orders where exactly one has a markdown list line, share "
           "where the list one wins (0.5: none)", None),
    Metric("score_variance", "mean over responses with >= 2 scored judgments of their population variance "
           "(judge_n >= 2; an ensemble: all members' judgments pooled)", None, reference="Meta-Rewarding Sec. 2.2 (score variance of N judgments)"),
    Metric("order_flip_rate", "with pairwise=true: share of human best-vs-worst pairs whose verdict changes when "
           "the order is swapped (an unscored order: pair left out)", False, reference="JudgeBench (consistency)"),
    Metric("consistent_accuracy", "with pairwise=true: share of best-vs-worst pairs both orders decide for the "
           "human-better response (a flip is wrong)", True, reference="JudgeBench"),
    Metric("first_position_rate", "with pairwise=true: share of decisive scored orders won by the response shown "
           "first (0.5: none)", None, reference="FastChat #3252; Meta-Rewarding Table 5"),
    Metric("cost_per_1k", "USD per 1000 judged responses (all N samples of a response; every member of an "
           "ensemble): prompt tokens x input price + completion tokens x output price, at the backend's price table (openai_backend.PRICES, spec options price_in / "
           "price_out, USD per 1M tokens); 0 for local models; null (unknown) when a judge's price is not known", False,
           reference="alpaca_eval evaluators' leaderboard (Price [$/1000 examples])"),
    Metric("krippendorff_alpha", "with several --judge: Krippendorff's alpha (ordinal) between the judges' response "
           "scores (unscored = missing), CI over prompts", True,
           reference="inspect_ai (multi-grader agreement); krippendorff package (Castro 2017)"),
    Metric("n_judges", "with several --judge: the number of judges in the ensemble", None),
    Metric("agreement", "agreement with the reference judge on human best-vs-worst pairs (judge tie = 0.5)", True,
           headline=True, reference="Meta-Rewarding Sec. 3.4"),
    Metric("agreement_without_ties", "agreement with the reference judge, pairs the judge ties dropped", True),
    Metric("self_chosen_agreement", "reference judge's agreement with the judge's own best-vs-worst choice (a "
           "reference tie, its two orders disagreeing, counts 0.5)", True,
           reference="Meta-Rewarding Sec. 3.4"),
    Metric("self_chosen_agreement_without_ties", "self-chosen agreement, reference ties dropped", True),
    Metric("reference_position_bias", "share of reference-judge orders won by the first-shown output", None),
)  # fmt: skip


def load_prompts(ctx: EvalContext) -> list[RankedPrompt]:
    source = ctx.data.get("judge") or BUILTIN
    if source == BUILTIN:
        # the held-out partition: never a training, EFT or self-instruction prompt
        n = ctx.limit or ctx.params("judge").taskworld_n
        rows = taskworld.ranked_rows(n, seed=20_000 + ctx.seed, split="eval")
        prompts = [
            RankedPrompt(str(r["id"]), str(r["prompt"]), list(r["responses"]), list(r["ranks"]))  # type: ignore[call-overload]
            for r in rows
        ]
    else:
        prompts = load_ranked(source)
    return prompts[: ctx.limit] if ctx.limit else prompts


def validate(ctx: EvalContext) -> None:
    """Checked before a run starts: the data file parses and the judge prompt has its placeholders."""
    load_prompts(ctx)
    from judges.prompts import load_prompt

    load_prompt(ctx.params("judge").judge_prompt)
    method = ctx.params("judge").ensemble
    if method not in METHODS:
        raise HarnessError(f"--option judge.ensemble must be one of {', '.join(METHODS)}, got {method!r}")
    mode = ctx.params("judge").judge_score
    if mode not in SCORE_MODES:
        raise HarnessError(f"--option judge.judge_score must be one of {', '.join(SCORE_MODES)}, got {mode!r}")


def judge_metric_rows(
    prompts: Sequence[RankedPrompt],
    scored: Sequence[PointwiseScore],
    *,
    seed: int,
    n_resamples: int,
    prices: Sequence[tuple[float, float] | None] | None = None,
) -> tuple[list[MetricValue], list[list[float | None]]]:
    """Every pointwise metric of one judge (or ensemble) from its scores of the prompts' responses, in order.

    Args:
        prompts: the human-ranked prompts.
        scored: one score per response, the responses of ``prompts`` flattened in order.
        seed, n_resamples: the bootstrap of the CIs.
        prices: (USD per 1M prompt tokens, per 1M completion tokens) of each judge whose tokens ``scored``
            carries (one pair; an ensemble's members in order; a pair None: that judge's price is unknown, so the
            cost is null); None: cost not reported.
    Returns:
        The metric rows and the per-prompt response scores (None = unscored).
    """
    per_prompt: list[list[float | None]] = []
    k = 0
    for p in prompts:
        per_prompt.append([s.mean for s in scored[k : k + len(p.responses)]])
        k += len(p.responses)
    judged = judge_metrics.judged_prompts([p.ranks for p in prompts], per_prompt, [p.prompt_id for p in prompts])
    metrics = judge_metrics.judge_quality_report(judged, seed=seed, n_resamples=n_resamples)
    all_scores = [s for res in scored for s in res.scores]
    n_parsed = sum(s is not None for s in all_scores)
    # per individual judgment (the report's parse_rate is per response: at least one judgment parsed)
    rate = n_parsed / len(all_scores) if all_scores else None
    metrics.append(MetricValue("judgment_parse_rate", rate, n=len(all_scores)))
    hist = judge_metrics.score_buckets([s for s in all_scores if s is not None])  # the parser bounds them to 0..5
    for bucket in range(6):
        frac = hist.counts[bucket] / n_parsed if n_parsed else None
        metrics.append(MetricValue(f"score_frac_{bucket}", frac, n=n_parsed))
    # length bias of the pointwise judge: over response pairs of a prompt, how often the higher score goes
    # to the longer response (prefer-longer rate)
    pairs_len = [
        (judge_metrics.verdict_from_scores(sc[i], sc[k]), len(p.responses[i]), len(p.responses[k]))
        for p, sc in zip(prompts, per_prompt, strict=True)
        for i in range(len(sc))
        for k in range(i + 1, len(sc))
    ]
    lb = judge_metrics.length_bias(pairs_len)
    metrics.append(MetricValue("length_bias", lb.value, n=lb.n))
    metrics += diagnostics(prompts, per_prompt, scored, seed=seed, n_resamples=n_resamples)
    n_judg = len(all_scores)
    metrics.append(MetricValue("unscored_judgments", float(n_judg - n_parsed), n=n_judg))
    if prices is not None and any(p is None for p in prices):  # a judge's price is unknown: so is the cost
        metrics.append(MetricValue("cost_per_1k", None, n=len(scored)))
    elif prices is not None:  # per judged response (alpaca_eval's "per 1000 examples"): an ensemble pays every member
        known = [p for p in prices if p is not None]
        units = [_cost(s, known) for s in scored]
        metrics.append(metric_with_ci("cost_per_1k", units, lambda us: _per_1k(us), seed=seed,
                                      n_resamples=n_resamples))  # fmt: skip
    return metrics, per_prompt


def _cost(score: PointwiseScore, prices: Sequence[tuple[float, float]]) -> float:
    """USD of one response's judgments: an ensemble's members each at their own judge's prices."""
    own = getattr(score, "members", None) or [score]
    return sum((m.prompt_tokens * p_in + m.completion_tokens * p_out) / 1e6
               for m, (p_in, p_out) in zip(own, prices, strict=True))  # fmt: skip


def _per_1k(units: Sequence[float]) -> float | None:
    return sum(units) / len(units) * 1000 if units else None


def model_prices(model: Any) -> tuple[float, float] | None:
    """A judge's USD per 1M (prompt, completion) tokens: the OpenAI-compatible backend's table
    (``harness.backends.openai_backend.PRICES``, overridden by the spec's ``price_in`` / ``price_out``), None when
    that backend knows no price (unknown, never $0); 0 for a local model (hf, vllm), which costs no money per token."""
    if not hasattr(model, "prices"):
        return (0.0, 0.0)
    prices = model.prices
    return None if prices is None else (float(prices[0]), float(prices[1]))


def run_judge_benchmark(ctx: EvalContext) -> BenchmarkResult:
    prompts = load_prompts(ctx)
    opts: JudgeParams = ctx.params("judge")
    specs = list(ctx.judge_specs) or [ctx.judge_spec or ctx.model_spec]
    members = [
        PointwiseJudge(
            ctx.load(spec), ctx.run, prompt=opts.judge_prompt, n=opts.judge_n, temperature=opts.judge_temperature,
            max_tokens=opts.judge_max_tokens, seed=ctx.seed, score_mode=opts.judge_score,
        )
        for spec in specs
    ]  # fmt: skip
    prices = [model_prices(j.model) for j in members]
    items = [(p.prompt, r) for p in prompts for r in p.responses]
    member_scores: list[list[PointwiseScore]] = []
    seconds: list[float] = []
    with ctx.progress("judge: pointwise judgments", len(items) * len(members)) as advance:
        for judge in members:
            start = time.perf_counter()
            member_scores.append(judge.score(items, on_progress=advance))
            seconds.append(time.perf_counter() - start)
    ensemble = len(members) > 1
    scored: list[PointwiseScore] = list(ensemble_scores(member_scores, opts.ensemble)) if ensemble else member_scores[0]
    metrics, per_prompt = judge_metric_rows(prompts, scored, seed=ctx.seed, n_resamples=opts.n_resamples,
                                            prices=prices)  # fmt: skip
    if opts.pairwise:
        metrics += order_metrics(ctx, [j.model for j in members], prompts, seed=ctx.seed,
                                 n_resamples=opts.n_resamples)  # fmt: skip
    extra: dict[str, Any] = {"parse_failures": sum(s.n_failed for s in scored),
                             "judge": ensemble_label(specs, opts.ensemble) if ensemble else shown(specs[0]),
                             # wall time, not a result row: it differs run to run (and is ~0 for cached calls)
                             "seconds_per_1k": sum(seconds) / len(items) * 1000 if items else None}  # fmt: skip
    if ensemble:
        metrics.append(agreement_between(prompts, member_scores, seed=ctx.seed, n_resamples=opts.n_resamples))
        metrics.append(MetricValue("n_judges", float(len(members)), n=len(members)))
    if ctx.reference_judge_spec:
        metrics += reference_agreement(ctx, prompts, per_prompt)
    if ensemble:  # last: the ensemble's row holds every metric above (the store records only these rows)
        extra["evaluators"] = evaluator_rows(ctx, specs, members, member_scores, seconds, prompts, opts)
        extra["evaluators"].append({"judge": extra["judge"], "metrics": [m.to_row() for m in metrics],
                                    "seconds_per_1k": extra["seconds_per_1k"]})  # fmt: skip
    samples = []
    k = 0
    for p in prompts:
        for resp, rank in zip(p.responses, p.ranks, strict=True):
            res = scored[k]
            k += 1
            sample = {
                "prompt_id": p.prompt_id, "human_rank": rank, "response": resp, "score": res.mean,
                "judgments": res.judgments, "scores": res.scores, "parsed": [s is not None for s in res.scores],
            }  # fmt: skip
            if ensemble:
                sample["judge_scores"] = [m[k - 1].mean for m in member_scores]
            samples.append(sample)
    units = {p.prompt_id: {"ranks": list(p.ranks), "scores": sc} for p, sc in zip(prompts, per_prompt, strict=True)}
    return BenchmarkResult("judge", metrics, samples, extra, units=units)


def ensemble_label(specs: Sequence[str], method: str) -> str:
    """How an ensemble is named in tables and the store (specs as :func:`harness.spec.shown` prints them)."""
    return f"ensemble({method}: {' + '.join(shown(s) for s in specs)})"


def agreement_between(
    prompts: Sequence[RankedPrompt],
    member_scores: Sequence[Sequence[PointwiseScore]],
    *,
    seed: int,
    n_resamples: int,
) -> MetricValue:
    """Krippendorff's alpha (ordinal) between the judges over the responses (``judge_metrics``), with a
    bootstrap CI over prompts; n = responses scored by at least 2 judges."""
    spans, k = [], 0
    for p in prompts:
        spans.append([[m[i].mean for m in member_scores] for i in range(k, k + len(p.responses))])
        k += len(p.responses)

    def alpha(units: list[list[list[float | None]]]) -> float | None:
        rows = [r for u in units for r in u]
        return judge_metrics.krippendorff_alpha_ordinal([[r[j] for r in rows] for j in range(len(member_scores))])

    mv = metric_with_ci("krippendorff_alpha", spans, alpha, seed=seed, n_resamples=n_resamples)
    pairable = sum(sum(s is not None for s in r) >= 2 for u in spans for r in u)
    return replace(mv, n=pairable)


def evaluator_rows(
    ctx: EvalContext,
    specs: Sequence[str],
    members: Sequence[PointwiseJudge],
    member_scores: Sequence[Sequence[PointwiseScore]],
    seconds: Sequence[float],
    prompts: Sequence[RankedPrompt],
    opts: JudgeParams,
) -> list[dict[str, Any]]:
    """One row per member judge (alpaca_eval's evaluator table): its own metrics, as if it were judged alone."""
    out = []
    for spec, judge, scores, secs in zip(specs, members, member_scores, seconds, strict=True):
        rows, _ = judge_metric_rows(prompts, scores, seed=ctx.seed, n_resamples=opts.n_resamples,
                                    prices=[model_prices(judge.model)])  # fmt: skip
        if opts.pairwise:
            rows += order_metrics(ctx, [judge.model], prompts, seed=ctx.seed, n_resamples=opts.n_resamples)
        out.append({"judge": shown(spec), "metrics": [m.to_row() for m in rows],
                    "seconds_per_1k": secs / len(scores) * 1000 if scores else None})  # fmt: skip
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return float(sum(xs) / len(xs)) if xs else None


def _pooled(units: Sequence[tuple[int, int]]) -> float | None:
    n = sum(u[1] for u in units)
    return sum(u[0] for u in units) / n if n else None


def diagnostics(
    prompts: Sequence[RankedPrompt],
    per_prompt: Sequence[Sequence[float | None]],
    scored: Sequence[PointwiseScore],
    *,
    seed: int,
    n_resamples: int,
) -> list[MetricValue]:
    """best_of_k, prefer_lists and score_variance (definitions in ``judge_metrics``), CIs over prompts."""
    judged = judge_metrics.judged_prompts([p.ranks for p in prompts], per_prompt, [p.prompt_id for p in prompts])
    bok = [v for v in map(judge_metrics.best_of_k_prompt, judged) if v is not None]
    lists = []
    for p, sc in zip(prompts, per_prompt, strict=True):
        marks = [judge_metrics.has_list(r) for r in p.responses]
        items = [(judge_metrics.verdict_from_scores(sc[i], sc[j]), marks[i], marks[j])
                 for i in range(len(sc)) for j in range(i + 1, len(sc))]  # fmt: skip
        counts = judge_metrics.prefer_lists_counts(items)
        if counts[1]:
            lists.append(counts)
    k, var_units = 0, []
    for p in prompts:
        v = judge_metrics.score_variances([s.scores for s in scored[k : k + len(p.responses)]])
        k += len(p.responses)
        if v:
            var_units.append(v)
    out = [
        metric_with_ci("best_of_k", bok, _mean, seed=seed, n_resamples=n_resamples),
        replace(metric_with_ci("prefer_lists", lists, _pooled, seed=seed, n_resamples=n_resamples),
                n=sum(n for _, n in lists)),
        replace(metric_with_ci("score_variance", var_units, lambda us: _mean([x for u in us for x in u]),
                               seed=seed, n_resamples=n_resamples), n=sum(len(u) for u in var_units)),
    ]  # fmt: skip
    return out


def order_metrics(
    ctx: EvalContext, models: Sequence[Model], prompts: Sequence[RankedPrompt], *, seed: int, n_resamples: int
) -> list[MetricValue]:
    """The judge under test as a pairwise judge (``PairwiseJudge``) on each prompt's human best-vs-worst pair in
    both orders: order_flip_rate, consistent_accuracy, first_position_rate (``judge_metrics.order_consistency``).
    With several models (an ensemble) each order's verdict is the majority of the members' verdicts
    (:func:`majority_verdict`)."""
    items = []
    for p in prompts:
        best, worst = p.ranks.index(min(p.ranks)), p.ranks.index(max(p.ranks))
        if p.ranks[best] != p.ranks[worst]:
            items.append((p.prompt, p.responses[best], p.responses[worst]))
    per_model = []
    with ctx.progress("judge: pairwise, both orders", len(items) * len(models)) as advance:
        for model in models:
            per_model.append(PairwiseJudge(model, ctx.run, seed=seed).compare(items))
            advance(len(items))
    units = [
        ((cast(judge_metrics.Verdict, majority_verdict([_frame(v[i].p_ab) for v in per_model])),
          cast(judge_metrics.Verdict, majority_verdict([_frame(v[i].p_ba) for v in per_model]))),)
        for i in range(len(items))
    ]  # fmt: skip
    stat = judge_metrics.order_consistency

    def one(name: str, get: Callable[[judge_metrics.OrderConsistency], float | None]) -> MetricValue:
        full = stat([u[0] for u in units])
        mv = metric_with_ci(name, units, lambda us: get(stat([u[0] for u in us])), seed=seed, n_resamples=n_resamples)
        return replace(mv, n=full.n_orders if name == "first_position_rate" else full.n_pairs)

    return [one("order_flip_rate", lambda o: o.flip_rate), one("consistent_accuracy", lambda o: o.consistent_accuracy),
            one("first_position_rate", lambda o: o.first_position_rate)]  # fmt: skip


def _frame(p: float | None) -> judge_metrics.Verdict:
    """A per-order preference (1 = A better, 2 = B better, already in the (a, b) frame) as a verdict."""
    return None if p is None else "A" if p < 1.5 else "B" if p > 1.5 else "tie"


def _self_verdict(a: float | None, b: float | None) -> str | None:
    if a is None or b is None:
        return None
    return "A" if a > b else "B" if b > a else "tie"


def reference_agreement(
    ctx: EvalContext, prompts: list[RankedPrompt], per_prompt: list[list[float | None]]
) -> list[MetricValue]:
    """Agreement with a reference judge (Meta-Rewarding Sec. 3.4) on two pair sets:

    - reference-chosen: the human best and worst response of each prompt, judged by the reference in both
      orders; pairs where its two orders disagree are dropped; the judge's verdict comes from its scores;
    - self-chosen: the judge's own highest- and lowest-scored response of each prompt, judged by the reference.
    Agreement counts a judge tie as 0.5; "without ties" drops the pairs the judge tied (Meta-Rewarding 3.4,
    ``judge_metrics.agreement``). The reference judges every pair in both orders (``PairwiseJudge``);
    a pair is kept only when both orders agree.
    """
    assert ctx.reference_judge_spec is not None
    ref = PairwiseJudge(ctx.load(ctx.reference_judge_spec), ctx.run, seed=ctx.seed)
    ref_items, self_verdicts = [], []
    for p, scores in zip(prompts, per_prompt, strict=True):
        best, worst = p.ranks.index(min(p.ranks)), p.ranks.index(max(p.ranks))
        if best != worst:
            ref_items.append((p.prompt, p.responses[best], p.responses[worst]))
            self_verdicts.append(_self_verdict(scores[best], scores[worst]))
    own_items = []
    for p, scores in zip(prompts, per_prompt, strict=True):
        valid = [(s, i) for i, s in enumerate(scores) if s is not None]
        if len(valid) >= 2 and max(valid)[0] > min(valid)[0]:
            own_items.append((p.prompt, p.responses[max(valid)[1]], p.responses[min(valid)[1]]))
    with ctx.progress("judge: reference judge", len(ref_items) + len(own_items)) as advance:
        ref_verdicts = ref.compare(ref_items)
        advance(len(ref_items))
        own_verdicts = ref.compare(own_items)
        advance(len(own_items))
    kept = [
        (v.verdict, cast(judge_metrics.Verdict, s))
        for v, s in zip(ref_verdicts, self_verdicts, strict=True)
        if v.verdict in ("A", "B")
    ]
    ref_chosen = judge_metrics.agreement([s for _, s in kept], [r for r, _ in kept])
    # the judge's own pair is never a tie for it: the ties that count here are the reference's (Table 3 of
    # Meta-Rewarding: its self-chosen agreement differs with and without them)
    own = judge_metrics.self_chosen_agreement([v.verdict for v in own_verdicts])
    # per judged order: "A" when the output shown first won
    orders: list[judge_metrics.Verdict] = [
        ("A" if first else "B") for v in ref_verdicts + own_verdicts for first in v.first_position_wins
    ]
    pos = judge_metrics.position_bias(orders).value
    return [
        MetricValue("agreement", ref_chosen.agreement, n=ref_chosen.n),
        MetricValue("agreement_without_ties", ref_chosen.agreement_without_ties, n=ref_chosen.n_without_ties),
        MetricValue("self_chosen_agreement", own.agreement, n=own.n),
        MetricValue("self_chosen_agreement_without_ties", own.agreement_without_ties, n=own.n_without_ties),
        MetricValue("reference_position_bias", pos, n=len(ref_verdicts) + len(own_verdicts)),
    ]


BENCHMARK = declare(
    Benchmark(
        "judge", "2", "judge", METRICS, roles=("judge", "reference_judge"), params=JudgeParams,
        data_keys=("judge",),
        run=run_judge_benchmark, validate=validate, paired=judge_metrics.paired_statistics,
    )
)  # fmt: skip
