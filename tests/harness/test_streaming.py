"""The streaming runner: bounded in-flight calls, rows stored as they arrive, SIGKILL-safe, adaptive on 429."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from harness.backends import load_model
from harness.backends.openai_backend import _Limiter
from harness.runner import Run, generate
from harness.store import Store
from harness.types import Completion, Request
from tests.fault_server import deterministic_completion
from tests.servers import LatencyServer


def _expected_text(prompt: str) -> str:
    """The server's answer, from its own function of the request (not from the harness)."""
    return deterministic_completion({"messages": [{"role": "user", "content": prompt}], "seed": 0, "n": 1})["choices"][
        0
    ]["message"]["content"]


def _stored(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def test_sigkill_mid_stream_loses_at_most_the_calls_in_flight(tmp_path: Path) -> None:
    """SIGKILL `harness generate` (500 requests, concurrency 16) mid-stream, then re-run: every output is there and
    right, and the server made at most 500 + 16 calls in all (16 = the in-flight bound at concurrency 16)."""
    n, conc = 500, 16
    prompts = [f"Streaming question {i}?" for i in range(n)]
    pfile = tmp_path / "p.jsonl"
    pfile.write_text("".join(json.dumps({"id": f"p{i}", "prompt": p}) + "\n" for i, p in enumerate(prompts)))
    store, out = tmp_path / "s.sqlite", tmp_path / "out.jsonl"
    server = LatencyServer(median=0.05, sigma=0.5, seed=1)
    try:
        cmd = [sys.executable, "-m", "app", "generate", "--model", f"{server.spec('m')}?concurrency={conc}",
               "--prompts", str(pfile), "--out", str(out), "--store", str(store), "--max-tokens", "8"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while _stored(store) < 150 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(1.5)  # the calls in flight at the kill end at the server
        first_calls, kept = server.stats()["calls"], _stored(store)
        assert 150 <= kept < n
        assert first_calls - kept <= conc, (first_calls, kept)  # lost: only what was in flight
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        total = server.stats()["calls"]
    finally:
        server.stop()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"p{i}" for i in range(n)]
    assert [r["outputs"] for r in rows] == [[_expected_text(p)] for p in prompts]
    assert n <= total <= n + conc, total
    assert _stored(store) == n


def test_openai_stream_keeps_the_concurrency_in_flight(tmp_path: Path) -> None:
    """No barrier between groups: the server sees exactly ``concurrency`` requests at once, never more."""
    server = LatencyServer(median=0.1, sigma=0.5, seed=2)
    try:
        model = load_model(f"{server.spec('m')}?concurrency=8")
        store = Store(tmp_path / "s.sqlite")
        reqs = [Request.user(f"q {i}", max_tokens=4, seed=0) for i in range(120)]
        ticks: list[int] = []
        out = generate(model, reqs, Run.start(store, "t", {}), on_progress=ticks.append)
        model.close()
        stats = server.stats()
    finally:
        server.stop()
    assert stats["max_in_flight"] == 8 and stats["calls"] == 120
    assert [o[0].text for o in out] == [_expected_text(f"q {i}") for i in range(120)]
    assert sum(ticks) == 120 and len(ticks) > 12  # progress moved per finished group, not per window of 64


class _Scripted:
    """A streaming backend that checks, each time it is resumed, that the previous group is already stored."""

    identity = "scripted:stream"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: list[int] = []

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        raise AssertionError("the runner must use stream")

    def stream(self, requests: list[Request], window: int | None = None) -> Iterator[list[tuple[int, list]]]:
        for start in range(0, len(requests), 3):
            group = [(i, [Completion(f"a{i}", "stop", 1, 1)]) for i in range(start, min(start + 3, len(requests)))]
            yield group
            self.seen.append(self.store.count_generations())

    def close(self) -> None:
        return None


def test_each_group_is_stored_before_the_backend_goes_on(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    model = _Scripted(store)
    out = generate(model, [Request.user(f"x{i}") for i in range(10)], Run.start(store, "t", {}))  # type: ignore[arg-type]
    assert [o[0].text for o in out] == [f"a{i}" for i in range(10)]
    assert model.seen == [3, 6, 9, 10]
    assert store.conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


def test_limiter_halves_on_429_and_climbs_back() -> None:
    lim = _Limiter(16)
    lim.rate_limited(None)
    assert lim.current() == 8
    lim.rate_limited(None)  # the same burst (within a second): one cut
    assert lim.current() == 8
    # additive increase of 1/L per success: L'^2 = L^2 + 2 + 1/L^2, so L^2 grows by 2 to 2 + 1/64 per success and
    # climbing from 8 (L^2 = 64) to 16 (256) takes between 192 / (2 + 1/64) = 95.2 and 96 successes
    for _ in range(95):
        lim.succeeded()
    assert lim.current() == 15
    lim.succeeded()
    assert lim.current() == 16 and lim.lowest == 8


def test_limiter_honours_retry_after() -> None:
    lim = _Limiter(4)
    lim.rate_limited(0.4)
    t = time.monotonic()
    lim.wait()
    assert time.monotonic() - t >= 0.39


def test_openai_backend_adapts_to_a_rate_limited_server(tmp_path: Path) -> None:
    """A server that accepts 4 requests at a time and answers 429 (Retry-After 0.2 s) beyond: the client asked for
    16 comes down, every call still succeeds, and the 429s are counted as faults."""
    server = LatencyServer(median=0.05, sigma=0.3, seed=3, max_concurrent=4, retry_after=0.2)
    try:
        model = load_model(f"{server.spec('m')}?concurrency=16&max_retries=30")
        store = Store(tmp_path / "s.sqlite")
        run = Run.start(store, "t", {})
        reqs = [Request.user(f"r {i}", max_tokens=4, seed=0) for i in range(150)]
        out = generate(model, reqs, run)
        lowest = model._limiter.lowest  # type: ignore[attr-defined]
        model.close()
        stats = server.stats()
    finally:
        server.stop()
    assert [o[0].text for o in out] == [_expected_text(f"r {i}") for i in range(150)]
    assert stats["calls"] == 150
    assert lowest <= 4
    assert run.stats.faults.get("rate_limit", 0) == stats["rejected"] > 0
    # backing off keeps the rejections few: a client that kept 16 in flight would be refused ~3 times per answer
    assert stats["rejected"] < 150, stats
