"""Arena-Hard statistics: the vectorised BT fit + bootstrap vs the reference method, in one run.

    python bench/arena_hard_stats.py [--models 55] [--questions 500] [--rounds 100] [--ref-rounds 10]

Synthetic judgments (seeded): 55 models x 500 questions, two games each, verdict labels drawn from
each model's true strength. The reference method (show_result.py of July 2024: one sklearn logistic
regression per bootstrap round) is timed on ``--ref-rounds`` rounds and scaled to ``--rounds``
(printed as such); ours runs all rounds. Printed: the speed ratio and the largest score difference
(win rate vs the baseline, in %) on the full data and on the same resampled battle sets.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import arena_hard
from tests.benchmarks import arena_hard_reference as ref

LABELS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]


def synthetic(models: int, questions: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, size=models)
    rows = []
    for m in range(models):
        for q in range(questions):
            rows.append({"question_id": q, "model": f"model-{m:02d}", "games": []})
            for game in range(2):
                d = strength[m] + rng.normal(0, 1)  # > 0: the model is better than the baseline
                label = 4 if d > 1.5 else 3 if d > 0.3 else 2 if d > -0.3 else 1 if d > -1.5 else 0
                if game == 1:  # positions swapped: A is the model
                    label = 4 - label
                rows[-1]["games"].append({"score": LABELS[label]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=55)
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--ref-rounds", type=int, default=10)
    args = ap.parse_args()
    battle_list = arena_hard.battles(synthetic(args.models, args.questions, seed=0))
    models = ["gpt-4-0314", *sorted({m for m, _ in battle_list})]
    frame = ref.battles_frame(battle_list)
    n = len(battle_list)
    idx = np.random.default_rng(42).integers(0, n, size=(args.rounds, n))

    t = time.perf_counter()
    full = arena_hard.bt_mle(arena_hard.win_counts(models, battle_list, np.arange(n)[None, :]))[0]
    boot = arena_hard.bt_mle(arena_hard.win_counts(models, battle_list, idx))
    ours_s = time.perf_counter() - t

    t = time.perf_counter()
    ref_full = ref.compute_mle_elo(frame)[models].to_numpy()
    ref_boot = np.array(
        [
            ref.compute_mle_elo(frame.iloc[row].reset_index(drop=True))[models].to_numpy()
            for row in idx[: args.ref_rounds]
        ]
    )
    ref_s = (time.perf_counter() - t) * (args.rounds + 1) / (args.ref_rounds + 1)

    def wr(e: np.ndarray) -> np.ndarray:
        return 100 * arena_hard.win_rate_vs_baseline(np.atleast_2d(e))

    diff_full = float(np.max(np.abs(wr(full) - wr(ref_full))))
    diff_boot = float(np.max(np.abs(wr(boot[: args.ref_rounds]) - wr(ref_boot))))
    print(
        f"\nArena-Hard statistics: {args.models} models x {args.questions} questions, {n} battles, {args.rounds} rounds"
    )
    print(f"reference (per-round logistic regression): {ref_s:8.2f} s  (timed on {args.ref_rounds} rounds, scaled)")
    print(f"harness (vectorised BT, all rounds at once): {ours_s:8.2f} s")
    print(
        f"speed-up: {ref_s / ours_s:.1f}x   max |score difference|: full fit {diff_full:.4f}, bootstrap rounds {diff_boot:.4f}"
    )


if __name__ == "__main__":
    main()
