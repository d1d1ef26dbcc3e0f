"""Judge-quality metrics: a judge's per-response scores against human ranks, and against a reference judge.

Input is one :class:`JudgedPrompt` per prompt: human ``ranks`` (lower = better, ties allowed) and the
judge's ``scores`` (higher = better; ``None`` = the judgment could not be parsed, excluded and counted).
Scores are compared exactly: two equal (mean) scores are a judge tie.

Metrics of Self-Rewarding (Yuan et al. 2024) Sec. 3.1.2 "Reward Modeling" and Table 4 (pairwise accuracy,
5-best %, exact match %, Spearman, Kendall tau) and of Meta-Rewarding (Wu et al. 2024) Sec. 3.4 with
Tables 3 and 7 (agreement with and without ties, Spearman averaged over prompts). Rates are fractions
in [0, 1]; ``None`` where undefined (nothing to count).

Pairwise verdicts (reference-judge agreement, position and length bias) are ``"A"`` (the response shown
first is preferred), ``"B"`` (the second), ``"tie"``, or ``None`` (unparsed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

import numpy as np
from scipy import stats

from harness.stats import metric_with_ci
from harness.types import HarnessError, MetricValue

Verdict = Literal["A", "B", "tie"] | None
_VERDICTS = ("A", "B", "tie", None)


@dataclass(frozen=True)
class JudgedPrompt:
    """One prompt: human ``ranks`` (0 = best) and the judge's ``scores`` (``None`` = unparsed), same order."""

    ranks: tuple[int, ...]
    scores: tuple[float | None, ...]
    prompt_id: str = ""

    def __post_init__(self) -> None:
        where = f"prompt {self.prompt_id!r}" if self.prompt_id else "prompt"
        if len(self.ranks) != len(self.scores):
            raise HarnessError(f"{where}: {len(self.scores)} scores for {len(self.ranks)} ranked responses")
        for k, r in enumerate(self.ranks):
            if isinstance(r, bool) or not isinstance(r, int | np.integer):
                raise HarnessError(f"{where}: rank {k} must be an integer, got {r!r}")
        for k, s in enumerate(self.scores):
            if s is not None and (isinstance(s, bool) or not isinstance(s, int | float | np.number) or math.isnan(s)):
                raise HarnessError(f"{where}: score {k} must be a number or None (unparsed), got {s!r}")


def judged_prompts(
    ranks: Sequence[Sequence[int]], scores: Sequence[Sequence[float | None]], ids: Sequence[str] | None = None
) -> list[JudgedPrompt]:
    """Zip per-prompt human ranks and judge scores (and optional ids) into :class:`JudgedPrompt` objects."""
    if len(ranks) != len(scores) or (ids is not None and len(ids) != len(ranks)):
        raise HarnessError(f"{len(ranks)} ranked prompts but {len(scores)} scored prompts")
    names = ids if ids is not None else [""] * len(ranks)
    return [JudgedPrompt(tuple(r), tuple(s), str(i)) for r, s, i in zip(ranks, scores, names, strict=True)]


@dataclass(frozen=True)
class _Stats:
    """What one prompt contributes to every metric, computed once (so the bootstrap only re-sums)."""

    n_pairs: int  # pairs with different human ranks and both scores parsed
    n_agree: int  # ... that the judge orders as the humans do
    n_judge_ties: int  # ... that the judge ties
    n_unparsed_pairs: int  # pairs with different human ranks dropped for an unparsed score
    n_human_ties: int  # pairs the humans tie (no order to agree with)
    exact: bool | None  # None: some score unparsed, or fewer than 2 responses
    n_perfect: int  # parsed responses scored exactly `perfect`
    n_perfect_top: int  # ... that humans rank best of the prompt
    n_parsed: int
    n_responses: int
    score_sum: float
    spearman: float | None  # None: undefined (< 2 parsed scores, or constant scores or ranks)
    kendall: float | None
    sxy: float  # pooled Spearman: sums over within-prompt centred ranks
    sxx: float
    syy: float
    k_s: float  # pooled Kendall: sum of sign products over within-prompt pairs, and tie-corrected pair counts
    k_n0_n1: int
    k_n0_n2: int


