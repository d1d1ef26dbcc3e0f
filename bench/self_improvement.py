"""Does the gain come from self-rewarding? The demo config run twice: with the model's own judge, and with the
control where every judge score is replaced by a seeded random one (``judge.random_scores: true``).

Both runs start from the same M1 (same seed, same SFT) and evaluate on the same 300 held-out prompts per metric,
so every comparison is paired. Printed, for the actor (taskworld.accuracy) and the judge
(judge.pairwise_accuracy_ties_excluded):

- the gain of each run, last iteration minus M1, with its paired-bootstrap 95% CI;
- the difference of the gains (real judge minus control) with its 95% CI. Both gains share M1, so the
  difference is last(real) - last(control), paired over the same items.

Usage: ``python bench/self_improvement.py [--out DIR] [--seed S]`` (about 2 x 9 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.paired import STATISTICS  # noqa: E402
from harness.stats import paired_bootstrap  # noqa: E402

METRICS = [("actor", "taskworld", "accuracy"), ("judge", "judge", "pairwise_accuracy_ties_excluded")]


def run(config: dict[str, Any], out: Path) -> tuple[dict[str, Any], float]:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "run.yaml"
    path.write_text(yaml.safe_dump({**config, "out_dir": str(out / "run")}))
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "app", "iterate", "--config", str(path), "--store", str(out / "store.sqlite")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if res.returncode != 0:
        raise SystemExit(f"run in {out} failed:\n{res.stderr[-2000:]}")
    return json.loads((out / "run" / "summary.json").read_text()), time.monotonic() - start


def units(run_dir: Path, iteration: int) -> dict[str, Any]:
    return json.loads((run_dir / f"iter_{iteration - 1}" / "eval_units.json").read_text())


def fmt(d: Any) -> str:
    return f"{d.value:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="self_improvement."))
    base = yaml.safe_load((ROOT / "training" / "configs" / "demo.yaml").read_text())
    base["seed"] = args.seed
    base["gates"] = []  # both runs go the full length: the bench compares what they learned, not the gates
    control = {**base, "judge": {**base["judge"], "random_scores": True}}
    (real, t_real), (rand, t_rand) = run(base, out / "real"), run(control, out / "control")
    last = len(real["iterations"])
    assert last == len(rand["iterations"]), "the two runs did not make the same number of iterations"
    print(f"runs: real judge {t_real:.0f} s, random-score control {t_rand:.0f} s; M1 -> M{last}; {out}")
    print(f"{'':7}{'metric':40} {'gain, real judge':>26} {'gain, control':>26} {'real - control':>26}")
    for role, bench, metric in METRICS:
        prepare, stats = STATISTICS[bench]()
        stat = stats[metric]
        first = units(out / "real" / "run", 1)[bench]
        got_real, got_rand = units(out / "real" / "run", last)[bench], units(out / "control" / "run", last)[bench]
        items = sorted(set(first) & set(got_real) & set(got_rand))
        u0, ur, uc = ([prepare(u[i]) for i in items] for u in (first, got_real, got_rand))
        g_real = paired_bootstrap(u0, ur, stat, seed=args.seed)
        g_rand = paired_bootstrap(u0, uc, stat, seed=args.seed)
        diff = paired_bootstrap(uc, ur, stat, seed=args.seed)  # (real - M1) - (control - M1)
        name = f"{bench}.{metric}"
        print(f"{role:7}{name:40} {fmt(g_real):>26} {fmt(g_rand):>26} {fmt(diff):>26}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
