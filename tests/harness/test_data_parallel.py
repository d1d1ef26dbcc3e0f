"""Scale-out on vLLM's own data parallelism: `vllm serve --data-parallel-size 2` (two engine replicas behind one API
server) driven by one harness process and one store, against the same model served by one engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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


def _generate(spec: str, prompts: Path, out: Path, store: Path) -> list[list[str]]:
    cmd = [sys.executable, "-m", "app", "generate", "--model", spec, "--prompts", str(prompts), "--out", str(out),
           "--store", str(store), "--temperature", "0", "--max-tokens", "16"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return [json.loads(line)["outputs"] for line in out.read_text().splitlines()]


def test_two_data_parallel_replicas_give_one_engines_completions(tmp_path: Path) -> None:
    """Greedy: the two-replica server's stored completions equal the one-engine server's, and both replicas
    answered requests (the engine's own per-replica counters). The model is the demo's pretrained tiny base (a
    random tiny model answers every prompt with the same newlines, which no comparison could tell apart)."""
    require("vllm")
    from training.tiny import BASE_ARCH, base_key, cache_dir

    base = cache_dir() / "tiny" / f"base-{base_key(0, BASE_ARCH)}"
    if not (base / "model.safetensors").is_file():
        missing(f"the pretrained tiny base is not built at {base} (make setup builds it)")
    n = 32
    prompts = tmp_path / "p.jsonl"
    rows = [{"id": i, "prompt": f"What is {3 * i + 1} + {i + 4}?"} for i in range(n)]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # both start at once (each start is CPU-bound for ~40 s here); `spec` waits for its server
    dp = VLLMServer(base, "base", tmp_path / "dp.log", data_parallel_size=2, max_model_len=2048)
    single = VLLMServer(base, "base", tmp_path / "one.log", max_model_len=2048)
    try:
        two = _generate(dp.spec, prompts, tmp_path / "dp.jsonl", tmp_path / "dp.sqlite")
        per_engine = _served_per_engine(dp.metrics())
        one = _generate(single.spec, prompts, tmp_path / "one.jsonl", tmp_path / "one.sqlite")
    finally:
        dp.stop()
        single.stop()
    assert two == one
    assert len({o[0] for o in one}) >= 8  # the answers differ by prompt: a mix-up of requests would show
    assert sorted(per_engine) == ["0", "1"], per_engine
    assert sum(per_engine.values()) == n and min(per_engine.values()) >= 1, per_engine