def _prompt_stats(p: JudgedPrompt, perfect: float) -> _Stats:
    ranks = np.asarray(p.ranks, dtype=float)
    parsed = np.array([s is not None for s in p.scores])
    scores = np.array([np.nan if s is None else float(s) for s in p.scores])
    upper = np.triu_indices(len(ranks), k=1)
    human = np.sign(ranks[None, :] - ranks[:, None])[upper]  # +1: humans prefer i over j (lower rank)
    judge = np.sign(scores[:, None] - scores[None, :])[upper]  # +1: judge prefers i (higher score)
    both = (parsed[:, None] & parsed[None, :])[upper]
    ordered = (human != 0) & both
    sv, rv = scores[parsed], ranks[parsed]
    defined = len(sv) >= 2 and np.ptp(sv) > 0 and np.ptp(rv) > 0
    x = stats.rankdata(sv) - (len(sv) + 1) / 2 if len(sv) else sv
    y = stats.rankdata(-rv) - (len(rv) + 1) / 2 if len(rv) else rv
    perfect_mask = parsed & (np.nan_to_num(scores, nan=-np.inf) == perfect)
    return _Stats(
        n_pairs=int(ordered.sum()),
        n_agree=int((ordered & (judge == human)).sum()),
        n_judge_ties=int((ordered & (judge == 0)).sum()),
        n_unparsed_pairs=int(((human != 0) & ~both).sum()),
        n_human_ties=int((human == 0).sum()),
        exact=bool(np.all(judge == human)) if parsed.all() and len(ranks) >= 2 else None,
        n_perfect=int(perfect_mask.sum()),
        n_perfect_top=int((perfect_mask & (ranks == ranks.min())).sum()),
        n_parsed=int(parsed.sum()),
        n_responses=len(ranks),
        score_sum=float(sv.sum()),
        # correlate scores with *negated* ranks so that agreeing with the humans is positive
        spearman=float(stats.spearmanr(sv, -rv).statistic) if defined else None,
        kendall=float(stats.kendalltau(sv, -rv, variant="b").statistic) if defined else None,
        sxy=float(x @ y),
        sxx=float(x @ x),
        syy=float(y @ y),
        k_s=float((judge[both] * human[both]).sum()),
        k_n0_n1=int((both & (judge != 0)).sum()),
        k_n0_n2=int((both & (human != 0)).sum()),
    )


def _all_stats(prompts: Sequence[JudgedPrompt], perfect: float = 5.0) -> list[_Stats]:
    return [_prompt_stats(p, perfect) for p in prompts]


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


# ---- aggregates over per-prompt stats (also the bootstrap statistics) ----


def _acc_strict(st: Sequence[_Stats]) -> float | None:
    return _ratio(sum(s.n_agree for s in st), sum(s.n_pairs for s in st))


def _acc_half(st: Sequence[_Stats]) -> float | None:
    return _ratio(sum(s.n_agree + 0.5 * s.n_judge_ties for s in st), sum(s.n_pairs for s in st))


def _acc_no_ties(st: Sequence[_Stats]) -> float | None:
    return _ratio(sum(s.n_agree for s in st), sum(s.n_pairs - s.n_judge_ties for s in st))


def _tie_rate(st: Sequence[_Stats]) -> float | None:
    return _ratio(sum(s.n_judge_ties for s in st), sum(s.n_pairs for s in st))


def _five_best(st: Sequence[_Stats]) -> float | None:
    return _ratio(sum(s.n_perfect_top for s in st), sum(s.n_perfect for s in st))


def _exact(st: Sequence[_Stats]) -> float | None:
    done = [s.exact for s in st if s.exact is not None]
    return _ratio(sum(done), len(done))


def _mean_of(attr: str) -> Callable[[Sequence[_Stats]], float | None]:
    def mean(st: Sequence[_Stats]) -> float | None:
        vals = [getattr(s, attr) for s in st if getattr(s, attr) is not None]
        return float(np.mean(vals)) if vals else None

    return mean


