"""Hostile input and a file system that says no (issue 33's classes): one line naming the culprit, exit 2, nothing
partial written, nothing computed lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import Store
from harness.types import Completion
from tests.servers import LatencyServer


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})  # fmt: skip


def _one_line_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stderr[-1500:])
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr[-1500:]
    assert "Traceback" not in res.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    s = LatencyServer(median=0.001, sigma=0.1)
    yield s
    s.stop()


def _generate(server: LatencyServer, prompts: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return _cli("generate", "--model", server.spec("m"), "--prompts", str(prompts), "--out", str(out),
                "--store", str(prompts.parent / "s.sqlite"), *extra)  # fmt: skip


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ('{"id": 1, "prompt": ' + "[" * 100_000 + "]" * 100_000 + "}", ("p.jsonl:1", "nested deeper than")),
        ('{"id": 1, "prompt": "a", "prompt": "b"}', ("p.jsonl:1", "duplicate key 'prompt'")),
        ('{"id": 1, "prompt": "lone \\ud800 surrogate"}', ("p.jsonl:1", "lone surrogate")),
        ('{"id": NaN, "prompt": "x"}', ("p.jsonl:1", "field 'id' must be a string or an integer")),
        ('{"id": 1, "messages": [{"role": "user", "content": null}]}', ("p.jsonl:1", "messages[0].content")),
        ('{"id": 1, "messages": [{"role": 5, "content": "x"}]}', ("p.jsonl:1", "messages[0].role")),
        (
            '{"id": "\\u001b]0;owned\\u0007\\u001b[2J", "prompt": "x"}\n{"id": "\\u001b]0;owned\\u0007\\u001b[2J", '
            '"prompt": "y"}',
            ("p.jsonl:2", "duplicate id"),
        ),
    ],
    ids=["deep", "duplicate_key", "surrogate", "nan_id", "null_content", "role_5", "escapes"],
)
def test_hostile_prompt_files(server: LatencyServer, tmp_path: Path, line: str, needles: tuple[str, ...]) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    prompts.write_text(line + "\n")
    res = _generate(server, prompts, out)
    _one_line_error(res, *needles)
    assert "\x1b" not in res.stderr and "\x07" not in res.stderr  # control sequences never reach the terminal
    assert not out.exists()


@pytest.mark.parametrize("seed", [str(2**70), str(-1), str(2**64 - 1)])
def test_seed_out_of_range(server: LatencyServer, tmp_path: Path, seed: str) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "x"}\n')
    # 2**64 - 1 with -n 2: sample 1's seed (seed + 1) would overflow the backends' 64-bit seeds
    _one_line_error(_generate(server, prompts, tmp_path / "o.jsonl", "--seed", seed, "-n", "2"), "--seed")
    _one_line_error(_cli("make-tiny", str(tmp_path / "tiny"), "--seed", seed), "--seed")
    assert not (tmp_path / "tiny").exists()


def test_an_annotations_file_nested_100000_deep_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "annotations.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    _one_line_error(_cli("score", "alpaca_eval", "--annotations", str(path)), "annotations.json", "nested deeper than")


def test_an_int_id_comes_back_an_int(server: LatencyServer, tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    prompts.write_text('{"id": 7, "prompt": "x"}\n{"id": "7", "prompt": "y"}\n')
    res = _generate(server, prompts, out, "--max-tokens", "4")
    assert res.returncode == 0, res.stderr[-1500:]
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [7, "7"]


def test_a_read_only_store_file_via_sqlite_uri_is_one_line(tmp_path: Path) -> None:
    """A store SQLite opens read-only (a read-only file; root ignores file modes, so the test opens the connection
    read-only itself): the first write is one line naming the store."""
    from harness.types import HarnessError

    store = Store(tmp_path / "s.sqlite")
    store.conn.close()
    store.conn = sqlite3.connect(f"file:{tmp_path / 's.sqlite'}?mode=ro", uri=True, isolation_level=None)
    with pytest.raises(HarnessError, match=r"s\.sqlite: cannot write \(attempt to write a readonly database\)"):
        store.kv_put("k", "v")


def test_an_output_past_the_file_size_limit_is_one_line_and_nothing_is_left(tmp_path: Path) -> None:
    """EFBIG (a file-size limit: the process's RLIMIT_FSIZE) while an output is written: one line naming the path,
    no half-written file and no temporary file left. (The CLI writes its outputs after the calls are stored.)"""
    out = tmp_path / "out.jsonl"
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024)); from harness.files import atomic_write_text; "
            "from harness.types import HarnessError\n"
            "try:\n    atomic_write_text(sys.argv[1], 'x' * 100_000)\n"
            "except HarnessError as exc:\n    print(exc)")  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert res.stdout.strip() == f"{out}: cannot write (File too large)"
    assert list(tmp_path.iterdir()) == []


def test_an_empty_store_file_is_refused_by_a_read_only_command(tmp_path: Path) -> None:
    (tmp_path / "s.sqlite").write_bytes(b"")
    _one_line_error(_cli("leaderboard", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "lb")),
                    "an empty file, not a harness store")  # fmt: skip
    assert (tmp_path / "s.sqlite").stat().st_size == 0  # not given a schema


def test_a_stored_completion_with_a_field_from_a_newer_writer_is_read() -> None:
    doc = {"text": "t", "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": 2, "logprobs": None,
           "a_field_of_version_9": [1, 2]}  # fmt: skip
    assert Completion.from_dict(doc).text == "t"


def test_leaderboard_checks_every_target_before_writing_any(tmp_path: Path) -> None:
    from tests.app.test_leaderboard import _store_with_iterations

    _store_with_iterations(tmp_path / "s.sqlite")
    out = tmp_path / "lb"
    (out / "leaderboard.html").mkdir(parents=True)  # the last target is blocked by a directory
    res = _cli("leaderboard", "--store", str(tmp_path / "s.sqlite"), "--out", str(out))
    _one_line_error(res, "leaderboard.html", "is a directory")
    assert sorted(p.name for p in out.iterdir()) == ["leaderboard.html"]  # no CSV, JSON or markdown written


def test_a_prompt_beyond_the_models_context_is_refused_before_any_call(tiny_model: Path, tmp_path: Path) -> None:
    """The tiny model takes 8192 positions: a prompt of ~12,000 tokens is named by its line, and no call is made."""
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    long = " ".join(f"w{i}" for i in range(6000))
    prompts.write_text(json.dumps({"prompt": "short"}) + "\n" + json.dumps({"prompt": long}) + "\n")
    store = tmp_path / "s.sqlite"
    res = _cli("generate", "--model", f"hf:{tiny_model}", "--prompts", str(prompts), "--out", str(out),
               "--store", str(store), "--max-tokens", "8")  # fmt: skip
    _one_line_error(res, "p.jsonl:2", "exceeds the model's context of 8192 tokens")
    assert not out.exists()
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0  # no run started


def test_gate_on_a_hand_edited_text_value_is_one_line(tmp_path: Path) -> None:
    from tests.app.test_leaderboard import _store_with_iterations

    run_id, _ = _store_with_iterations(tmp_path / "s.sqlite")
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        conn.execute("UPDATE results SET value='abc' WHERE metric='accuracy' AND iteration=2")
    res = _cli("gate", "--run", run_id, "--iteration", "2", "--rule", "taskworld.accuracy >= 0", "--store",
               str(tmp_path / "s.sqlite"))  # fmt: skip
    _one_line_error(res, "taskworld.accuracy", "'abc' is not a number")
