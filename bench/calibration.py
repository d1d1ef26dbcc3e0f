"""CI coverage of the live headline metrics against planted truths: the README's calibration table, in one run.

    python bench/calibration.py [--reps 1000] [--only judge,alpaca_eval,arena_hard,mt_bench] [--judge-reps 3000]

Runs ``tests.app.test_calibration.coverage_table`` (live `harness eval` runs against tests/planted_server.py, a
fresh seeded draw per repetition; see that module) and prints, per metric, the share of repetitions whose 95% CI
holds the planted value beside the coverage it should reach. Needs ../shared/data (the AlpacaEval reference
outputs). The test asserts the same table over 200 repetitions; this script runs 1000 (a share's standard error
about 0.007) and says, per row, whether it lies within the test's band (3 standard errors) and within 0.95 +- 0.02.
Then it repeats the judge alone 3000 times (about 10 minutes): its interval over 30 two-response prompts is
decided by the number of faithful prompts (:func:`covered_counts`), so the seeds' own binomial luck moves the share
(printed: the share of seeds 0..reps-1 that draw a covered number, against 0.948 in expectation), and 3000
repetitions shrink that error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app.test_calibration import EXPECTED, PLANTED, Q_JUDGE, N, coverage_table, judge_prompts, tolerance  # noqa: E402


def covered_counts() -> set[int]:
    """The numbers k of faithful prompts (of N) for which the judge's pairwise-accuracy interval holds Q_JUDGE:
    the live interval (``judge_quality_report``, its seed) on N two-response prompts, the first k ordered as the
    humans order them. Its bounds move in steps of 1/N, so coverage is decided by k alone (up to the arrangement,
    which moves a bound by at most one step at the edges)."""
    from benchmarks.judge.metrics import JudgedPrompt, judge_quality_report

    covered = set()
    for k in range(N + 1):
        prompts = [JudgedPrompt((0, 1), (5.0, 1.0) if i < k else (1.0, 5.0), f"p{i}") for i in range(N)]
        m = next(x for x in judge_quality_report(prompts) if x.name == "pairwise_accuracy")
        covered |= {k} if m.ci_low is not None and m.ci_low <= Q_JUDGE <= m.ci_high else set()
    return covered


def seeds_luck(shared: Path, reps: int, covered: set[int]) -> float:
    """The share of seeds 0..reps-1 whose planted judge is faithful on a covered number of the N calibration
    prompts, drawn by the planted server's own function on the prompts the calibration run sends."""
    from tests.planted_server import judge_faithful

    prompts = judge_prompts(shared)
    counts = [sum(judge_faithful(seed, Q_JUDGE, p) for p in prompts) for seed in range(reps)]
    return sum(k in covered for k in counts) / reps


def _table(shared: Path, reps: int, only: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        table = coverage_table(shared, Path(tmp), reps, only)
    print(f"CI coverage over {reps} planted repetitions (95% intervals):")
    for key, cov in table.items():
        band = tolerance(EXPECTED[key], reps)
        inside = "inside" if abs(cov - EXPECTED[key]) <= band else "OUTSIDE"
        # the harness's own intervals should cover 0.95 +- 0.02; the peer's battle bootstrap is reproduced to show
        # its gap, against the coverage the test computes for it
        nominal = EXPECTED[key] == 0.95
        within = (
            f"0.95 +- 0.02: {'inside' if abs(cov - 0.95) <= 0.02 else 'OUTSIDE'}" if nominal else "the peer's interval"
        )
        print(
            f"  {key[0]}.{key[1]}: {cov:.3f}  planted {PLANTED[key]}, expected {EXPECTED[key]:.3f} "
            f"+- {band:.3f} (3 SE at {reps}): {inside}; {within}"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1000, help="repetitions of every benchmark (about 8 min on 2 cores)")
    ap.add_argument("--only", default="judge,alpaca_eval,arena_hard,mt_bench", help="benchmarks to repeat")
    ap.add_argument("--judge-reps", type=int, default=3000, help="then the judge alone over this many repetitions")
    args = ap.parse_args()
    shared = ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        print(f"calibration: {shared} not found (the AlpacaEval reference outputs are read from it)")
        return 1
    _table(shared, args.reps, tuple(args.only.split(",")))
    if args.judge_reps:
        _table(shared, args.judge_reps, ("judge",))
    covered = covered_counts()
    for reps in (args.reps, args.judge_reps):
        if reps:
            print(f"  the judge row's seeds 0..{reps - 1}: {seeds_luck(shared, reps, covered):.3f} of them draw "
                  f"{min(covered)} to {max(covered)} faithful prompts of {N}, the counts its interval covers "
                  f"(0.948 expected, the exact coverage)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
