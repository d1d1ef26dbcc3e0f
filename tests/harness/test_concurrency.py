"""Two harness processes on the same store at once: no corruption, no duplicated work."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def test_two_generate_processes_share_work(tiny_model: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(40)))
    store = tmp_path / "s.sqlite"
    args = ["generate", "--model", f"hf:{tiny_model}", "--prompts", str(prompts), "-n", "2", "--max-tokens", "24",
            "--chunk-size", "4", "--store", str(store)]  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app", *args, "--out", str(tmp_path / f"out{k}.jsonl")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    assert (tmp_path / "out0.jsonl").read_text() == (tmp_path / "out1.jsonl").read_text()
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM generations").fetchone() == (80, 80)
        counters = [json.loads(r[0]) for r in conn.execute("SELECT counters FROM runs")]
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    # together the two runs made each of the 40 calls exactly once
    assert sum(c["calls_made"] for c in counters) == 40
    assert all(c["calls_made"] + c["calls_reused"] == 40 for c in counters)


def test_four_processes_on_two_hosts_make_each_call_once(tmp_path: Path) -> None:
    """4 `harness generate` processes (two simulated hosts, 2 each) on one store and 300 prompts, with random delays
    between reading the store and claiming: exactly 300 calls reach the server, every output is the same."""
    from tests.servers import FaultServer

    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(300)))
    store = tmp_path / "s.sqlite"
    server = FaultServer(rate=0.0)
    try:
        procs = []
        for k in range(4):
            env = {**os.environ, "HARNESS_HOST": f"host-{k % 2}", "HARNESS_CLAIM_DELAY": "0.05"}
            args = ["generate", "--model", f"openai:fake@{server.url}", "--prompts", str(prompts), "--max-tokens",
                    "8", "--chunk-size", "8", "--store", str(store), "--out", str(tmp_path / f"out{k}.jsonl")]  # fmt: skip
            procs.append(subprocess.Popen([sys.executable, "-m", "app", *args], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, env=env))  # fmt: skip
        outs = [p.communicate(timeout=600) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
        assert server.stats()["ok"] == 300  # the calls the server answered
    finally:
        server.stop()
    assert len({(tmp_path / f"out{k}.jsonl").read_text() for k in range(4)}) == 1
    with sqlite3.connect(store) as conn:
        counters = [json.loads(r[0]) for r in conn.execute("SELECT counters FROM runs")]
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    assert sum(c["calls_made"] for c in counters) == 300
    assert all(c["calls_made"] + c["calls_reused"] == 300 for c in counters)


def test_a_stale_claim_with_a_reused_pid_is_taken_over(tmp_path: Path) -> None:
    """A claim left by a killed process whose pid now belongs to a live process (another start time) is stale: the
    next run takes it over at once instead of waiting for it forever."""
    import time

    from harness.backends import load_model
    from harness.runner import Run, generate
    from harness.store import Store, host_name, sample_key
    from harness.types import Request
    from tests.servers import FaultServer

    server = FaultServer(rate=0.0)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        store = Store(tmp_path / "s.sqlite")
        model = load_model(f"openai:fake@{server.url}", store=store)
        req = Request.user("hello", max_tokens=4)
        key = sample_key(model.identity, req.content_key(), 0)
        with store.transaction() as conn:  # the live pid of `sleep`, but the start time of a process long gone
            conn.execute("INSERT INTO claims VALUES (?, ?, ?, ?, ?)", (key, sleeper.pid, host_name(), time.time(), 1.0))
        run = Run.start(store, "test", {})
        start = time.time()
        generate(model, [req], run)
        assert time.time() - start < 5 and run.stats.calls_made == 1
        model.close()
        store.close()
    finally:
        sleeper.kill()
        server.stop()