def _spearman_pooled(st: Sequence[_Stats]) -> float | None:
    den = math.sqrt(sum(s.sxx for s in st) * sum(s.syy for s in st))
    return _ratio(sum(s.sxy for s in st), den)


def _kendall_pooled(st: Sequence[_Stats]) -> float | None:
    den = math.sqrt(sum(s.k_n0_n1 for s in st) * sum(s.k_n0_n2 for s in st))
    return _ratio(sum(s.k_s for s in st), den)


def _parse_rate(st: Sequence[_Stats]) -> float | None:
    return _ratio(sum(s.n_parsed for s in st), sum(s.n_responses for s in st))


def _mean_score(st: Sequence[_Stats]) -> float | None:
    return _ratio(sum(s.score_sum for s in st), sum(s.n_parsed for s in st))


# ---- public metrics ----


@dataclass(frozen=True)
class PairwiseAccuracy:
    """Pairwise agreement with the humans over pairs of responses of the same prompt; see :func:`pairwise_accuracy`."""

    accuracy: float | None
    accuracy_ties_half: float | None
    accuracy_ties_excluded: float | None
    tie_rate: float | None
    n_pairs: int
    n_judge_ties: int
    n_unparsed: int
    n_human_ties: int


def pairwise_accuracy(prompts: Sequence[JudgedPrompt]) -> PairwiseAccuracy:
    """Share of response pairs whose order the judge's scores reproduce (Self-Rewarding Sec. 3.1.2:
    "how many times the order of the ranking between any given pair agrees between the model's
    evaluation and the human ranking").

    Pairs are all pairs of responses of one prompt with different human ranks and both scores parsed,
    pooled over prompts (micro average). A judge tie does not reproduce the order, so for the headline
    ``accuracy`` it counts as wrong. Also reported: ``accuracy_ties_half`` (a tie counts 0.5; Meta-Rewarding
    Table 7 "Agreement"), ``accuracy_ties_excluded`` (judge-tied pairs removed; Table 7 "Agree wo Tie"),
    ``tie_rate`` (share of pairs the judge ties), and the counts: ``n_pairs`` used, ``n_unparsed``
    (pairs dropped for an unparsed score), ``n_human_ties`` (pairs the humans tie, not scored).
    """
    st = _all_stats(prompts)
    return PairwiseAccuracy(
        accuracy=_acc_strict(st),
        accuracy_ties_half=_acc_half(st),
        accuracy_ties_excluded=_acc_no_ties(st),
        tie_rate=_tie_rate(st),
        n_pairs=sum(s.n_pairs for s in st),
        n_judge_ties=sum(s.n_judge_ties for s in st),
        n_unparsed=sum(s.n_unparsed_pairs for s in st),
        n_human_ties=sum(s.n_human_ties for s in st),
    )


class Rate(NamedTuple):
    """``value = hits / n``; ``n_excluded`` units were left out (unparsed, ties: as each function says)."""

    value: float | None
    hits: int
    n: int
    n_excluded: int


def five_best(prompts: Sequence[JudgedPrompt], perfect: float = 5.0) -> Rate:
    """Share of the responses the judge scores a perfect 5 that humans rank best of their prompt
    (Self-Rewarding Sec. 3.1.2: "how often the responses that the model scores a perfect 5 out of 5 are
    rated as the highest ranked by humans"; Table 4 "5-best %").

    ``n``: responses scored exactly ``perfect`` (a mean of several judgments must equal it exactly);
    "best" is the lowest human rank of the prompt (tied best responses all count); ``n_excluded``:
    unparsed responses.
    """
    st = _all_stats(prompts, perfect)
    return Rate(
        _five_best(st),
        sum(s.n_perfect_top for s in st),
        sum(s.n_perfect for s in st),
        sum(s.n_responses - s.n_parsed for s in st),
    )


