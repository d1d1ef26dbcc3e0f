"""An OpenAI-compatible fault-injection server for tests: its own process on 127.0.0.1.

    python tests/fault_server.py --port P --rate 0.3 --seed 0 [--upstream http://127.0.0.1:8000/v1]

At a seeded rate it answers a request with one fault: 429 with Retry-After, 500, 503, a hang
past the client's timeout, malformed JSON, empty choices, or a connection dropped mid-body.
Otherwise it forwards to ``--upstream`` (a real `vllm serve`), or, standalone, answers with a
deterministic completion derived from the request (so a faulty run can be compared with a
clean one). ``GET /stats`` returns the count of each fault injected; ``GET /v1/models`` never faults.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ["rate_limit", "http_500", "http_503", "hang", "malformed_json", "empty_choices", "drop"]


def deterministic_completion(body: dict) -> dict:
    """A chat completion whose text depends only on the request (messages, seed, n)."""
    key = json.dumps([body.get("messages"), body.get("prompt"), body.get("seed")], sort_keys=True)
    n = int(body.get("n", 1))
    choices = []
    for i in range(n):
        h = int(hashlib.sha256(f"{key}:{i}".encode()).hexdigest(), 16)
        text = f"The response is judged. Score: {h % 6}"
        msg = {"role": "assistant", "content": text} if "messages" in body else None
        choice = {"index": i, "finish_reason": "stop", "logprobs": None}
        choice.update({"message": msg} if msg else {"text": text})
        choices.append(choice)
    return {
        "id": "cmpl-fault", "object": "chat.completion", "created": 0, "model": body.get("model", "fake"),
        "choices": choices, "usage": {"prompt_tokens": 10, "completion_tokens": 8 * n, "total_tokens": 10 + 8 * n},
    }  # fmt: skip


class State:
    def __init__(self, rate: float, seed: int, upstream: str | None, hang_s: float) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.upstream = upstream
        self.hang_s = hang_s
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {f: 0 for f in FAULTS}
        self.ok = 0
        self.bearers: set[str] = set()  # the API keys clients sent (tests check a key goes only where it belongs)

    def draw(self) -> str | None:
        with self.lock:
            fault = self.rng.choice(FAULTS) if self.rng.random() < self.rate else None
            if fault:
                self.counts[fault] += 1
            else:
                self.ok += 1
            return fault


class JSONHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler (kept-alive connections, as API clients expect) that answers JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        return

    def _send(self, code: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        def do_GET(self) -> None:
            if self.path.endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())
            elif self.path == "/stats":
                doc = {"faults": state.counts, "ok": state.ok, "bearers": sorted(state.bearers)}
                self._send(200, json.dumps(doc).encode())
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            with state.lock:
                state.bearers.add(self.headers.get("Authorization", "").removeprefix("Bearer "))
            fault = state.draw()
            err = json.dumps({"error": {"message": "injected", "type": "server_error"}}).encode()
            if fault == "rate_limit":
                return self._send(429, err, {"Retry-After": "0.05"})
            if fault in ("http_500", "http_503"):
                return self._send(int(fault[-3:]), err)
            if fault == "hang":
                time.sleep(state.hang_s)
                return self._send(500, err)
            if state.upstream:
                req = urllib.request.Request(
                    state.upstream.rstrip("/") + self.path.removeprefix("/v1"), data=raw,
                    headers={"Content-Type": "application/json"},
                )  # fmt: skip
                with urllib.request.urlopen(req, timeout=300) as r:
                    payload = r.read()
            else:
                payload = json.dumps(deterministic_completion(json.loads(raw))).encode()
            if fault == "malformed_json":
                return self._send(200, payload[: len(payload) // 2])
            if fault == "empty_choices":
                doc = json.loads(payload)
                doc["choices"] = []
                return self._send(200, json.dumps(doc).encode())
            if fault == "drop":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 3])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            return self._send(200, payload)

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--upstream", default=None)
    ap.add_argument("--hang-s", type=float, default=3.0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(State(args.rate, args.seed, args.upstream, args.hang_s))
    )
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
