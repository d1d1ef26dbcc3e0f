"""API keys come from the environment only and never reach the store, logs or outputs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.backends.openai_backend import redact

FAKE_KEY = "sk-harnessFAKE-0123456789abcdefXYZ"


def test_redact() -> None:
    msg = f"Error code: 401 - Incorrect API key provided: {FAKE_KEY[:12]}****XYZ and {FAKE_KEY}"
    out = redact(msg, [FAKE_KEY])
    assert FAKE_KEY not in out and FAKE_KEY[:12] not in out


@pytest.mark.vllm
def test_fake_key_never_written(vllm_server_b, tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "a", "prompt": "hi"}\n{"id": "b", "prompt": "ho"}\n')
    env = dict(os.environ, OPENAI_API_KEY=FAKE_KEY, HARNESS_STORE=str(tmp_path / "store.sqlite"))
    logs = []
    for spec in (vllm_server_b.spec, "openai:tiny-b@http://127.0.0.1:9/v1"):
        res = subprocess.run(
            [sys.executable, "-m", "app", "generate", "--model", spec, "--prompts", str(prompts),
             "--out", str(tmp_path / "out.jsonl"), "-n", "2", "--max-tokens", "4"],
            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        logs.append(res.stdout + res.stderr)
    assert "calls made 2" in logs[0] and "unreachable" in logs[1]
    hits = [p for p in tmp_path.rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert hits == []
    assert all(FAKE_KEY not in log for log in logs)
    assert (tmp_path / "out.jsonl").exists() and (tmp_path / "store.sqlite").exists()
