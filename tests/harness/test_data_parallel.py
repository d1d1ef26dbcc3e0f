"""Scale-out on vLLM's own data parallelism: `vllm serve --data-parallel-size 2` (two engine replicas behind one API
server) driven by one harness process and one store, against the same model served by one engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.backends import load_model
from harness.runner import Run, generate
from harness.store import Store
from harness.types import Request
from tests.conftest import missing, require
from tests.servers import VLLMServer


def _served_per_engine(metrics: str) -> dict[str, float]:
    """Finished requests per engine replica, from vLLM's Prometheus counter ``vllm:request_success_total``."""
    out: dict[str, float] = {}
    for labels, value in re.findall(r"^vllm:request_success_total\{([^}]*)\} ([0-9.e+]+)$", metrics, re.M):
        engine = re.search(r'engine="([^"]+)"', labels)
        if engine:
            out[engine.group(1)] = out.get(engine.group(1), 0.0) + float(value)
    return out


def _texts(model: Any, store: Store, prompts: list[str]) -> list[str]:
    reqs = [Request.user(p, temperature=0.0, max_tokens=16) for p in prompts]
    return [c[0].text for c in generate(model, reqs, Run.start(store, "t", {}))]


def test_two_data_parallel_replicas_give_one_engines_completions(tmp_path: Path) -> None:
    """``vllm:BASE?data_parallel_size=2`` (the backend starts ``vllm serve --data-parallel-size 2``: two engine
    replicas behind one API server) stores the same greedy completions as one engine served alone, and both
    replicas answered requests (the engine's own per-replica counters). The model is the demo's pretrained tiny
    base: a random tiny model answers every prompt with the same newlines, which no comparison could tell apart."""
    require("vllm")
    from training.tiny import BASE_ARCH, base_key, cache_dir

    base = cache_dir() / "tiny" / f"base-{base_key(0, BASE_ARCH)}"
    if not (base / "model.safetensors").is_file():
        missing(f"the pretrained tiny base is not built at {base} (make setup builds it)")
    n = 32
    prompts = [f"What is {3 * i + 1} + {i + 4}?" for i in range(n)]
    # the one-engine server starts while the two replicas do (each start is CPU-bound for ~40 s here)
    single = VLLMServer(base, "base", tmp_path / "one.log", max_model_len=2048)
    store = Store(tmp_path / "s.sqlite")
    try:
        dp = load_model(f"vllm:{base}?data_parallel_size=2&max_model_len=2048&enforce_eager=true", store=store)
        try:
            two = _texts(dp, store, prompts)
            per_engine = _served_per_engine(dp.metrics())  # type: ignore[attr-defined]
        finally:
            dp.close()
        one = _texts(load_model(single.spec, store=store), store, prompts)
    finally:
        single.stop()
    assert two == one
    assert len(set(one)) >= 8  # the answers differ by prompt: a mix-up of requests would show
    assert sorted(per_engine) == ["0", "1"], per_engine
    assert sum(per_engine.values()) == n and min(per_engine.values()) >= 1, per_engine
    assert store.count_generations() == 2 * n  # two identities (served replicas, plain server), n rows each
