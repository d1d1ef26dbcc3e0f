"""Saturation and reward-hacking alarms of the loop's own judge, computed by `harness iterate` in every iteration
from the data its judging and pair stages already write (no extra model call).

A self-rewarding judge fails quietly: it can drift to giving every response the top score (NeMo-Aligner documents a
meta-judge setting under which the judge "outputs identical scores for every response (always a 5)"), its chosen
and rejected responses can converge (Temporal Self-Rewarding, arXiv 2508.06026), and a length preference grows
into the training pairs (Meta-Rewarding 2.1). Each alarm is a declared metric of iteration t (the judge is M_t),
so it is gateable: a rule on ``judge_alarms.*`` is checked right after iteration t's pairs are chosen, before DPO
trains on them, and a failing one stops the loop there.

``rank_consistency`` is recorded with each evaluation from M2 on: the judge benchmark's held-out responses are the
same every iteration, so the change in how the judge orders them is measured on a fixed probe set at no extra
cost (it needs ``judge`` among the loop's eval benchmarks).

Inputs: the judgments stage's rows (per prompt: ``responses``, per response ``scores`` (the N parsed scores,
None for an unparsed one) and ``mean``) and the actor-pairs stage's rows (``chosen``, ``rejected``,
``chosen_score``, ``rejected_score``). Unparsed judgments are left out of every alarm (never counted as a score).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks.core.registry import Benchmark, Metric, declare

_NEMO = "NeMo-Aligner self-rewarding docs (judge saturation, 'always a 5')"
METRICS = (
    Metric("all_equal_share", "share of prompts with >= 2 scored responses whose responses all have the same mean "
           "score (no actor pair can be chosen from them)", False, headline=True, terminal=True,
           reference="Self-Rewarding 3.2 (pairs need different scores); " + _NEMO),
    Metric("top_score_share", "share of parsed judgments that give the maximum score (5)", None, headline=True,
           reference=_NEMO),
    Metric("score_entropy", "Shannon entropy (bits) of the parsed judgment scores rounded to integers 0-5 "
           "(0: one score only; log2(6) = 2.58: uniform)", None, reference=_NEMO),
    Metric("chosen_length", "mean length (words) of the chosen responses of the actor pairs", None,
           reference="Meta-Rewarding 2.1 (length control)"),
    Metric("rejected_length", "mean length (words) of the rejected responses of the actor pairs", None,
           reference="Meta-Rewarding 2.1 (length control)"),
    Metric("score_gap", "mean chosen-minus-rejected score of the actor pairs", None,
           reference="Temporal Self-Rewarding, arXiv 2508.06026 (chosen/rejected convergence)"),
    Metric("n_pairs", "actor pairs chosen this iteration", None),
    Metric("rank_consistency", "Kendall tau-b between the previous and this iteration's judge scores of the same "
           "held-out responses (the judge benchmark's fixed probe set, re-judged every iteration; from M2 on)", True,
           headline=True, reference="CREAM, arXiv 2410.12735 (ranking consistency across iterations); "
           "scipy.stats.kendalltau"),
    Metric("dpo_reward_agreement", "share of held-out pairs (the judge benchmark's prompts: the previous judge's "
           "highest- vs lowest-scored response) that DPO's implicit reward log p_t(y|x) - log p_(t-1)(y|x) orders "
           "as that judge does (from M2 on)", True,
           reference="Rafailov et al. 2023 (DPO implicit reward); Meta-Rewarding 2.1"),
)  # fmt: skip
# alarms that compare an iteration with the previous one: a gate on them is vacuous on M1
VS_PREVIOUS = ("rank_consistency", "dpo_reward_agreement")
BENCHMARK = declare(Benchmark("judge_alarms", "1", "judge", METRICS, roles=("judge",)))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def alarms(judged: Sequence[dict[str, Any]], actor_pairs: Sequence[dict[str, Any]], top: float = 5.0) -> list[dict]:
    """The alarm metrics of one iteration as ``{"metric", "value", "n"}`` rows (value None when undefined)."""
    scored_prompts = 0
    all_equal = 0
    scores: list[float] = []
    for row in judged:
        means = [m for m in row["mean"] if m is not None]
        scores += [float(s) for per_response in row["scores"] for s in per_response if s is not None]
        if len(means) >= 2:
            scored_prompts += 1
            all_equal += len(set(means)) == 1
    counts = Counter(round(s) for s in scores)
    entropy = -sum(c / len(scores) * math.log2(c / len(scores)) for c in counts.values()) if scores else None
    lengths = {side: [len(p[side][-1]["content"].split()) for p in actor_pairs] for side in ("chosen", "rejected")}
    gaps = [float(p["chosen_score"]) - float(p["rejected_score"]) for p in actor_pairs]
    return [
        {"metric": "all_equal_share", "value": all_equal / scored_prompts if scored_prompts else None,
         "n": scored_prompts},
        {"metric": "top_score_share", "value": sum(s == top for s in scores) / len(scores) if scores else None,
         "n": len(scores)},
        {"metric": "score_entropy", "value": None if entropy is None else abs(entropy), "n": len(scores)},
        {"metric": "chosen_length", "value": _mean(lengths["chosen"]), "n": len(actor_pairs)},
        {"metric": "rejected_length", "value": _mean(lengths["rejected"]), "n": len(actor_pairs)},
        {"metric": "score_gap", "value": _mean(gaps), "n": len(actor_pairs)},
        {"metric": "n_pairs", "value": float(len(actor_pairs)), "n": len(actor_pairs)},
    ]  # fmt: skip


def rank_consistency(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Kendall tau-b between two iterations' judge scores of the same responses: the judge benchmark's units
    (``{prompt_id: {"ranks", "scores"}}``) of both, pooled over every response scored (parsed) in both."""
    from scipy.stats import kendalltau

    x: list[float] = []
    y: list[float] = []
    for pid, unit in after.items():
        old = before.get(pid)
        if old is None or len(old["scores"]) != len(unit["scores"]):
            continue
        for a, b in zip(old["scores"], unit["scores"], strict=True):
            if a is not None and b is not None:
                x.append(float(a))
                y.append(float(b))
    tau = kendalltau(x, y, variant="b").statistic if len(x) >= 2 else float("nan")
    return {"metric": "rank_consistency", "value": None if math.isnan(tau) else float(tau), "n": len(x)}


def reward_agreement(margins_before: Sequence[float], margins_after: Sequence[float]) -> dict[str, Any]:
    """Share of pairs whose implicit-reward margin grew: (log p_t(c) - log p_t(r)) - (log p_(t-1)(c) - log
    p_(t-1)(r)) > 0, i.e. DPO's implicit reward prefers the judge's chosen response (a tie counts 0.5)."""
    diffs = [a - b for a, b in zip(margins_after, margins_before, strict=True)]
    value = sum(1.0 if d > 0 else 0.5 if d == 0 else 0.0 for d in diffs) / len(diffs) if diffs else None
    return {"metric": "dpo_reward_agreement", "value": value, "n": len(diffs)}