def exact_match(prompts: Sequence[JudgedPrompt]) -> Rate:
    """Share of prompts whose full human ordering the judge's scores reproduce (Self-Rewarding Sec. 3.1.2:
    "how often the total ordering is exactly the same for an instruction"; Table 4 "Exact Match %").

    Exact means: for every pair, the judge prefers the response the humans prefer, and ties exactly the
    pairs the humans tie (a judge tie never reproduces a strict human order). A prompt with an unparsed
    score has no total ordering: it is excluded and counted in ``n_excluded``.
    """
    st = _all_stats(prompts)
    done = [s.exact for s in st if s.exact is not None]
    return Rate(_exact(st), sum(done), len(done), len(st) - len(done))


@dataclass(frozen=True)
class Correlation:
    """A rank correlation of judge scores with human preference (positive = agreeing)."""

    mean: float | None  # headline: mean over prompts of the per-prompt correlation
    pooled: float | None
    n_prompts: int  # prompts where the per-prompt correlation is defined
    n_undefined: int  # prompts excluded from the mean


def spearman(prompts: Sequence[JudgedPrompt]) -> Correlation:
    """Spearman correlation of judge scores with human preference (Self-Rewarding Table 4; Meta-Rewarding
    Table 7 "ranking spearman correlation with the ground truth averaged over prompts").

    Per prompt: ``scipy.stats.spearmanr(scores, -ranks)`` over the parsed responses (average ranks for
    ties). It is undefined, and the prompt excluded and counted, with fewer than 2 parsed scores or when
    the scores (or the ranks) are all equal. Headline ``mean``: the mean over the defined prompts.
    ``pooled``: the Pearson correlation of all responses' within-prompt average ranks, each centred on its
    prompt's mean (a Spearman correlation that never compares responses across prompts). Nothing is
    excluded: a prompt whose scores are all equal adds no covariance but its human-rank variance, so a
    judge that cannot tell responses apart pulls ``pooled`` towards 0. One prompt: ``pooled`` = ``mean``.
    """
    st = _all_stats(prompts)
    n_def = sum(s.spearman is not None for s in st)
    return Correlation(_mean_of("spearman")(st), _spearman_pooled(st), n_def, len(st) - n_def)


def kendall(prompts: Sequence[JudgedPrompt]) -> Correlation:
    """Kendall's tau-b of judge scores with human preference (Self-Rewarding Table 4 "Kendall tau").

    Per prompt: ``scipy.stats.kendalltau(scores, -ranks, variant="b")`` over the parsed responses
    (tau-b corrects for ties on both sides, which 1-5 judge scores have many of); undefined, excluded and
    counted as for :func:`spearman`. Headline ``mean``: mean over defined prompts. ``pooled``: a stratified
    tau-b over within-prompt pairs only, (sum of C - D) / sqrt((sum n0 - sum n1) (sum n0 - sum n2)), where
    per prompt C/D count concordant/discordant pairs, n0 all pairs, n1 judge-tied and n2 human-tied pairs
    (of parsed responses); as for Spearman, all-tied prompts are not excluded there. One prompt: tau-b.
    """
    st = _all_stats(prompts)
    n_def = sum(s.kendall is not None for s in st)
    return Correlation(_mean_of("kendall")(st), _kendall_pooled(st), n_def, len(st) - n_def)


def parse_rate(prompts: Sequence[JudgedPrompt]) -> Rate:
    """Share of responses whose judgment was parsed (score not ``None``); ``n`` = all responses."""
    st = _all_stats(prompts)
    n_parsed, n = sum(s.n_parsed for s in st), sum(s.n_responses for s in st)
    return Rate(_ratio(n_parsed, n), n_parsed, n, 0)


@dataclass(frozen=True)
class ScoreHistogram:
    """Parsed scores per integer bucket; ``n_out_of_range`` scores fell outside every bucket."""

    counts: dict[int, int]
    mean: float | None
    n: int
    n_out_of_range: int


