"""The HF backend's batch size and KV cache on the demo's heaviest work: M1 judging iteration 1's candidates.

    python bench/hf_batch_size.py [--sizes 16,32,64,256] [--prompts 120]

The demo judges with the HF backend at ``batch_size: 64`` (training/configs/demo.yaml). This bench judges the first
``--prompts`` prompts' candidates of ``demo/run/iter_1/candidates.jsonl`` with ``demo/run/m1`` exactly as the demo's
judge stage asks (the compact additive prompt, 2 judgments per response, temperature 0.3, top-p 0.95, 80 tokens), at
each batch size in one process, then at 64 with ``cache=dynamic`` (transformers' default cache instead of the
backend's static one), and prints each one's seconds, its ratio to the demo's 64, and whether every text equals the
batch-64 run's (the per-sample seeded sampler makes a sample independent of its batch). Needs ``make demo`` first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends import load_model  # noqa: E402
from judges.pointwise import PointwiseJudge  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16,32,64,256", help="batch sizes to time (64 is the demo's)")
    ap.add_argument("--prompts", type=int, default=120, help="prompts of iteration 1 whose candidates are judged")
    args = ap.parse_args()
    run = ROOT / "demo" / "run"
    if not (run / "m1").is_dir() or not (run / "iter_1" / "candidates.jsonl").is_file():
        print(f"hf_batch_size: {run} has no m1 or iter_1/candidates.jsonl (run make demo first)")
        return 1
    rows = [json.loads(line) for line in (run / "iter_1" / "candidates.jsonl").read_text().splitlines()][: args.prompts]
    items = [(r["prompt"], response) for r in rows for response in r["responses"]]
    sizes = [int(x) for x in args.sizes.split(",")]
    seconds: dict[int | str, float] = {}
    texts: dict[int | str, list[list[str]]] = {}
    runs: list[int | str] = [64, *[s for s in sizes if s != 64], "64, cache=dynamic"]
    for size in runs:
        option = "64&cache=dynamic" if isinstance(size, str) else str(size)
        model = load_model(f"hf:{run / 'm1'}?batch_size={option}")
        judge = PointwiseJudge(model, None, prompt="pointwise_additive_compact", n=2, temperature=0.3, top_p=0.95,  # type: ignore[arg-type]
                               max_tokens=80, seed=0)  # fmt: skip
        start = time.perf_counter()
        out = model.generate(judge.requests(items))
        seconds[size] = time.perf_counter() - start
        texts[size] = [[c.text for c in comps] for comps in out]
        model.close()
    print(f"M1 judging {len(items)} responses x 2 judgments (80 tokens) with the HF backend, 2 cores:")
    for size in [*sizes, runs[-1]]:
        same = sum(a == b for a, b in zip(texts[size], texts[64], strict=True))
        print(f"  batch {size:>4}: {seconds[size]:6.1f} s, {seconds[size] / seconds[64]:.2f} x the demo's 64; "
              f"texts equal to batch 64's: {same} of {len(items)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
