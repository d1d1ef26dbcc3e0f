"""Throughput of `harness` generation vs the raw engine, on the same prompts, in one run.

    python bench/speed_generate.py [--prompts 256] [--max-tokens 64]

Prints, for the vLLM engine and for HF transformers, the harness path (backend + runner +
SQLite store, cold store) as a ratio of the raw engine's tokens/s. The harness runs
``runner.generate`` with its defaults, the path every command takes (requests streamed
through the engine, each stored as it finishes); the raw vLLM engine is given all prompts
at once (``LLM.chat``), raw HF ``generate`` batches them in order. The raw and harness
runs alternate and the best of each is kept, so warm-up and prefix-cache effects fall on both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


def _prompts(k: int) -> list[str]:
    topics = ["lists", "dicts", "classes", "loops", "exceptions", "modules", "strings", "numbers"]
    return [f"Explain {topics[i % len(topics)]} in Python, example {i}." for i in range(k)]


def _best(fn, reps: int = 2) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_vllm(model_dir: Path, prompts: list[str], max_tokens: int) -> tuple[float, float]:
    from vllm import SamplingParams

    from harness.backends import load_model
    from harness.runner import Run, generate
    from harness.store import Store
    from harness.types import Request

    tmp = Path(tempfile.mkdtemp())
    model = load_model(f"vllm:{model_dir}")
    llm = model.llm  # the same engine instance: the raw path calls it directly
    convs = [[{"role": "user", "content": p}] for p in prompts]
    raw_params = [SamplingParams(n=1, temperature=1.0, max_tokens=max_tokens, seed=i) for i in range(len(prompts))]
    counter = iter(range(1000))

    def raw() -> None:
        llm.chat(convs, raw_params, use_tqdm=False)

    def harness() -> None:
        store = Store(tmp / f"s{next(counter)}.sqlite")  # a cold store every time: all calls are made
        reqs = [Request.user(p, seed=i, max_tokens=max_tokens, temperature=1.0) for i, p in enumerate(prompts)]
        generate(model, reqs, Run.start(store, "bench", {}))  # the product path's defaults
        store.close()

    raw()  # warm-up
    t_raw, t_h = [], []
    for _ in range(2):
        t_raw.append(_best(raw, 1))
        t_h.append(_best(harness, 1))
    model.close()
    return min(t_raw), min(t_h)


def bench_hf(model_dir: Path, prompts: list[str], max_tokens: int, batch: int) -> tuple[float, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.backends import load_model
    from harness.runner import Run, generate
    from harness.store import Store
    from harness.types import Request

    tmp = Path(tempfile.mkdtemp())
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    hf = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    texts = [
        tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]
    counter = iter(range(1000))

    def raw() -> None:
        torch.manual_seed(0)
        for s in range(0, len(texts), batch):
            enc = tok(texts[s : s + batch], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                hf.generate(
                    **enc, do_sample=True, temperature=1.0, max_new_tokens=max_tokens, pad_token_id=tok.pad_token_id
                )

    model = load_model(f"hf:{model_dir}?batch_size={batch}")

    def harness() -> None:
        store = Store(tmp / f"s{next(counter)}.sqlite")
        reqs = [Request.user(p, seed=i, max_tokens=max_tokens, temperature=1.0) for i, p in enumerate(prompts)]
        generate(model, reqs, Run.start(store, "bench", {}))  # the product path's defaults
        store.close()

    raw()
    t_raw, t_h = [], []
    for _ in range(2):
        t_raw.append(_best(raw, 1))
        t_h.append(_best(harness, 1))
    return min(t_raw), min(t_h)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--hf-prompts", type=int, default=64)
    ap.add_argument("--skip-vllm", action="store_true")
    args = ap.parse_args()
    from training.tiny import make_tiny

    model_dir = make_tiny(Path(tempfile.mkdtemp()) / "tiny", seed=0)
    rows = []
    if not args.skip_vllm:
        raw, h = bench_vllm(model_dir, _prompts(args.prompts), args.max_tokens)
        rows.append(("vLLM engine", args.prompts, raw, h))
    raw, h = bench_hf(model_dir, _prompts(args.hf_prompts), args.max_tokens, batch=16)
    rows.append(("HF generate", args.hf_prompts, raw, h))
    print(f"\ngenerate throughput, tiny model, {args.max_tokens} new tokens/prompt")
    print(f"{'engine':<14}{'prompts':>8}{'raw s':>9}{'harness s':>11}{'ratio (harness/raw tok/s)':>28}")
    for name, k, raw, h in rows:
        print(f"{name:<14}{k:>8}{raw:>9.2f}{h:>11.2f}{raw / h:>28.2f}")


if __name__ == "__main__":
    main()