def score_buckets(values: Sequence[float], max_score: int = 5) -> ScoreHistogram:
    """Counts of scores per integer bucket 0..``max_score``: a score goes to the nearest integer, halves up
    (bucket k holds [k - 0.5, k + 0.5); 4.5 is a 5, where Python's ``round`` would make it a 4)."""
    vals = np.asarray(values, dtype=float)
    edges = np.arange(-0.5, max_score + 1.0, 1.0)
    counts, _ = np.histogram(vals[vals < edges[-1]], bins=edges)  # last bin of np.histogram is closed
    in_range = int(counts.sum())
    mean = float(vals.mean()) if len(vals) else None
    return ScoreHistogram({k: int(c) for k, c in enumerate(counts)}, mean, len(vals), len(vals) - in_range)


def score_histogram(prompts: Sequence[JudgedPrompt], max_score: int = 5) -> ScoreHistogram:
    """:func:`score_buckets` of the prompts' parsed (per-response) scores, and their mean.

    The Self-Rewarding judge scores out of 5 and the paper resamples its EFT data because "many samples
    receive a score of 4" (Sec. 3.1.1): the histogram shows such skew.
    """
    return score_buckets([s for p in prompts for s in p.scores if s is not None], max_score)


def _check_verdict(v: object, k: int, what: str) -> None:
    if v not in _VERDICTS:
        raise HarnessError(f"{what} {k}: expected 'A', 'B', 'tie' or None, got {v!r}")


def verdict_from_scores(score_first: float | None, score_second: float | None) -> Verdict:
    """The pairwise verdict implied by two pointwise scores (higher wins; equal: tie; unparsed: None)."""
    if score_first is None or score_second is None:
        return None
    return "A" if score_first > score_second else "B" if score_second > score_first else "tie"


def position_bias(verdicts: Sequence[Verdict]) -> Rate:
    """Prefer-first rate: the share of decisive verdicts (``"A"`` or ``"B"``) that prefer the response shown
    first. 0.5 is unbiased when orders are balanced; ties and unparsed verdicts are excluded and counted.
    """
    for k, v in enumerate(verdicts):
        _check_verdict(v, k, "verdict")
    first, second = sum(v == "A" for v in verdicts), sum(v == "B" for v in verdicts)
    return Rate(_ratio(first, first + second), first, first + second, len(verdicts) - first - second)


def length_bias(items: Sequence[tuple[Verdict, int, int]]) -> Rate:
    """Prefer-longer rate over ``(verdict, len_first, len_second)`` items: the share of decisive verdicts on
    responses of different lengths that prefer the longer one (Meta-Rewarding Sec. 2.1 on judges'
    length bias). Ties, unparsed verdicts and equal lengths are excluded and counted.
    """
    hits = n = 0
    for k, (v, len_a, len_b) in enumerate(items):
        _check_verdict(v, k, "item")
        if v in ("A", "B") and len_a != len_b:
            n += 1
            hits += (v == "A") == (len_a > len_b)
    return Rate(_ratio(hits, n), hits, n, len(items) - n)


class Agreement(NamedTuple):
    """Agreement of a judge with a reference judge; see :func:`agreement`."""

    agreement: float | None
    agreement_without_ties: float | None
    n: int
    n_without_ties: int


def agreement(self_verdicts: Sequence[Verdict], ref_verdicts: Sequence[Verdict]) -> Agreement:
    """Agreement of a judge's pairwise verdicts with a reference judge's (Meta-Rewarding Sec. 3.4, Table 3):
    "agreement (counting ties as 0.5) and agreement without ties (removing all ties predicted by the weaker
    judge and assessing agreement on the remaining pairs)".

    Pairs count where the reference prefers one response (``"A"``/``"B"``) and the judge's verdict parsed
    (``n``); the others are left out. ``agreement`` = (same preference + 0.5 * judge ties) / n;
    ``agreement_without_ties`` = same preference / ``n_without_ties`` (pairs the judge did not tie).
    """
    if len(self_verdicts) != len(ref_verdicts):
        raise HarnessError(f"{len(self_verdicts)} judge verdicts but {len(ref_verdicts)} reference verdicts")
    same = ties = n = 0
    for k, (mine, ref) in enumerate(zip(self_verdicts, ref_verdicts, strict=True)):
        _check_verdict(mine, k, "judge verdict")
        _check_verdict(ref, k, "reference verdict")
        if ref not in ("A", "B") or mine is None:
            continue
        n += 1
        same += mine == ref
        ties += mine == "tie"
    return Agreement(_ratio(same + 0.5 * ties, n), _ratio(same, n - ties), n, n - ties)


