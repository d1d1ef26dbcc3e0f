"""Two harness processes on the same store at once: no corruption, no duplicated work."""

import json
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
