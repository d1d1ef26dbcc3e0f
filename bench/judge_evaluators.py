"""The evaluator table of README "Reading the judge diagnostics", in one run: two planted judges and their ensemble.

    python bench/judge_evaluators.py [--q 0.7] [--pairwise]

Starts tests/planted_server.py and runs `harness eval --benchmarks judge --judge J1 --judge J2` on the real OASST
sample (../shared/data/Open-Assistant/en_100_tree.jsonl, 212 prompts, 641 responses). Each planted judge scores a
response by a seeded draw (``tests.planted_server.unranked_score``): a score shared by both judges with probability
``q``, else its own; so they agree in part, and ignore the human ranks (accuracy at chance). Prints the command's
evaluator table and alpha as the user sees them (100 columns).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import PlantedServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--q", type=float, default=0.7, help="the share of responses both judges score alike")
    ap.add_argument("--pairwise", action="store_true", help="also judge best-vs-worst pairs in both orders")
    args = ap.parse_args()
    data = ROOT.parent / "shared" / "data" / "Open-Assistant" / "en_100_tree.jsonl"
    if not data.is_file():
        print(f"judge_evaluators: {data} not found", file=sys.stderr)
        return 2
    server = PlantedServer(q_judge=args.q)
    try:
        specs = [server.spec(f"judge-s{k}") + "?concurrency=16" for k in (1, 2)]
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "app", "eval", "--model", specs[0], "--judge", specs[0], "--judge", specs[1],
                   "--benchmarks", "judge", "--data", str(data), "--option", "judge_n=1",
                   *(["--option", "judge.pairwise=true"] if args.pairwise else []),
                   "--store", f"{tmp}/s.sqlite", "--out", f"{tmp}/out"]  # fmt: skip
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "100"})
    finally:
        server.stop()
    if res.returncode != 0:
        print(res.stderr[-2000:], file=sys.stderr)
        return res.returncode
    err = res.stderr
    start = err.index("judge: evaluators")
    start = err.rfind("\n", 0, start) + 1
    print(f"two planted judges (shared score with probability {args.q}) on {data.name}:")
    print("\n".join(line.rstrip() for line in err[start:].splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
