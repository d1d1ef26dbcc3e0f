"""Does the gain come from self-rewarding? The demo config run five times: with the model's own judge; with the
control where every judge score is replaced by a seeded random one (``judge.random_scores: true``); with the
meta-judge control where every meta-judge verdict is a seeded coin flip (``judge.random_meta_verdicts: true``:
judge pairs without the meta-judge's signal, the judge's own gain's floor); with the oracle where every score is the task world's reference score of the response (``judge.reference_scores: true``); and with the meta-judge's
ceiling, where every meta-judge verdict is the answer key's (``judge.reference_meta_verdicts: true``: the judgment
whose score lies nearer the reference score wins, so the judge pairs are the ones a perfect meta-judge would
choose from the same judgments).
The control is the floor (pairs without the judge's signal), the oracle the ceiling (what a perfect judge would
gain through the same prompts, candidates, pair selection and DPO); neither is self-rewarding.

The runs start from the same M1 (same seed, same SFT) and evaluate on the same 300 held-out prompts per metric,
so every comparison is paired. Printed, for the actor (taskworld.accuracy) and the judge
(judge.pairwise_accuracy with ties counted, and judge.pairwise_accuracy_ties_excluded), beside each arm's judge
tie rate at M1 and at the last iteration and its change (judge.judge_tie_rate, paired like the others):

- the gain of each run, last iteration minus M1, with its paired-bootstrap 95% CI;
- the differences of the gains, real judge minus control and real judge minus oracle, with their 95% CIs. The
  gains share M1, so a difference is last(real) - last(other), paired over the same items.

Usage: ``python bench/self_improvement.py [--out DIR] [--seed S]`` (about 5 x 7 minutes on 2 cores; with the
``--out`` of a finished run it re-reads the runs, whose stages all resume, in a minute or two).
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

from benchmarks.core.registry import get  # noqa: E402
from harness.stats import paired_bootstrap  # noqa: E402

# the judge's agreement both ways (ties counted, and ties excluded) beside its tie rate, so that a judge that only
# ties more is never read as better (issue 34)
METRICS = [("actor", "taskworld", "accuracy"), ("judge", "judge", "pairwise_accuracy"),
           ("judge", "judge", "pairwise_accuracy_ties_excluded"), ("judge", "judge", "judge_tie_rate")]  # fmt: skip


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
    base["gates"] = []  # every run goes the full length: the bench compares what they learned, not the gates
    arms = {  # name: (output folder, config)
        "real judge": ("real", base),
        "random-score control": ("random", {**base, "judge": {**base["judge"], "random_scores": True}}),
        "meta-judge coin-flip control": (
            "coinflip",
            {**base, "judge": {**base["judge"], "random_meta_verdicts": True}},
        ),
        "reference-score oracle": ("reference", {**base, "judge": {**base["judge"], "reference_scores": True}}),
        "answer-key meta-judge": (
            "metaoracle",
            {**base, "judge": {**base["judge"], "reference_meta_verdicts": True}},
        ),
    }
    dirs = {name: out / folder for name, (folder, _) in arms.items()}
    took = {name: run(cfg, dirs[name])[1] for name, (_, cfg) in arms.items()}
    lasts = {len(json.loads((d / "run" / "summary.json").read_text())["iterations"]) for d in dirs.values()}
    assert len(lasts) == 1, "the runs did not make the same number of iterations"
    last = lasts.pop()
    print("runs: " + ", ".join(f"{name} {t:.0f} s" for name, t in took.items()) + f"; M1 -> M{last}; {out}")
    for name, d in dirs.items():  # the judge's tie rate at M1 and at the last iteration, per arm
        its = json.loads((d / "run" / "summary.json").read_text())["iterations"]
        ties = [it.get("judge.judge_tie_rate") for it in (its[0], its[-1])]
        shown = " -> ".join("-" if t is None else f"{t:.3f}" for t in ties)
        print(f"  judge tie rate, {name:34} M1 -> M{last}: {shown}")
    for role, bench, metric in METRICS:
        first = units(dirs["real judge"] / "run", 1)[bench]
        pairing = get(bench).paired
        assert pairing is not None, bench
        prepare, stats = pairing(list(first.values()))
        stat = stats[metric]
        got = {name: units(d / "run", last)[bench] for name, d in dirs.items()}
        items = sorted(set(first).intersection(*got.values()))
        u0 = [prepare(first[i]) for i in items]
        u = {name: [prepare(g[i]) for i in items] for name, g in got.items()}
        print(f"{role} {bench}.{metric} (M{last} - M1, paired 95% CI over {len(items)} items)")
        for name in arms:
            print(f"  {'gain, ' + name:40} {fmt(paired_bootstrap(u0, u[name], stat, seed=args.seed)):>26}")
        for other in ("random-score control", "meta-judge coin-flip control", "reference-score oracle",
                      "answer-key meta-judge"):  # fmt: skip
            # (real - M1) - (other - M1) = real - other on the same items
            diff = paired_bootstrap(u[other], u["real judge"], stat, seed=args.seed)
            print(f"  {'real judge - ' + other.removesuffix(' control'):40} {fmt(diff):>26}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
