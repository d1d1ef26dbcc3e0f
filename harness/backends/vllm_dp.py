"""``vllm:PATH?data_parallel_size=N`` — N engine replicas of a local checkpoint through vLLM's own data parallelism.

vLLM's offline ``LLM`` refuses ``data_parallel_size > 1``; its scale-out route is the server: ``vllm serve
--data-parallel-size N`` runs N engine-core processes behind one API server, whose DP coordinator balances
requests between them (vLLM ``docs/serving/data_parallel_deployment.md``). This backend starts that server for
the checkpoint on 127.0.0.1 (a child process in its own session, stopped with the model) and streams requests to
it through the openai backend, with ``2 x N x max_num_seqs`` in flight so every replica's scheduler has more
waiting than it can batch. The spec's other vLLM options become the server's flags (``max_model_len=2048`` ->
``--max-model-len 2048``). The same server across hosts is in README ("Scale-out").

Its completions are stored under the checkpoint's identity plus ``+serve``: the served engine applies the
chat template and sampling as a server does, so its rows are kept apart from the in-process engine's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from harness.backends.openai_backend import OpenAIModel
from harness.spec import ModelSpec, parse_spec
from harness.types import HarnessError, Request

START_TIMEOUT_S = float(os.environ.get("HARNESS_VLLM_START_TIMEOUT", "900"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(path: str, port: int, replicas: int, options: dict[str, Any]) -> list[str]:
    """The ``vllm serve`` command line (as ``python -m vllm.entrypoints.openai.api_server``: the CPU build's
    ``vllm`` script looks for a distribution named vllm) for ``replicas`` engines and the spec's options."""
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", path, "--served-model-name", "harness",
        "--host", "127.0.0.1", "--port", str(port), "--data-parallel-size", str(replicas),
    ]  # fmt: skip
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            cmd.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            cmd += [flag, str(value)]
    return cmd


class VLLMDataParallel:
    """A local ``vllm serve --data-parallel-size N`` of one checkpoint, driven through the openai backend."""

    def __init__(self, spec: ModelSpec, path: str, identity: str, options: dict[str, Any], cpu_build: bool) -> None:
        replicas = int(options.pop("data_parallel_size"))
        self.identity = f"{identity}+serve"
        opts: dict[str, Any] = {"seed": 0, "enable_prefix_caching": True, "trust_remote_code": False}
        if cpu_build:  # as the in-process engine: reproducible per-request seeds on the CPU build
            opts.update(enable_chunked_prefill=False, dtype="float32")
        opts.update(options)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = os.path.join(tempfile.gettempdir(), f"harness-vllm-serve-{self.port}.log")
        env = dict(os.environ)
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        with open(self.log_path, "w") as log:
            # its own session: the engine processes it spawns are stopped with it
            self.proc = subprocess.Popen(
                server_command(path, self.port, replicas, opts), stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_ready(spec)
            in_flight = 2 * replicas * int(opts.get("max_num_seqs", 256))
            self.client = OpenAIModel(parse_spec(f"openai:harness@{self.base_url}?concurrency={in_flight}"))
        except BaseException:
            self._stop()
            raise

    def _wait_ready(self, spec: ModelSpec) -> None:
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(
                    f"model path {spec.target}: vllm serve --data-parallel-size exited with {self.proc.returncode} "
                    f"(log: {self.log_path})"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(1)
        raise HarnessError(f"model path {spec.target}: vllm serve did not answer in {START_TIMEOUT_S:g} s (log: "
                           f"{self.log_path}; $HARNESS_VLLM_START_TIMEOUT)")  # fmt: skip

    def metrics(self) -> str:
        """The server's Prometheus text: per-replica counters are labelled ``engine="0"``, ``engine="1"``, ..."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            return str(r.read().decode())

    def generate(self, requests: list[Request]) -> list[Any]:
        return self.client.generate(requests)

    def stream(self, requests: list[Request], window: int | None = None) -> Iterator[list[tuple[int, Any]]]:
        return self.client.stream(requests, window)

    def take_stats(self) -> dict[str, Any]:
        return self.client.take_stats()

    def _stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self._stop()
