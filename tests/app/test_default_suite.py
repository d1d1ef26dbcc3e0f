"""`harness eval --model SPEC` without --benchmarks: the default suite, offline and without a key."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return {**env, "HF_HUB_OFFLINE": "1"}  # offline as on a machine without internet


def test_offline_without_a_key_runs_what_can_run_and_names_the_rest(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [sys.executable, "-m", "app", "eval", "--model", f"hf:{tiny_model}", "--limit", "3",
            "--option", "max_tokens=8", "--option", "judge_max_tokens=8", "--option", "n_resamples=20",
            "--store", str(tmp_path / "s.sqlite"), "--out", str(out)]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, env=_env())
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [line for line in res.stderr.splitlines() if " cannot run: " in line]
    assert [line.split(" cannot run: ")[0] for line in lines] == [
        "harness eval: alpaca_eval", "harness eval: arena_hard", "harness eval: mt_bench"]  # fmt: skip
    assert "alpaca_eval_gpt4_baseline.json" in lines[0] and "--data-for alpaca_eval_reference=FILE" in lines[0]
    assert all("OPENAI_API_KEY is not set" in line and "--annotator SPEC" in line for line in lines[1:])
    assert "3 benchmark(s) of the default suite did not run" in res.stderr.splitlines()[-1]
    doc = json.loads((out / "results.json").read_text())  # what ran is written
    assert list(doc["benchmarks"]) == ["judge", "taskworld"]
    assert doc["calls"]["calls_made"] == 3 * 4 + 3  # 3 prompts x 4 responses judged, 3 answers


def test_a_named_benchmark_that_cannot_run_stops_before_any_model_call(tiny_model: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    args = [sys.executable, "-m", "app", "eval", "--model", f"hf:{tiny_model}", "--benchmarks", "taskworld,mt_bench",
            "--limit", "3", "--store", str(store), "--out", str(tmp_path / "out")]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, env=_env())
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "mt_bench: the annotator model spec openai:gpt-4-1106-preview: environment variable OPENAI_API_KEY" in (
        res.stderr
    )
    assert not (tmp_path / "out").exists()
    if store.exists():
        with sqlite3.connect(store) as conn:
            assert conn.execute("SELECT COUNT(*) FROM generations").fetchone() == (0,)
            assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
