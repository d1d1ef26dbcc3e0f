"""Arena-Hard statistics: the batched Bradley-Terry fit + bootstrap vs the reference method, in one run.

    python bench/speed_arena_hard.py [--models 55] [--questions 500] [--rounds 100] [--ref-rounds 10] [--seed 42]

Synthetic judgments (seeded, ``tests/benchmarks/arena_hard/reference.write_synthetic_judgments``): ``--models``
models x ``--questions`` questions, two games each against the baseline. Both methods start from the same
battle list and draw the same resampled index sets (show_result's stream: ``np.random.seed(seed)`` then
``DataFrame.sample(frac=1.0, replace=True)`` per round; ours reproduces it with a private RandomState).

- reference: show_result.py of July 2024, one sklearn logistic regression on the duplicated one-hot battle
  matrix for the full data and one per bootstrap round. It runs ``--ref-rounds`` rounds (all of them with
  ``--ref-rounds`` = ``--rounds``); its time for ``--rounds`` rounds is extrapolated linearly from the
  per-round time, and printed as such.
- ours: ``benchmarks.arena_hard.stats.bootstrap_elo``, the full fit and all ``--rounds`` rounds.

Printed: both times, the speed ratio (target >= 50x) and the largest score difference (win rate against the
baseline, 0-100) over the full fit and every reference round (must be <= 0.05); with all rounds run, also the
CI bounds. Exit status 1 if the difference exceeds 0.05.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.arena_hard import scorer as arena_hard
from benchmarks.arena_hard import stats as arena_hard_stats
from tests.benchmarks.arena_hard import reference as ref

LIMIT = 0.05


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=55)
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--ref-rounds", type=int, default=10, help="reference rounds actually run (<= --rounds)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    ref_rounds = min(args.ref_rounds, args.rounds)

    with tempfile.TemporaryDirectory() as tmp:
        ref.write_synthetic_judgments(Path(tmp), args.models, args.questions, seed=0)
        judgments = arena_hard.load_judgments(tmp)
        frame = ref.battles_from_judgments(Path(tmp))
    battles = arena_hard.make_battles(judgments)
    models = list(battles.models)
    n = battles.model_b.size
    assert len(frame) == n, "reference and harness battle lists differ"

    t0 = time.perf_counter()
    full, boot = arena_hard_stats.bootstrap_elo(
        np.zeros_like(battles.model_b), battles.model_b, battles.outcome, len(models), 0,
        rounds=args.rounds, seed=args.seed,
    )  # fmt: skip
    ours_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ref_full = ref.compute_mle_elo(frame)[models].to_numpy()
    full_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_boot = ref.bootstrap_elo(frame, ref_rounds, seed=args.seed)[models].to_numpy()
    per_round = (time.perf_counter() - t0) / ref_rounds
    ref_s = full_s + per_round * args.rounds

    def score(elo: np.ndarray) -> np.ndarray:
        return 100 * arena_hard_stats.predict_win_rate(elo)

    diff_full = float(np.max(np.abs(score(full) - score(ref_full))))
    diff_rounds = float(np.max(np.abs(score(boot[:ref_rounds]) - score(ref_boot))))
    worst = max(diff_full, diff_rounds)
    print(f"Arena-Hard statistics: {args.models} models x {args.questions} questions, {n} battles (weights expanded), "
          f"{args.rounds} bootstrap rounds, seed {args.seed}")  # fmt: skip
    how = "measured" if ref_rounds == args.rounds else f"full fit + {ref_rounds} rounds measured, extrapolated"
    print(f"  reference (sklearn logistic regression per round): {ref_s:9.2f} s  ({how}; {per_round:.3f} s / round)")
    print(
        f"  harness   (batched Newton, all rounds at once):     {ours_s:9.3f} s  (measured, full fit + {args.rounds} rounds)"
    )
    print(f"  speed-up: {ref_s / ours_s:.0f}x  (target >= 50x: {'met' if ref_s / ours_s >= 50 else 'NOT met'})")
    print(
        f"  max |score difference| (0-100 scale): full fit {diff_full:.2e}, {ref_rounds} bootstrap rounds {diff_rounds:.2e}"
    )
    if ref_rounds == args.rounds:
        lo, hi = arena_hard_stats.percentile_interval(boot)
        rlo, rhi = np.percentile(ref_boot, 2.5, axis=0), np.percentile(ref_boot, 97.5, axis=0)
        diff_ci = float(max(np.abs(score(lo) - score(rlo)).max(), np.abs(score(hi) - score(rhi)).max()))
        print(f"  max |CI bound difference|: {diff_ci:.2e}")
        worst = max(worst, diff_ci)
    print(f"  accuracy (<= {LIMIT}): {'ok' if worst <= LIMIT else 'FAILED'}")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
