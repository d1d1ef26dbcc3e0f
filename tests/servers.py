"""Test helpers that start real servers on 127.0.0.1: `vllm serve` (the OpenAI-compatible API server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class VLLMServer:
    """`python -m vllm.entrypoints.openai.api_server` on 127.0.0.1, stopped by its PID."""

    def __init__(
        self,
        model_dir: Path,
        name: str,
        log_path: Path,
        timeout: float = 600,
        data_parallel_size: int = 1,
        max_model_len: int = 8192,
    ) -> None:
        """Start the server without waiting for it: :attr:`spec` and :attr:`base_url` wait until it answers, so
        a test can start another engine meanwhile (each start is ~40 s of CPU here). ``data_parallel_size`` > 1
        runs that many engine replicas behind the one API server (vLLM's own data parallelism)."""
        self.port = free_port()
        self.name = name
        self._url = f"http://127.0.0.1:{self.port}/v1"
        self._log_path, self._timeout, self._ready = log_path, timeout, False
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1")
        cmd = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_dir), "--served-model-name", name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", "float32", "--max-model-len", str(max_model_len), "--seed", "0",
            "--enable-prefix-caching", "--no-enable-chunked-prefill", "--max-logprobs", "20",
            "--enforce-eager",  # torch.compile would add ~18 s to the start; the in-process engine fixture keeps it
        ]  # fmt: skip
        if data_parallel_size > 1:
            cmd += ["--data-parallel-size", str(data_parallel_size)]
        self.log = log_path.open("w")
        # its own session, so the engine's child processes are stopped with it
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._deadline = time.time() + timeout

    def wait_ready(self) -> None:
        """Until ``GET /models`` answers 200; raises if the process exits or the start-up timeout passes."""
        while not self._ready and time.time() < self._deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {self.proc.returncode}; log: {self._log_path}")
            try:
                with urllib.request.urlopen(f"{self._url}/models", timeout=2) as r:
                    self._ready = r.status == 200
            except OSError:
                time.sleep(1)
        if not self._ready:
            self.stop()
            raise RuntimeError(f"vllm serve did not come up in {self._timeout}s; log: {self._log_path}")

    @property
    def base_url(self) -> str:
        self.wait_ready()
        return self._url

    @property
    def spec(self) -> str:
        return f"openai:{self.name}@{self.base_url}"

    def metrics(self) -> str:
        """The server's Prometheus text (``GET /metrics``)."""
        self.wait_ready()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            return str(r.read().decode())

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


class LatencyServer(ScriptServer):
    """tests/latency_server.py: an OpenAI-compatible server with seeded lognormal answer times."""

    script = "latency_server.py"

    def reset(self) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/reset", data=b"{}", method="POST")
        urllib.request.urlopen(req, timeout=5).read()


def planted_cli_metrics(
    tmp: Path, benchmark: str, args: Callable[[PlantedServer], list[str]], **server_options: object
) -> dict[str, dict]:
    """Run ``harness ARGS --out TMP/out --store TMP/s.sqlite`` against a fresh :class:`PlantedServer` (its options
    ``server_options``), stop the server, and return ``benchmark``'s metric rows from results.json by name."""
    import json

    server = PlantedServer(**server_options)
    try:
        res = subprocess.run(
            [sys.executable, "-m", "app", *args(server), "--out", str(tmp / "out"), "--store", str(tmp / "s.sqlite")],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads((tmp / "out" / "results.json").read_text())
    return {r["metric"]: r for r in doc["benchmarks"][benchmark]["metrics"]}
