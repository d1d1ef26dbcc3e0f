"""CI coverage of the live headline metrics, against planted truths: seeded repetitions of a small planted case.

Each repetition is one `harness eval` (``app.eval.run_eval``, the CLI's own function, in-process to spare 200
interpreter starts) of judge, alpaca_eval, arena_hard and mt_bench against tests/planted_server.py, whose judge
and annotator draw their verdicts afresh per repetition (seed K through the model name ``judge-sK``):

- judge ``pairwise_accuracy``: the judge under test orders a prompt's two responses as the human ranks do with
  q = 0.8 per prompt -> 0.8;
- alpaca_eval ``win_rate``: the annotator prefers the actor's output with p = 0.7 per instruction -> 70;
- arena_hard ``score``: the actor wins a question (both games) with p = 0.7 -> 70 (the live default resamples
  whole questions); also re-scored from the written judgments with ``--bootstrap battles`` (show_result's);
- mt_bench ``overall``: every rating uniform on 1..10 -> 5.5.

The coverage (share of repetitions whose 95% CI holds the planted value) is printed per metric; README quotes it.
Arena-Hard's bootstrap resamples *battles*, and both games of a question are battles of one draw, so its CI is
too narrow by about sqrt(2) when the two games agree, and show_result's 100 bootstrap rounds narrow it further:
its expected coverage on this case, computed here by the test's own arithmetic over the binomial
(:func:`battles_expected_coverage`), is about 0.78. So the live default resamples whole questions
(``--option arena_hard.bootstrap=questions``) with 1000 rounds, which covers 95%; the test also pins show_result's
gap (``harness score arena_hard --bootstrap battles``, its default on the peer's files, 100 rounds).

Every row is checked two-sided, at the test's own size (:func:`tolerance`: 3 binomial standard errors of a share
estimated from ``REPS`` repetitions). The judge's pairwise accuracy, a percentile bootstrap over 30 prompts,
covers 0.915 over these 200 seeded repetitions; its exact coverage on this case, computed over the binomial
distribution of faithful prompts (``test_judge_interval_coverage_exactly_over_the_binomial``), is 0.948, and
``bench/calibration.py`` measures every row over 1000 repetitions (README).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from tests.benchmarks.alpaca_eval.test_scorer import BASELINE, _outputs_path
from tests.servers import PlantedServer

REPS = int(os.environ.get("HARNESS_CALIBRATION_REPS", "200"))
N = 30  # instructions, questions (both turns graded) per benchmark
P_WIN = 0.7
Q_JUDGE = 0.8
PLANTED = {("judge", "pairwise_accuracy"): Q_JUDGE, ("alpaca_eval", "win_rate"): 100 * P_WIN, ("arena_hard", "score"): 100 * P_WIN,
           ("arena_hard", "score --bootstrap battles"): 100 * P_WIN, ("mt_bench", "overall"): 5.5}  # fmt: skip


def battles_expected_coverage(rounds: int = 100, arrangements: int = 200) -> float:
    """The coverage show_result's battle bootstrap should have on this case, by the test's own arithmetic.

    N questions, each won (both games) with probability P_WIN; the score of one model against the baseline is
    its share of the 2N battles (the Bradley-Terry fit of one pair without ties is the win share). The interval
    is the 2.5th and 97.5th percentiles (numpy's linear rule, as show_result) of ``rounds`` resamples of the 2N
    battles. Summed over the binomial number of won questions, each with ``arrangements`` seeded draws of which
    questions and which resamples (0.814; 1000 arrangements give 0.817)."""
    import numpy as np
    from scipy.stats import binom

    rng = np.random.default_rng(0)
    coverage = 0.0
    for k in (k for k in range(N + 1) if binom.pmf(k, N, P_WIN) > 1e-7):
        hits = 0
        for _ in range(arrangements):
            battles = np.repeat(rng.permutation([1.0] * k + [0.0] * (N - k)), 2)
            shares = battles[rng.integers(0, 2 * N, (rounds, 2 * N))].mean(axis=1)
            low, high = np.percentile(shares, [2.5, 97.5])
            hits += low <= P_WIN <= high
        coverage += binom.pmf(k, N, P_WIN) * hits / arrangements
    return float(coverage)


# the coverage each CI should reach, and why (arena_hard's battles: see the module doc)
EXPECTED = {("judge", "pairwise_accuracy"): 0.95, ("alpaca_eval", "win_rate"): 0.95, ("arena_hard", "score"): 0.95,
            ("arena_hard", "score --bootstrap battles"): battles_expected_coverage(), ("mt_bench", "overall"): 0.95}  # fmt: skip


def tolerance(expected: float, reps: int) -> float:
    """The test's two-sided band at its own size: 3 binomial standard errors of a coverage share estimated from
    ``reps`` repetitions (0.046 for 0.95 at 200): a coverage outside it is wrong, above as well as below."""
    return 3 * math.sqrt(expected * (1 - expected) / reps)


def judge_prompts(shared: Path) -> list[str]:
    """The judge benchmark's N calibration prompts (the first N AlpacaEval instructions, numbered), as the planted
    judge sees them: its faithful draws are made on these texts."""
    reference = json.loads(_outputs_path(shared, BASELINE).read_text())[:N]
    return [f"question {i}: {r['instruction']}" for i, r in enumerate(reference)]


def _hits(shared: Path, tmp: Path, reps: range, only: tuple[str, ...]) -> dict[tuple[str, str], int]:
    """How many of the repetitions ``reps`` (their seeds) have a 95% CI that holds each planted value."""
    from app.eval import run_eval
    from benchmarks.arena_hard.scorer import score_arena_hard

    tmp.mkdir(parents=True, exist_ok=True)
    reference = json.loads(_outputs_path(shared, BASELINE).read_text())[:N]
    (tmp / "reference.json").write_text(json.dumps(reference))
    ranked = [{"id": f"p{i}", "prompt": prompt, "responses": [f"[rank=1] answer {i}", f"[rank=2] answer {i}"],
               "ranks": [1, 2]} for i, prompt in enumerate(judge_prompts(shared))]  # fmt: skip
    (tmp / "ranked.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ranked))
    server = PlantedServer(p_win=P_WIN, rating1=0, retry_every=0, q_judge=Q_JUDGE)
    planted = {key: value for key, value in PLANTED.items() if key[0] in only}
    hits = dict.fromkeys(planted, 0)
    data = {"alpaca_eval_reference": str(tmp / "reference.json"), "judge": str(tmp / "ranked.jsonl")}
    try:
        for k in reps:
            doc = run_eval(
                model_spec=server.spec("actor"), benchmarks=list(only),
                judge_spec=server.spec(f"judge-s{k}") + "?concurrency=16",
                annotator_spec=server.spec(f"judge-s{k}") + "?concurrency=16",
                data={k: v for k, v in data.items() if k.split("_reference")[0] in only},
                options={"alpaca_eval.lc": "off"} if "alpaca_eval" in only else {}, limit=N,
                store_path=str(tmp / "s.sqlite"), out_dir=str(tmp / "out" / str(k)), quiet=True,
            )  # fmt: skip
            for (bench, metric), value in planted.items():
                if metric.startswith("score --bootstrap"):  # harness score's function on the files the run wrote
                    extra = doc["benchmarks"][bench]["extra"]
                    judged = tmp / "out" / str(k) / bench / "model_judgment" / extra["judge"]
                    m = score_arena_hard(None, judged, bootstrap="battles")["models"][extra["model"]]
                else:
                    m = next(x for x in doc["benchmarks"][bench]["metrics"] if x["metric"] == metric)
                hits[bench, metric] += m["ci_low"] <= value <= m["ci_high"]
    finally:
        server.stop()
    return hits


def coverage_table(
    shared: Path,
    tmp: Path,
    reps: int,
    only: tuple[str, ...] = ("judge", "alpaca_eval", "arena_hard", "mt_bench"),
    workers: int = 2,
) -> dict[tuple[str, str], float]:
    """The share of ``reps`` seeded repetitions (seeds 0..reps-1) whose CI holds the planted value, per metric.

    The repetitions are split over ``workers`` processes, each with its own planted server and store: every draw
    is a pure function of (seed, text), so the table does not depend on the split (one process spends most of a
    repetition waiting on the server, so two overlap)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    workers = max(1, min(workers, reps))
    chunks = [range(w, reps, workers) for w in range(workers)]
    if workers == 1:
        parts = [_hits(shared, tmp, chunks[0], only)]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_hits, [shared] * workers, [tmp / f"w{w}" for w in range(workers)], chunks,
                                  [only] * workers))  # fmt: skip
    return {key: sum(p[key] for p in parts) / reps for key in parts[0]}


