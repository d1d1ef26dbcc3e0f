"""`harness generate` end to end: resume after SIGKILL, zero calls on a finished job, bad input."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

HARNESS = [sys.executable, "-m", "app"]


def _prompts(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Question number {i}?"}) + "\n" for i in range(n)))
    return path


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(HARNESS + args, capture_output=True, text=True, timeout=600, **kw)


def _counters(store: Path, run_id: str) -> dict:
    with sqlite3.connect(store) as conn:
        return json.loads(conn.execute("SELECT counters FROM runs WHERE run_id=?", (run_id,)).fetchone()[0])


def _run_id(stdout: str) -> str:
    return stdout.split("; run ")[1].split(";")[0].strip()


def test_generate_resume_after_sigkill(tiny_model: Path, tmp_path: Path) -> None:
    prompts = _prompts(tmp_path / "p.jsonl", 24)
    common = [
        "generate",
        "--model",
        f"hf:{tiny_model}",
        "--prompts",
        str(prompts),
        "-n",
        "2",
        "--max-tokens",
        "48",
        "--seed",
        "3",
    ]
    # the uninterrupted reference run, in its own store
    ref = _run([*common, "--out", str(tmp_path / "ref.jsonl"), "--store", str(tmp_path / "ref.sqlite")])
    assert ref.returncode == 0, ref.stderr

    store, out = tmp_path / "s.sqlite", tmp_path / "out.jsonl"
    args = [*common, "--out", str(out), "--store", str(store), "--chunk-size", "2"]
    proc = subprocess.Popen(HARNESS + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    rows = 0
    while time.time() < deadline and proc.poll() is None:
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=1) as conn:
                    rows = conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
            except sqlite3.Error:
                rows = 0
            if rows >= 8:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # no partial output file
    assert not list(tmp_path.glob(".out.jsonl.*"))

    again = _run(args)
    assert again.returncode == 0, again.stderr
    counters = _counters(store, _run_id(again.stdout))
    assert counters["calls_reused"] >= 4 and counters["calls_made"] + counters["calls_reused"] == 24
    assert out.read_text() == (tmp_path / "ref.jsonl").read_text()
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM generations").fetchone() == (48, 48)

    # a finished job makes zero model calls
    third = _run(args)
    assert third.returncode == 0
    counters = _counters(store, _run_id(third.stdout))
    assert (counters["calls_made"], counters["calls_reused"]) == (0, 24)
    assert "calls made 0, reused 24" in third.stdout


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_model", "model path {tmp}/nope: no such directory"),
        ("malformed_line", "p.jsonl:2: malformed JSON"),
        ("unknown_prefix", "unknown backend 'gguf'"),
        ("unreachable", "base_url http://127.0.0.1:{port}/v1: unreachable"),
        ("n_zero", "-n must be a positive integer, got 0"),
        ("n_negative", "-n must be a positive integer, got -3"),
        ("missing_field", "p.jsonl:1: missing field 'prompt'"),
        ("duplicate_id", "p.jsonl:2: duplicate id 'a'"),
        ("not_utf8", "p.jsonl:1: not valid UTF-8"),
        ("empty", "p.jsonl: empty file"),
    ],
)
def test_generate_bad_input(case: str, expected: str, tiny_model: Path, tmp_path: Path) -> None:
    from tests.servers import free_port

    port = free_port()
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "a", "prompt": "hi"}\n')
    model = f"hf:{tiny_model}"
    extra: list[str] = []
    if case == "missing_model":
        model = f"hf:{tmp_path}/nope"
    elif case == "malformed_line":
        prompts.write_text('{"id": "a", "prompt": "hi"}\n{"id": "b", "prompt": \n')
    elif case == "unknown_prefix":
        model = "gguf:/x"
    elif case == "unreachable":
        model = f"openai:m@http://127.0.0.1:{port}/v1"
    elif case in ("n_zero", "n_negative"):
        extra = ["-n", "0" if case == "n_zero" else "-3"]
    elif case == "missing_field":
        prompts.write_text('{"id": "a", "text": "hi"}\n')
    elif case == "duplicate_id":
        prompts.write_text('{"id": "a", "prompt": "hi"}\n{"id": "a", "prompt": "ho"}\n')
    elif case == "not_utf8":
        prompts.write_bytes(b'{"id": "a", "prompt": "caf\xe9"}\n')
    elif case == "empty":
        prompts.write_text("")
    out, store = tmp_path / "out.jsonl", tmp_path / "store.sqlite"
    res = _run(
        ["generate", "--model", model, "--prompts", str(prompts), "--out", str(out), "--store", str(store), *extra]
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert (
        lines[0] == "error: " + expected.format(tmp=tmp_path, port=port)
        or expected.format(tmp=tmp_path, port=port) in lines[0]
    ), lines[0]
    assert not out.exists()
    if store.exists():  # the store may exist, but holds no run and no rows
        with sqlite3.connect(store) as conn:
            assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
            assert conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 0


def test_help_lists_commands() -> None:
    res = _run(["--help"])
    assert res.returncode == 0 and "generate" in res.stdout and "make-tiny" in res.stdout


def test_make_tiny_is_deterministic(tmp_path: Path) -> None:
    # two independent processes (run side by side: each is mostly imports on one core)
    procs = [subprocess.Popen([*HARNESS, "make-tiny", str(tmp_path / d), "--seed", "4"], stderr=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, text=True) for d in ("a", "b")]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    code = "from transformers import AutoTokenizer as T; t=T.from_pretrained(%r); print('{%% generation %%}' in t.chat_template)"
    res = subprocess.run([sys.executable, "-c", code % str(tmp_path / "a")], capture_output=True, text=True, env=env)
    assert res.stdout.strip() == "True", res.stderr
