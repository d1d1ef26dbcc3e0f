"""An OpenAI-compatible server with heavy-tailed answer times, for the client speed bench and the streaming tests.

    python tests/latency_server.py --port P --median 0.3 --sigma 1 --seed 0 [--max-concurrent K]

Each chat/completions request is answered after a lognormal delay (median ``median`` s, log-sd ``sigma``)
drawn from a generator seeded by (``seed``, the request's content): every run, in any order and at any
concurrency, sees the same latency for the same request, so two clients can be compared on one workload.
The answer is :func:`tests.fault_server.deterministic_completion` (its text depends only on the request).

With ``--usage 0`` answers carry no ``usage`` (token counts). With ``--max-concurrent K`` a request that arrives while K are being answered gets 429 with
``Retry-After: --retry-after`` (a rate-limited API), and is not counted as answered.

``GET /stats`` returns the counters: ``calls`` (answered), ``rejected`` (429s), ``sum_latency`` (s, of the
answered), ``max_latency``, ``first`` / ``last`` (server clock of the first arrival and the last answer;
``wall`` = last - first), ``max_in_flight``. ``POST /reset`` zeroes them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

try:
    from tests.fault_server import JSONHandler, deterministic_completion
except ImportError:  # run as a script: tests/ is the first entry of sys.path
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.fault_server import JSONHandler, deterministic_completion


def latency(seed: int, median: float, sigma: float, body: dict[str, Any]) -> float:
    """The answer time of a request: lognormal(log(median), sigma), seeded by (seed, the request's content)."""
    # the content only: clients differ in the optional fields they send (n, top_p), not in what they ask
    key = json.dumps([seed, body.get("messages"), body.get("prompt")], sort_keys=True)
    rng = random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.calls = self.rejected = self.in_flight = self.max_in_flight = 0
        self.sum_latency = self.max_latency = 0.0
        self.first: float | None = None
        self.last: float | None = None

    def doc(self) -> dict[str, Any]:
        wall = None if self.first is None or self.last is None else self.last - self.first
        return {
            "calls": self.calls, "rejected": self.rejected, "sum_latency": self.sum_latency,
            "max_latency": self.max_latency, "first": self.first, "last": self.last, "wall": wall,
            "max_in_flight": self.max_in_flight,
        }  # fmt: skip


def make_handler(args: argparse.Namespace, c: Counters) -> type[JSONHandler]:
    class Handler(JSONHandler):
        def do_GET(self) -> None:
            if self.path.endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())
            elif self.path == "/stats":
                with c.lock:
                    self._send(200, json.dumps(c.doc()).encode())
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/reset":
                with c.lock:
                    c.reset()
                return self._send(200, b"{}")
            arrived = time.time()
            body = json.loads(raw)
            with c.lock:
                c.first = arrived if c.first is None else min(c.first, arrived)
                if args.max_concurrent and c.in_flight >= args.max_concurrent:
                    c.rejected += 1
                    err = {"error": {"message": "rate limited", "type": "rate_limit_error"}}
                    return self._send(429, json.dumps(err).encode(), {"Retry-After": str(args.retry_after)})
                c.in_flight += 1
                c.max_in_flight = max(c.max_in_flight, c.in_flight)
            wait = latency(args.seed, args.median, args.sigma, body)
            time.sleep(wait)
            doc = deterministic_completion(body)
            if not args.usage:  # a server that sends no token counts
                doc.pop("usage")
            payload = json.dumps(doc).encode()
            with c.lock:
                c.in_flight -= 1
                c.calls += 1
                c.sum_latency += wait
                c.max_latency = max(c.max_latency, wait)
                c.last = time.time() if c.last is None else max(c.last, time.time())
            self._send(200, payload)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 drops connections opened in a burst of 128


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--median", type=float, default=0.3)
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-concurrent", type=int, default=0)
    ap.add_argument("--retry-after", type=float, default=0.2)
    ap.add_argument("--usage", type=int, default=1, help="0: answers carry no usage (token counts)")
    args = ap.parse_args()
    _Server(("127.0.0.1", args.port), make_handler(args, Counters())).serve_forever()


if __name__ == "__main__":
    main()
