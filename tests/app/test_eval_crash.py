"""SIGKILL `harness eval` at seeded random points and re-run: results identical, no duplicated rows."""

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _eval(tiny: Path, store: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "app", "eval", "--model", f"hf:{tiny}", "--benchmarks", "taskworld",
            "--limit", "24", "--option", "max_tokens=48", "--option", "n_resamples=100", "--store", str(store),
            "--out", str(out)]  # fmt: skip


@pytest.fixture(scope="module")
def reference(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted run's results, and how long it ran after its run record appeared (the kill window)."""
    tmp = tmp_path_factory.mktemp("ref")
    proc = subprocess.Popen(_eval(tiny_model, tmp / "s.sqlite", tmp / "out"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_for_run_record(tmp / "s.sqlite", proc)
    started = time.monotonic()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return {
        "metrics": json.loads((tmp / "out" / "results.json").read_text())["benchmarks"],
        "samples": (tmp / "out" / "samples.jsonl").read_text(),
        "window": time.monotonic() - started,
    }


def _wait_for_run_record(store: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until the eval's run record exists (its models are loaded then; generation is next)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if store.exists():
            with sqlite3.connect(store) as conn:
                if (
                    conn.execute("SELECT name FROM sqlite_master WHERE name='runs'").fetchone()
                    and conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                ):
                    return
        time.sleep(0.05)


def _generations(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]


@pytest.mark.parametrize("point", range(6))
def test_sigkill_and_rerun(point: int, reference: dict, tiny_model: Path, tmp_path: Path) -> None:
    """Killed at a seeded point after the run started (really killed, not finished), the rerun makes exactly
    the calls the first process had not stored, and its results equal an uninterrupted run's."""
    # a seeded share of the time the uninterrupted run took after its run record: a fixed number of seconds
    # outlasted the whole run on a fast machine (the kill then found a finished process)
    delay = random.Random(1000 + point).uniform(0.0, 0.6) * reference["window"]
    for attempt in range(4):
        # the window was measured once; a machine that got less busy since can finish sooner: then start afresh
        # with half the delay, so the process is still really killed mid-run
        store, out = tmp_path / f"s{attempt}.sqlite", tmp_path / f"out{attempt}"
        proc = subprocess.Popen(_eval(tiny_model, store, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_run_record(store, proc)
        time.sleep(delay)
        if proc.poll() is None:
            break
        delay /= 2
    assert proc.poll() is None, "finished before the kill, four times"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    for f in out.glob("*"):  # whatever exists is whole: written atomically
        assert not f.name.startswith(".")
    if (out / "results.json").exists():  # killed while closing: what was written is the whole result
        assert json.loads((out / "results.json").read_text())["benchmarks"] == reference["metrics"]
    stored = _generations(store)
    res = subprocess.run(_eval(tiny_model, store, out), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"calls made {24 - stored}, reused {stored}," in res.stdout, res.stdout[-500:]
    assert json.loads((out / "results.json").read_text())["benchmarks"] == reference["metrics"]
    assert (out / "samples.jsonl").read_text() == reference["samples"]
    with sqlite3.connect(store) as conn:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM generations").fetchone()
    assert total == distinct == 24


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_run_record_as_interrupted(sig: int, tiny_model: Path, tmp_path: Path) -> None:
    """SIGTERM or SIGINT once the run record exists: exit 130, one line, the record says interrupted (not running),
    and no results.json half-written."""
    store, out = tmp_path / "s.sqlite", tmp_path / "out"
    args = _eval(tiny_model, store, out)
    args[args.index("24")] = "300"  # long enough to be stopped mid-generation
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_run_record(store, proc)
    deadline = time.time() + 120
    # into generation: its first batch is stored (a fixed sleep outlasted all 300 prompts on a fast machine)
    while _generations(store) == 0 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "finished before the signal"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "error: interrupted", err[-1500:]
    with sqlite3.connect(store) as conn:
        assert [r[0] for r in conn.execute("SELECT status FROM runs")] == ["interrupted"]
    assert not (out / "results.json").exists()