def test_ci_coverage_of_the_headline_metrics(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = coverage_table(shared, tmp_path, REPS)
    with capsys.disabled():
        print(f"\ncoverage of the 95% CIs over {REPS} planted repetitions:")
        for (bench, metric), cov in table.items():
            print(
                f"  {bench}.{metric}: {cov:.3f} (planted {PLANTED[bench, metric]}, expected {EXPECTED[bench, metric]:.3f})"
            )
    for key, cov in table.items():  # every row two-sided: an interval that covers too often is wrong too
        assert abs(cov - EXPECTED[key]) <= tolerance(EXPECTED[key], REPS), (key, cov)


def test_judge_interval_coverage_exactly_over_the_binomial() -> None:
    """The judge's pairwise-accuracy interval on the calibration case (30 two-response prompts, each ordered as
    the humans order it with q = 0.8), its coverage computed without Monte Carlo error over repetitions: every
    number k of faithful prompts with binomial probability above 1e-6 (the rest weigh < 1e-5 in all), weighted by
    that probability, each with 3 random arrangements of which prompts they are (the bootstrap's resamples are
    fixed by its seed, so the arrangement matters).

    The live table above measures this interval at 0.915 over 200 seeded repetitions; a share estimated from 200
    repetitions has a standard error of about 0.015, and the exact coverage here is what it estimates."""
    import numpy as np
    from scipy.stats import binom

    from benchmarks.judge.metrics import JudgedPrompt, judge_quality_report

    rng = np.random.default_rng(0)
    coverage = 0.0
    for k in (k for k in range(N + 1) if binom.pmf(k, N, Q_JUDGE) > 1e-6):
        hits = 0
        for _ in range(3):
            faithful = rng.permutation([True] * k + [False] * (N - k))
            prompts = [JudgedPrompt((0, 1), (5.0, 1.0) if f else (1.0, 5.0), f"p{i}") for i, f in enumerate(faithful)]
            m = next(x for x in judge_quality_report(prompts) if x.name == "pairwise_accuracy")
            assert m.value == k / N
            hits += m.ci_low is not None and m.ci_low <= Q_JUDGE <= m.ci_high
        coverage += binom.pmf(k, N, Q_JUDGE) * hits / 3
    print(f"\nexact coverage of judge.pairwise_accuracy's 95% CI at n = {N}, q = {Q_JUDGE}: {coverage:.3f}")
    assert abs(coverage - 0.95) <= 0.03, coverage
