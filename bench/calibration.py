"""CI coverage of the live headline metrics against planted truths: the README's calibration table, in one run.

    python bench/calibration.py [--reps 200] [--only judge,alpaca_eval,arena_hard,mt_bench]

Runs ``tests.app.test_calibration.coverage_table`` (live `harness eval` runs against tests/planted_server.py, a
fresh seeded draw per repetition; see that module) and prints, per metric, the share of repetitions whose 95% CI
holds the planted value beside the coverage it should reach. Needs ../shared/data (the AlpacaEval reference
outputs). The test asserts the same table; this script is what README quotes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app.test_calibration import EXPECTED, KNOWN_GAPS, PLANTED, coverage_table  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--only", default="judge,alpaca_eval,arena_hard,mt_bench", help="benchmarks to repeat")
    args = ap.parse_args()
    shared = ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        print(f"calibration: {shared} not found (the AlpacaEval reference outputs are read from it)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        table = coverage_table(shared, Path(tmp), args.reps, tuple(args.only.split(",")))
    print(f"CI coverage over {args.reps} planted repetitions (95% intervals):")
    for key, cov in table.items():
        gap = "  (known gap)" if key in KNOWN_GAPS else ""
        print(f"  {key[0]}.{key[1]}: {cov:.3f}  planted {PLANTED[key]}, expected {EXPECTED[key]:.3f}{gap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
