"""AlpacaEval 2 length-controlled win rate: ours vs alpaca_eval's own function, in one run.

    python bench/speed_alpaca_eval_lc.py [--instructions 805] [--repeats 5] [--seed 0]

Synthetic, seeded inputs shaped as the real ones: ``--instructions`` annotations of one model against
gpt4_1106_preview (preference in [1, 2], some ties 0, output lengths that drive the preference) and a
df_gamed.csv stand-in (two gamed-baseline blocks over the same instructions, as the tests build it). Both
implementations read the same df_gamed.csv file:

- reference: ``alpaca_eval.metrics.glm_winrate.get_length_controlled_winrate`` (the alpaca-eval package, a
  dev dependency), its one hub read (``hf_hub_download`` of df_gamed.csv) pointed at the local file;
- ours: ``benchmarks.alpaca_eval.scorer.length_controlled_win_rate`` with ``alpaca_eval_lc.load_gamed`` of that file.

Printed: the median time of ``--repeats`` calls of each, the speed ratio, and the LC win rate / standard
error of both with their largest difference. Exit status 1 if they differ by more than 1e-6.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.alpaca_eval import lc as alpaca_eval_lc
from benchmarks.alpaca_eval import scorer as alpaca_eval

LIMIT = 1e-6
BASELINE = "gpt4_1106_preview"


def synthetic(n: int, seed: int) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Annotations of one model vs the baseline, and a df_gamed.csv stand-in over the same instructions."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, n)

    def block(length_gain: float, quality: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        delta = rng.normal(length_gain, 600, n).round()  # len(output_1) - len(output_2)
        z = quality + 0.8 * np.tanh(delta / delta.std()) - 0.9 * difficulty + rng.normal(0, 1, n)
        pref = 1 + 1 / (1 + np.exp(-z))
        pref[rng.random(n) < 0.03] = 0  # draws
        return delta, pref

    delta, pref = block(300, quality=0.4)
    base_len = rng.integers(800, 2500, n)
    annotations = [
        {
            "instruction": f"instruction {i}",
            "output_1": "x" * int(base_len[i]),
            "output_2": "y" * int(max(1, base_len[i] + delta[i])),
            "generator_1": BASELINE,
            "generator_2": "model",
            "preference": float(pref[i]),
        }
        for i in range(n)
    ]
    blocks = []
    for name, gain in (("gamed_verbose", 900), ("gamed_concise", -900)):
        d, p = block(gain)
        columns = {
            "model": name, "index": range(n), "preference": np.where(p == 0, 1.5, p) - 1,
            "std_delta_len": d / d.std(), "instruction_difficulty": difficulty, "not_gamed_baseline": False,
        }  # fmt: skip
        blocks.append(pd.DataFrame(columns))
    return annotations, pd.concat(blocks, ignore_index=True)


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instructions", type=int, default=805)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import sklearn
    from alpaca_eval.metrics import glm_winrate  # the reference implementation (dev dependency)

    annotations, gamed = synthetic(args.instructions, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / alpaca_eval_lc.GAMED_FILE
        gamed.to_csv(csv, index=False)
        glm_winrate.hf_hub_download = lambda **kw: str(csv)  # its only hub read: df_gamed.csv

        def reference() -> dict[str, Any]:
            with sklearn.config_context(), warnings.catch_warnings():  # alpaca_eval sets sklearn's global config
                warnings.simplefilter("ignore", FutureWarning)
                frame = pd.DataFrame(annotations)
                return glm_winrate.get_length_controlled_winrate(frame, save_weights_dir=None)

        def ours() -> alpaca_eval_lc.LCResult:
            return alpaca_eval.length_controlled_win_rate(annotations, gamed=alpaca_eval_lc.load_gamed(csv))

        t_ref, ref = timed(reference, args.repeats)
        t_ours, res = timed(ours, args.repeats)

    diff = max(abs(res.win_rate - ref["length_controlled_winrate"]), abs(res.standard_error - ref["lc_standard_error"]))
    print(f"LC win rate, {args.instructions} annotations + {len(gamed)} gamed rows, median of {args.repeats} calls")
    print(f"  alpaca_eval get_length_controlled_winrate: {t_ref * 1000:8.1f} ms")
    print(f"  harness length_controlled_win_rate:        {t_ours * 1000:8.1f} ms")
    print(f"  ratio (alpaca_eval / harness): {t_ref / t_ours:.2f}x")
    print(
        f"  LC win rate {res.win_rate:.6f} vs {ref['length_controlled_winrate']:.6f}, "
        f"SE {res.standard_error:.6f} vs {ref['lc_standard_error']:.6f}; max difference {diff:.2e} (limit {LIMIT:g})"
    )
    return 0 if diff <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
