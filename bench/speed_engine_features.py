"""Engine-level figures, each a ratio measured in one run on the tiny model (vLLM engine):

1. n=N samples in one request vs N separate requests (seeds seed+i), same samples;
2. prefix caching on vs off for pointwise judge prompts (long shared template prefix);
3. a resumed, finished run: time and model calls of the second run vs the first.

    python bench/speed_engine_features.py [--items 64] [--n 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()

    from harness.backends import load_model
    from harness.runner import Run, generate
    from harness.store import Store
    from harness.types import Request
    from judges.pointwise import PointwiseJudge
    from training.tiny import make_tiny

    tmp = Path(tempfile.mkdtemp())
    model_dir = make_tiny(tmp / "tiny", seed=0)
    prompts = [f"Explain item {i} of the Python data model." for i in range(args.items)]
    rows = []

    model = load_model(f"vllm:{model_dir}")
    one = [Request.user(p, n=args.n, seed=100 * i, max_tokens=32, temperature=1.0) for i, p in enumerate(prompts)]
    many = [
        Request.user(p, n=1, seed=100 * i + j, max_tokens=32, temperature=1.0)
        for i, p in enumerate(prompts)
        for j in range(args.n)
    ]
    model.generate(one[:4])  # warm-up
    t_one = timed(lambda: model.generate(one))
    t_many = timed(lambda: model.generate(many))
    rows.append((f"n={args.n} in one request vs {args.n} requests (speed-up)", t_many / t_one))

    judge_items = [(p, f"Answer number {i}.") for i, p in enumerate(prompts)]

    def judge_time(m) -> float:
        store = Store(tmp / f"judge{time.time_ns()}.sqlite")
        judge = PointwiseJudge(m, Run.start(store, "bench", {}), n=1, max_tokens=16)
        judge.score(judge_items[:4])
        return timed(lambda: judge.score(judge_items[4:]))

    t_cache = judge_time(model)
    model.close()
    nocache = load_model(f"vllm:{model_dir}?enable_prefix_caching=false")
    t_nocache = judge_time(nocache)
    nocache.close()
    rows.append(("prefix caching on vs off, judge prompts (speed-up)", t_nocache / t_cache))

    hf = load_model(f"hf:{model_dir}")
    store = Store(tmp / "resume.sqlite")
    reqs = [Request.user(p, n=2, seed=i, max_tokens=32) for i, p in enumerate(prompts)]
    run1 = Run.start(store, "bench", {})
    t_first = timed(lambda: generate(hf, reqs, run1))
    run2 = Run.start(store, "bench", {})
    t_second = timed(lambda: generate(hf, reqs, run2))
    rows.append(("resumed finished run: time vs first run (fraction)", t_second / t_first))
    made = run1.stats.calls_made
    rows.append((f"resumed finished run: model calls (first run made {made})", float(run2.stats.calls_made)))

    print(f"\nengine features, tiny model, {args.items} prompts")
    for name, value in rows:
        print(f"{name:<60}{value:>10.3f}")


if __name__ == "__main__":
    main()
