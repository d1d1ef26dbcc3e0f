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
    tmp = tmp_path_factory.mktemp("ref")
    res = subprocess.run(_eval(tiny_model, tmp / "s.sqlite", tmp / "out"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return {
        "metrics": json.loads((tmp / "out" / "results.json").read_text())["benchmarks"],
        "samples": (tmp / "out" / "samples.jsonl").read_text(),
    }


@pytest.mark.parametrize("point", range(10))
def test_sigkill_and_rerun(point: int, reference: dict, tiny_model: Path, tmp_path: Path) -> None:
    delay = random.Random(1000 + point).uniform(3.0, 9.0)  # seconds after start: load, generation or writing
    store, out = tmp_path / "s.sqlite", tmp_path / "out"
    proc = subprocess.Popen(_eval(tiny_model, store, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    for f in out.glob("*"):  # whatever exists is whole: written atomically
        assert not f.name.startswith(".")
        if f.suffix == ".json":
            json.loads(f.read_text())
    res = subprocess.run(_eval(tiny_model, store, out), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
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
    deadline = time.time() + 120
    while time.time() < deadline:
        if store.exists():
            with sqlite3.connect(store) as conn:
                if (
                    conn.execute("SELECT name FROM sqlite_master WHERE name='runs'").fetchone()
                    and conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                ):
                    break
        time.sleep(0.1)
    time.sleep(1.0)  # into model loading / generation
    assert proc.poll() is None, "finished before the signal"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "error: interrupted", err[-1500:]
    with sqlite3.connect(store) as conn:
        assert [r[0] for r in conn.execute("SELECT status FROM runs")] == ["interrupted"]
    assert not (out / "results.json").exists()