def self_chosen_agreement(ref_verdicts: Sequence[Verdict]) -> Agreement:
    """Agreement with a reference judge on the judge's own chosen pairs (Meta-Rewarding Sec. 3.4, "Self-Chosen
    Pairs": the highest- (``"A"``) and lowest-scored (``"B"``) response of each prompt, judged by the reference).

    The judge never ties its own pair (its scores differ), so the ties here are the reference's: ``"tie"`` when
    its two presentation orders disagree or it calls a tie. ``agreement`` = (reference prefers A + 0.5 * its
    ties) / n; ``agreement_without_ties`` drops the pairs it tied. Unparsed reference verdicts (None) are left out.
    """
    for k, ref in enumerate(ref_verdicts):
        _check_verdict(ref, k, "reference verdict")
    n = sum(v is not None for v in ref_verdicts)
    same = sum(v == "A" for v in ref_verdicts)
    ties = sum(v == "tie" for v in ref_verdicts)
    return Agreement(_ratio(same + 0.5 * ties, n), _ratio(same, n - ties), n, n - ties)


def reference_chosen_pairs(
    ref_verdict_order1: Sequence[Verdict], ref_verdict_order2: Sequence[Verdict]
) -> list[Verdict]:
    """The reference judge's label per pair where its two presentation orders agree (Meta-Rewarding Sec. 3.4,
    "GPT-4 Chosen Pairs": "we make two judgements by switching the positions ... We retain the data only
    where the two judgments agree").

    ``order1[k]`` judged the pair as (x, y), ``order2[k]`` as (y, x). Returns, aligned with the input, the
    preference in order-1 terms (``"A"`` = x) where order 2 says the same of the swapped pair, else ``None``
    (orders disagree, a tie, or unparsed: no preference label). Feed it to :func:`agreement` as ``ref_verdicts``.
    """
    if len(ref_verdict_order1) != len(ref_verdict_order2):
        raise HarnessError(f"{len(ref_verdict_order1)} verdicts in order 1 but {len(ref_verdict_order2)} in order 2")
    swapped = {"A": "B", "B": "A"}
    out: list[Verdict] = []
    for k, (v1, v2) in enumerate(zip(ref_verdict_order1, ref_verdict_order2, strict=True)):
        _check_verdict(v1, k, "order-1 verdict")
        _check_verdict(v2, k, "order-2 verdict")
        out.append(v1 if v1 in swapped and swapped[v1] == v2 else None)
    return out


def _n_untied(s: _Stats) -> int:
    return s.n_pairs - s.n_judge_ties


_Statistic = Callable[[Sequence[_Stats]], float | None]
_REPORT: list[tuple[str, _Statistic, Callable[[_Stats], bool], Callable[[_Stats], int]]] = [
    # (name, statistic, which prompts are units of its bootstrap, what its n counts)
    ("pairwise_accuracy", _acc_strict, lambda s: s.n_pairs > 0, lambda s: s.n_pairs),
    ("pairwise_accuracy_ties_half", _acc_half, lambda s: s.n_pairs > 0, lambda s: s.n_pairs),
    ("pairwise_accuracy_ties_excluded", _acc_no_ties, lambda s: s.n_pairs > s.n_judge_ties, _n_untied),
    ("judge_tie_rate", _tie_rate, lambda s: s.n_pairs > 0, lambda s: s.n_pairs),
    ("five_best", _five_best, lambda s: s.n_perfect > 0, lambda s: s.n_perfect),
    ("exact_match", _exact, lambda s: s.exact is not None, lambda s: 1),
    ("spearman", _mean_of("spearman"), lambda s: s.spearman is not None, lambda s: 1),
    ("kendall", _mean_of("kendall"), lambda s: s.kendall is not None, lambda s: 1),
    ("spearman_pooled", _spearman_pooled, lambda s: s.n_parsed >= 2, lambda s: 1),
    ("kendall_pooled", _kendall_pooled, lambda s: s.n_parsed >= 2, lambda s: 1),
    ("parse_rate", _parse_rate, lambda s: True, lambda s: s.n_responses),
    ("mean_score", _mean_score, lambda s: s.n_parsed > 0, lambda s: s.n_parsed),
]


