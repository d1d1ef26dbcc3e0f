"""Test helpers that start real servers on 127.0.0.1: `vllm serve` (the OpenAI-compatible API server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class VLLMServer:
    """`python -m vllm.entrypoints.openai.api_server` on 127.0.0.1, stopped by its PID."""

    def __init__(self, model_dir: Path, name: str, log_path: Path, timeout: float = 600) -> None:
        self.port = free_port()
        self.name = name
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1")
        cmd = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_dir), "--served-model-name", name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", "float32", "--max-model-len", "8192", "--seed", "0",
            "--enable-prefix-caching", "--no-enable-chunked-prefill", "--max-logprobs", "20",
            "--enforce-eager",  # torch.compile would add ~18 s to the start; the in-process engine fixture keeps it
        ]  # fmt: skip
        self.log = log_path.open("w")
        # its own session, so the engine's child processes are stopped with it
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {self.proc.returncode}; log: {log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(1)
        self.stop()
        raise RuntimeError(f"vllm serve did not come up in {timeout}s; log: {log_path}")

    @property
    def spec(self) -> str:
        return f"openai:{self.name}@{self.base_url}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class ScriptServer:
    """A test server script of tests/ (``--port P`` plus ``options`` as ``--key=value``) on 127.0.0.1."""

    script = ""

    def __init__(self, **options: object) -> None:
        self.port = free_port()
        self.options = options
        args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
        here = Path(__file__).resolve().parent
        self.proc = subprocess.Popen([sys.executable, str(here / self.script), "--port", str(self.port), *args])
        self.base_url = self.url = f"http://127.0.0.1:{self.port}/v1"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{self.base_url}/models", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.script} did not start")

    def spec(self, name: str) -> str:
        return f"openai:{name}@{self.base_url}"

    def stats(self) -> dict:
        import json

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class PlantedServer(ScriptServer):
    """tests/planted_server.py: an OpenAI-compatible server with planted verdicts."""

    script = "planted_server.py"


class FaultServer(ScriptServer):
    """tests/fault_server.py: an OpenAI-compatible server injecting faults at a seeded rate."""

    script = "fault_server.py"

    def __init__(self, rate: float, seed: int = 0, hang_s: float = 2.0) -> None:
        super().__init__(rate=rate, seed=seed, hang_s=hang_s)
