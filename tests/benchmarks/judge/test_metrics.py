"""Judge-quality metrics against hand-worked examples and scipy.stats."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from benchmarks.judge import metrics as jm
from benchmarks.judge.data import load_oasst_trees
from benchmarks.judge.metrics import JudgedPrompt
from harness.types import HarnessError

# A: 4 responses in human order; the judge ties the middle two.
# pairs (i<j; humans prefer i): (0,1) 5>3 ok, (0,2) ok, (0,3) ok, (1,2) 3=3 tie, (1,3) ok, (2,3) ok
A = JudgedPrompt((0, 1, 2, 3), (5, 3, 3, 1), "A")
# B: 2 responses, the judge reverses them
B = JudgedPrompt((0, 1), (2, 4), "B")


def test_pairwise_accuracy_hand_worked() -> None:
    res = jm.pairwise_accuracy([A])
    assert (res.n_pairs, res.n_judge_ties, res.n_unparsed, res.n_human_ties) == (6, 1, 0, 0)
    assert res.accuracy == pytest.approx(5 / 6)  # a judge tie is not the human order
    assert res.accuracy_ties_half == pytest.approx(5.5 / 6)
    assert res.accuracy_ties_excluded == pytest.approx(5 / 5)
    assert res.tie_rate == pytest.approx(1 / 6)
    both = jm.pairwise_accuracy([A, B])  # pooled over pairs, not averaged over prompts
    assert both.n_pairs == 7
    assert both.accuracy == pytest.approx(5 / 7)
    assert both.accuracy_ties_half == pytest.approx(5.5 / 7)
    assert both.accuracy_ties_excluded == pytest.approx(5 / 6)


def test_pairwise_accuracy_human_ties_and_unparsed() -> None:
    tied = JudgedPrompt((0, 0, 1), (4, 4, 2))  # (0,1) tied by humans: not scored; (0,2), (1,2) agree
    res = jm.pairwise_accuracy([tied])
    assert (res.n_pairs, res.n_human_ties, res.accuracy) == (2, 1, 1.0)
    unparsed = JudgedPrompt((0, 1, 2), (4, None, 2))  # (0,1), (1,2) dropped; (0,2) agrees
    res = jm.pairwise_accuracy([unparsed])
    assert (res.n_pairs, res.n_unparsed, res.accuracy) == (1, 2, 1.0)


def test_all_equal_judge_scores() -> None:
    flat = JudgedPrompt((0, 1, 2), (3, 3, 3), "flat")
    res = jm.pairwise_accuracy([flat])
    assert (res.n_pairs, res.n_judge_ties) == (3, 3)
    assert res.accuracy == 0.0
    assert res.accuracy_ties_half == 0.5
    assert res.accuracy_ties_excluded is None  # nothing left once ties are removed
    assert res.tie_rate == 1.0
    for corr in (jm.spearman([flat]), jm.kendall([flat])):
        assert (corr.mean, corr.n_prompts, corr.n_undefined) == (None, 0, 1)
        assert corr.pooled is None
    # beside a defined prompt, the flat one is excluded from the mean; pooled, its human-rank variance
    # still counts (a judge that cannot tell responses apart pulls the pooled correlation towards 0):
    # flat: Sxx 0, Syy 2 (centred ranks 1, 0, -1); B: Sxy -0.5, Sxx 0.5, Syy 0.5
    sp = jm.spearman([flat, B])
    assert (sp.mean, sp.n_prompts, sp.n_undefined) == (pytest.approx(-1.0), 1, 1)
    assert sp.pooled == pytest.approx(-0.5 / math.sqrt(0.5 * 2.5))
    # Kendall: S = 0 - 1; n0 - n1 = 0 + 1; n0 - n2 = 3 + 1
    assert jm.kendall([flat, B]).pooled == pytest.approx(-1 / math.sqrt(1 * 4))
    assert jm.exact_match([flat]).value == 0.0  # judge ties never reproduce a strict human order


def test_correlations_against_scipy_and_by_hand() -> None:
    rho_a = stats.spearmanr([5, 3, 3, 1], [0, -1, -2, -3]).statistic
    # by hand: score ranks (4, 2.5, 2.5, 1), preference ranks (4, 3, 2, 1): 4.5 / sqrt(4.5 * 5)
    assert rho_a == pytest.approx(4.5 / math.sqrt(22.5))
    tau_a = stats.kendalltau([5, 3, 3, 1], [0, -1, -2, -3]).statistic
    assert tau_a == pytest.approx(5 / math.sqrt(5 * 6))  # C=5, D=0, n0=6, n1=1, n2=0

    sp, kd = jm.spearman([A, B]), jm.kendall([A, B])
    assert sp.mean == pytest.approx((rho_a - 1) / 2)
    assert kd.mean == pytest.approx((tau_a - 1) / 2)
    assert (sp.n_prompts, sp.n_undefined) == (2, 0)
    # pooled Spearman: Pearson of within-prompt centred average ranks
    x = np.concatenate([stats.rankdata(s) - stats.rankdata(s).mean() for s in ([5, 3, 3, 1], [2, 4])])
    y = np.concatenate([stats.rankdata(r) - stats.rankdata(r).mean() for r in ([0, -1, -2, -3], [0, -1])])
    assert sp.pooled == pytest.approx(stats.pearsonr(x, y).statistic)
    assert sp.pooled == pytest.approx(4 / math.sqrt(5 * 5.5))  # by hand: Sxy 4.5 - 0.5, Sxx 4.5 + 0.5, Syy 5 + 0.5
    # pooled Kendall: (C - D) = 5 - 1; (n0 - n1) = 5 + 1; (n0 - n2) = 6 + 1
    assert kd.pooled == pytest.approx(4 / math.sqrt(6 * 7))


def test_single_prompt_pooled_equals_scipy_with_ties_on_both_sides() -> None:
    ranks, scores = (0, 0, 1, 2, 3), (4, 3, 3, 5, 1)
    p = JudgedPrompt(ranks, scores)
    neg = [-r for r in ranks]
    tau_b = stats.kendalltau(scores, neg, variant="b").statistic
    rho = stats.spearmanr(scores, neg).statistic
    assert jm.kendall([p]).mean == pytest.approx(tau_b)
    assert jm.kendall([p]).pooled == pytest.approx(tau_b)
    assert jm.spearman([p]).mean == pytest.approx(rho)
    assert jm.spearman([p]).pooled == pytest.approx(rho)


def test_correlation_unparsed_scores() -> None:
    two_left = JudgedPrompt((0, 1, 2), (4, None, 2))  # 2 parsed scores: defined, +1
    one_left = JudgedPrompt((0, 1), (None, 3))  # 1 parsed score: undefined
    sp = jm.spearman([two_left, one_left])
    assert (sp.mean, sp.n_prompts, sp.n_undefined) == (pytest.approx(1.0), 1, 1)
    kd = jm.kendall([two_left, one_left])
    assert (kd.mean, kd.n_undefined) == (pytest.approx(1.0), 1)


def test_exact_match() -> None:
    perfect = JudgedPrompt((0, 1, 2), (5, 4, 1))
    human_tie_judge_tie = JudgedPrompt((0, 0, 1), (4, 4, 2))
    human_tie_judge_orders = JudgedPrompt((0, 0, 1), (5, 4, 2))
    unparsed = JudgedPrompt((0, 1), (5, None))
    res = jm.exact_match([A, B, perfect, human_tie_judge_tie, human_tie_judge_orders, unparsed])
    # A (judge tie), B (reversed) and the ordered human tie fail; two succeed; one excluded
    assert res == jm.Rate(2 / 5, 2, 5, 1)


def test_five_best() -> None:
    prompts = [
        JudgedPrompt((0, 1, 2), (5, 5, 3)),  # two perfect scores, one of them the human best
        JudgedPrompt((0, 1), (4, 5)),  # a perfect score on the worse response
        JudgedPrompt((1, 0), (5, None)),  # the human best is unparsed; the perfect one is not the best
        JudgedPrompt((0, 0, 1), (5, 2, 5)),  # tied human best: response 0 counts as best
    ]
    assert jm.five_best(prompts) == jm.Rate(2 / 6, 2, 6, 1)
    assert jm.five_best([B]).value is None  # no perfect scores at all


def test_parse_rate_and_histogram() -> None:
    p1 = JudgedPrompt((0, 1, 2, 3, 4), (0, 1, 4, 4, None))
    p2 = JudgedPrompt((0, 1, 2, 3, 4, 5), (4.5, 5, 2.49, 6, -0.5, 5.5))
    assert jm.parse_rate([p1, p2]) == jm.Rate(10 / 11, 10, 11, 0)
    hist = jm.score_histogram([p1, p2])
    # nearest integer, halves up: 4.5 -> 5, 2.49 -> 2, -0.5 -> 0; 6 and 5.5 are beyond bucket 5
    assert hist.counts == {0: 2, 1: 1, 2: 1, 3: 0, 4: 2, 5: 2}
    assert (hist.n, hist.n_out_of_range) == (10, 2)
    assert hist.mean == pytest.approx((0 + 1 + 4 + 4 + 4.5 + 5 + 2.49 + 6 - 0.5 + 5.5) / 10)


def test_position_and_length_bias() -> None:
    assert jm.position_bias(["A", "A", "B", "tie", None]) == jm.Rate(2 / 3, 2, 3, 2)
    items = [("A", 10, 5), ("B", 10, 5), ("B", 3, 8), ("A", 5, 5), ("tie", 3, 9), (None, 1, 2)]
    assert jm.length_bias(items) == jm.Rate(2 / 3, 2, 3, 3)
    with pytest.raises(HarnessError, match="verdict 1: expected"):
        jm.position_bias(["A", "first"])


def test_agreement_counts_ties_as_half() -> None:
    mine = ["A", "B", "tie", "A", None, "B", "B"]
    ref = ["A", "A", "A", None, "B", "tie", "B"]
    # kept: 0 same, 1 differs, 2 judge tie, 6 same; 3 (no reference), 4 (unparsed), 5 (reference tie) left out
    res = jm.agreement(mine, ref)
    assert res == jm.Agreement(2.5 / 4, 2 / 3, 4, 3)
    a, a_wo, n, _ = res
    assert (a, a_wo, n) == (0.625, pytest.approx(2 / 3), 4)
    assert jm.agreement(["tie"], ["A"]) == jm.Agreement(0.5, None, 1, 0)
    with pytest.raises(HarnessError, match="2 judge verdicts but 1 reference"):
        jm.agreement(["A", "B"], ["A"])


def test_reference_chosen_pairs() -> None:
    order1 = ["A", "A", "B", "tie", None, "B"]
    order2 = ["B", "A", "A", "tie", "A", "B"]
    assert jm.reference_chosen_pairs(order1, order2) == ["A", None, "B", None, None, None]
    assert jm.verdict_from_scores(4, 3) == "A"
    assert jm.verdict_from_scores(3, 3.5) == "B"
    assert jm.verdict_from_scores(2, 2) == "tie"
    assert jm.verdict_from_scores(None, 2) is None


def test_judged_prompt_validation() -> None:
    with pytest.raises(HarnessError, match="prompt 'x': 1 scores for 2 ranked responses"):
        JudgedPrompt((0, 1), (3,), "x")
    with pytest.raises(HarnessError, match="score 1 must be a number or None"):
        JudgedPrompt((0, 1), (3, float("nan")))
    with pytest.raises(HarnessError, match="rank 0 must be an integer"):
        JudgedPrompt((0.5, 1), (3, 4))  # type: ignore[arg-type]
    with pytest.raises(HarnessError, match="2 ranked prompts but 1 scored"):
        jm.judged_prompts([[0, 1], [0, 1]], [[1, 2]])
    assert jm.judged_prompts([[0, 1]], [[2, None]], ["p"]) == [JudgedPrompt((0, 1), (2, None), "p")]


def _random_judge(shared_prompts: list, seed: int) -> list[JudgedPrompt]:
    rng = random.Random(seed)
    return [
        JudgedPrompt(tuple(p.ranks), tuple(None if rng.random() < 0.1 else float(rng.randint(1, 5)) for _ in p.ranks))
        for p in shared_prompts
    ]


def test_oasst_sample_random_judge_against_scipy(shared) -> None:
    prompts = load_oasst_trees(shared / "Open-Assistant" / "en_100_tree.jsonl")
    judged = _random_judge(prompts, seed=3)
    rhos, taus, undefined = [], [], 0
    for p in judged:
        pairs = [(s, r) for s, r in zip(p.scores, p.ranks, strict=True) if s is not None]
        s, r = np.array([a for a, _ in pairs]), np.array([-b for _, b in pairs])
        if len(pairs) < 2 or len(set(s)) < 2 or len(set(r)) < 2:
            undefined += 1
            continue
        rhos.append(stats.spearmanr(s, r).statistic)
        taus.append(stats.kendalltau(s, r).statistic)
    sp, kd = jm.spearman(judged), jm.kendall(judged)
    assert (sp.n_prompts, sp.n_undefined) == (len(rhos), undefined)
    assert undefined > 0
    assert sp.mean == pytest.approx(np.mean(rhos))
    assert kd.mean == pytest.approx(np.mean(taus))


def test_oasst_sample_perfect_judge(shared) -> None:
    prompts = load_oasst_trees(shared / "Open-Assistant" / "en_100_tree.jsonl")
    judged = [JudgedPrompt(tuple(p.ranks), tuple(float(-r) for r in p.ranks)) for p in prompts]
    n_pairs = sum(len(p.ranks) * (len(p.ranks) - 1) // 2 for p in prompts)
    res = jm.pairwise_accuracy(judged)
    assert (res.accuracy, res.n_pairs, res.tie_rate) == (1.0, n_pairs, 0.0)
    assert jm.exact_match(judged) == jm.Rate(1.0, 212, 212, 0)
    assert jm.spearman(judged) == jm.Correlation(pytest.approx(1.0), pytest.approx(1.0), 212, 0)
    assert jm.kendall(judged).pooled == pytest.approx(1.0)


def test_report_values_and_bootstrap(shared) -> None:
    prompts = load_oasst_trees(shared / "Open-Assistant" / "en_100_tree.jsonl")
    judged = _random_judge(prompts, seed=5)
    report = {m.name: m for m in jm.judge_quality_report(judged, seed=7, n_resamples=200)}
    assert list(report) == [name for name, *_ in jm._REPORT]
    pw = jm.pairwise_accuracy(judged)
    assert report["pairwise_accuracy"].value == pytest.approx(pw.accuracy)
    assert report["pairwise_accuracy"].n == pw.n_pairs
    assert report["pairwise_accuracy_ties_excluded"].value == pytest.approx(pw.accuracy_ties_excluded)
    assert report["spearman"].value == pytest.approx(jm.spearman(judged).mean)
    assert report["kendall_pooled"].value == pytest.approx(jm.kendall(judged).pooled)
    assert report["parse_rate"].n == 641
    for m in report.values():
        assert m.value is not None and m.ci_low is not None and m.ci_high is not None, m.name
        assert m.ci_low <= m.value <= m.ci_high, m.name
    # exact match's CI is the percentile bootstrap of the mean over the fully parsed prompts
    em = jm.exact_match(judged)
    flags = np.array([
        float(all(np.sign(s1 - s2) == np.sign(r2 - r1) for (s1, r1), (s2, r2) in _pairs(p))) for p in judged
        if all(s is not None for s in p.scores)
    ])  # fmt: skip
    assert len(flags) == em.n and flags.mean() == pytest.approx(em.value)
    ci = stats.bootstrap(
        (np.arange(len(flags)),), lambda idx: flags[idx].mean(), vectorized=False, n_resamples=200,
        method="percentile", rng=np.random.default_rng(7),
    ).confidence_interval  # fmt: skip
    assert report["exact_match"].ci_low == pytest.approx(ci.low)
    assert report["exact_match"].ci_high == pytest.approx(ci.high)
    again = {m.name: m for m in jm.judge_quality_report(judged, seed=7, n_resamples=200)}
    assert again == report


def _pairs(p: JudgedPrompt) -> list[tuple[tuple[float, int], tuple[float, int]]]:
    items = list(zip(p.scores, p.ranks, strict=True))
    return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]


def test_report_on_empty_and_degenerate_input() -> None:
    report = {m.name: m for m in jm.judge_quality_report([JudgedPrompt((0, 1), (None, None))], n_resamples=50)}
    assert report["parse_rate"].value == 0.0
    assert report["pairwise_accuracy"].value is None
    assert report["spearman"].value is None and report["spearman"].n == 0


def test_self_chosen_agreement_counts_the_reference_ties() -> None:
    """Meta-Rewarding 3.4, Self-Chosen Pairs: the judge's pair is (its best, its worst) = ("A", "B"). 10 pairs: the
    reference prefers A on 5, B on 1, ties (its two orders disagree) on 3, one is unparsed. By hand: agreement =
    (5 + 0.5 x 3) / 9 = 0.7222; without ties = 5 / 6 = 0.8333 (the two differ whenever the reference ties)."""
    ref = ["A"] * 5 + ["B"] + ["tie"] * 3 + [None]
    got = jm.self_chosen_agreement(ref)
    assert got.agreement == pytest.approx(6.5 / 9) and got.n == 9
    assert got.agreement_without_ties == pytest.approx(5 / 6) and got.n_without_ties == 6
    assert jm.self_chosen_agreement([]).agreement is None  # a rate over zero pairs is unknown, never 0


def test_paired_differences_carry_the_tie_rate_beside_the_agreement() -> None:
    """A judge that stops tying: 20 two-response prompts, tied on 8 before and on 2 after, never reversed.
    By hand: tie rate 8/20 -> 2/20 (-0.3), agreement with ties counted 12/20 -> 18/20 (+0.3), ties excluded
    12/12 -> 18/18 (0). No prompt gets worse, so every resample's tie-rate difference is <= 0, and it is 0 only
    when none of the 6 changed prompts is drawn (0.7 ** 20 < 0.001): the CI lies below 0."""
    from benchmarks.core.paired import paired_deltas

    before = {f"p{i}": {"ranks": [0, 1], "scores": [3, 3] if i < 8 else [5, 2]} for i in range(20)}
    after = {f"p{i}": {"ranks": [0, 1], "scores": [3, 3] if i < 2 else [5, 2]} for i in range(20)}
    d = {m.name: m for m in paired_deltas("judge", before, after, "delta_prev", n_resamples=500)}
    tie = d["judge_tie_rate.delta_prev"]
    assert tie.value == pytest.approx(-0.3) and tie.n == 20
    assert tie.ci_low is not None and tie.ci_high is not None and -1 <= tie.ci_low <= -0.3 <= tie.ci_high < 0
    assert d["pairwise_accuracy.delta_prev"].value == pytest.approx(0.3)
    assert d["pairwise_accuracy_ties_excluded.delta_prev"].value == pytest.approx(0.0)