def judge_quality_report(
    prompts: Sequence[JudgedPrompt], *, seed: int = 0, n_resamples: int = 1000, perfect: float = 5.0
) -> list[MetricValue]:
    """Every headline metric above with a seeded percentile-bootstrap 95% CI over prompts.

    Metrics: ``pairwise_accuracy`` (judge ties wrong), ``pairwise_accuracy_ties_half``,
    ``pairwise_accuracy_ties_excluded``, ``judge_tie_rate``, ``five_best``, ``exact_match``, ``spearman`` and
    ``kendall`` (per-prompt means: the headline correlations), ``spearman_pooled``, ``kendall_pooled``,
    ``parse_rate``, ``mean_score``. The bootstrap (``harness.stats.metric_with_ci``) resamples the prompts
    that contribute to each metric; ``n`` is what the value is computed over: pairs (pairwise metrics),
    responses (five_best: those scored ``perfect``; parse_rate; mean_score: parsed ones) or prompts.
    """
    st = _all_stats(prompts, perfect)
    out = []
    for name, statistic, used, count in _REPORT:
        units = [s for s in st if used(s)]
        mv = metric_with_ci(name, units, statistic, seed=seed, n_resamples=n_resamples)
        out.append(replace(mv, n=sum(count(s) for s in units)))
    return out


# the judge metrics that get paired differences (each recomputed per bootstrap round, so only the headline ones)
PAIRED = ("pairwise_accuracy", "pairwise_accuracy_ties_excluded", "judge_tie_rate", "spearman", "kendall", "parse_rate")


def paired_statistics(
    units: list[object],
) -> tuple[Callable[[object], object], dict[str, Callable[[list], float | None]]]:
    """The judge benchmark's pairing: a unit is one prompt's ``{"ranks", "scores"}``; it is reduced to its
    per-prompt statistics once, and each bootstrap round only re-sums them (:data:`PAIRED` metrics)."""

    def prepare(u: object) -> object:
        assert isinstance(u, dict)
        return _prompt_stats(JudgedPrompt(tuple(u["ranks"]), tuple(u["scores"])), 5.0)

    report = {name: stat for name, stat, _, _ in _REPORT}
    return prepare, {name: report[name] for name in PAIRED}


# ---- judge diagnostics (issue 15): the evaluator table of `harness eval --benchmarks judge` ----
# Each takes per-prompt units so that `metric_with_ci` bootstraps over prompts. An unparsed judgment is
# UNSCORED: it is left out of every numerator and denominator below (and counted by the caller), so it can
# never become a tie, a flip or a loss (tests/benchmarks/judge/test_diagnostics.py checks each).


def best_of_k_prompt(p: JudgedPrompt) -> float | None:
    """RewardBench 2 best-of-k on one prompt: 1 if the human-best response's score is strictly the highest,
    1/k if it ties at the top with k responses (itself included), else 0.

    Unscored responses are left out (never a loss); ``None`` (no unit) where the human-best response is
    unscored, humans tie for best, or fewer than 2 responses are scored.
    """
    best = [i for i, r in enumerate(p.ranks) if r == min(p.ranks)]
    if len(best) != 1 or p.scores[best[0]] is None:
        return None
    scored = [s for s in p.scores if s is not None]
    if len(scored) < 2:
        return None
    top, mine = max(scored), p.scores[best[0]]
    return 1.0 / sum(s == top for s in scored) if mine == top else 0.0


_LIST_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S")


def has_list(text: str) -> bool:
    """Does the text contain a markdown list line (``-``, ``*``, ``+`` or ``1.``/``1)`` item)?"""
    return any(_LIST_LINE.match(line) for line in text.splitlines())


def prefer_lists_counts(items: Sequence[tuple[Verdict, bool, bool]]) -> tuple[int, int]:
    """(hits, n) over ``(verdict, first_has_list, second_has_list)`` pairs: n counts the decisive verdicts
    (``"A"``/``"B"``: both scored, not tied) where exactly one response has a list; hits those the list wins.
    """
    hits = n = 0
    for k, (v, list_a, list_b) in enumerate(items):
        _check_verdict(v, k, "item")
        if v in ("A", "B") and list_a != list_b:
            n += 1
            hits += (v == "A") == list_a
    return hits, n


def score_variances(judgments: Sequence[Sequence[float | None]]) -> list[float]:
    """Per response with at least 2 scored judgments: the population variance (ddof=0, as
    ``PointwiseScore.variance``) of its scored judgments; unscored ones are left out."""
    out = []
    for js in judgments:
        valid = [float(s) for s in js if s is not None]
        if len(valid) >= 2:
            out.append(float(np.var(valid)))
    return out


class OrderConsistency(NamedTuple):
    """JudgeBench-style order consistency of pairwise verdicts; see :func:`order_consistency`."""

    flip_rate: float | None
    consistent_accuracy: float | None
    first_position_rate: float | None
    n_pairs: int  # pairs with both orders scored
    n_orders: int  # decisive scored orders (the first-position denominator)
    n_unscored: int  # pairs with at least one unscored order


def order_consistency(pairs: Sequence[tuple[Verdict, Verdict]]) -> OrderConsistency:
    """Per pair (human-better x, human-worse y), the verdict of order (x, y) and of order (y, x), both already
    in the (x, y) frame (``"A"`` = x preferred; the ``PairwiseVerdict.p_ab``/``p_ba`` convention).

    - ``flip_rate``: share of pairs whose two orders disagree (a tie in one order and a preference in the
      other is a flip) -- JudgeBench's inconsistency;
    - ``consistent_accuracy``: share of pairs where BOTH orders prefer x (a flip counts wrong; JudgeBench);
    - ``first_position_rate``: over decisive scored orders, the share won by the response shown first
      (order 1 shows x first, order 2 shows y first); 0.5 = no position bias (FastChat #3252).
    A pair with an unscored order is left out of the pair metrics (unscored, not a flip); its scored order
    still counts for ``first_position_rate``.
    """
    flips = right = n = first = orders = unscored = 0
    for k, (v1, v2) in enumerate(pairs):
        _check_verdict(v1, k, "order-1 verdict")
        _check_verdict(v2, k, "order-2 verdict")
        for v, x_first in ((v1, True), (v2, False)):
            if v in ("A", "B"):
                orders += 1
                first += (v == "A") == x_first
        if v1 is None or v2 is None:
            unscored += 1
            continue
        n += 1
        flips += v1 != v2
        right += v1 == v2 == "A"
    return OrderConsistency(_ratio(flips, n), _ratio(right, n), _ratio(first, orders), n, orders, unscored)


def krippendorff_alpha_ordinal(ratings: Sequence[Sequence[float | None]]) -> float | None:
    """Krippendorff's alpha, ordinal level, between raters: ``ratings[j][u]`` is rater j's score of unit u
    (``None`` = unscored: a missing value, not a rating). Computed by the ``krippendorff`` package
    (Castro 2017, https://github.com/pln-fing-udelar/fast-krippendorff); ``None`` where fewer than 2 raters, or
    no unit has 2 scores, or a single value occurs (alpha undefined).
    """
    import krippendorff

    data = np.array([[np.nan if s is None else float(s) for s in r] for r in ratings], dtype=float)
    if data.ndim != 2 or data.shape[0] < 2:
        return None
    pairable = np.sum(~np.isnan(data), axis=0) >= 2
    values = np.unique(data[:, pairable][~np.isnan(data[:, pairable])])
    if not pairable.any() or len(values) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data[:, pairable], level_of_measurement="ordinal"))
