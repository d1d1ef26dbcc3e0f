"""The harness's API client against its physical bound and a plain thread pool, on a heavy-tailed server, in one run.

    python bench/speed_client.py [--requests 2000] [--concurrency 32,128] [--median 0.3] [--sigma 1]

A local OpenAI-compatible server (tests/latency_server.py) answers each request after a lognormal delay (median
0.3 s, sigma 1, seeded per request: every client sees the same latency for the same request). Per concurrency C:

- **harness**: the command users run, with its defaults: ``harness generate --model openai:m@URL?concurrency=C``
  (a subprocess: its SQLite store writes are included);
- **peer**: a plain ``ThreadPoolExecutor(C)`` over all requests with the ``openai`` client, appending each answer
  to a JSONL file as it arrives (what arena-hard-auto's ``gen_judgment.py`` does);
- **bound**: sum(latency) / C, the time C perfect workers need (no client can beat it); the tightest schedule
  also cannot end before the slowest single request, so ``max latency`` is printed beside it.

Wall time is the server's: first request in to last answer out. ``bound / wall`` (efficiency) is the figure
README quotes (target >= 0.90) and ``peer wall / harness wall`` the speed-up (target >= 1.0).

Then the store's own speed in streaming mode: the openai backend's real stream dispatcher over a call that
answers at once (no HTTP), through ``runner.generate`` into a fresh SQLite store: completions committed per second
(target >= 10,000).
"""

from __future__ import annotations

import argparse
import heapq
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.latency_server import latency  # noqa: E402
from tests.servers import LatencyServer  # noqa: E402


def _prompts(k: int) -> list[str]:
    return [f"Question {i}: name one property of the number {i * 7919 % 10007}." for i in range(k)]


def ideal_schedule(lat: list[float], c: int) -> float:
    """The wall time of a zero-overhead client with ``c`` slots that sends the requests in order, each as soon as a
    slot frees (what any client that cannot know latencies in advance does at best): list scheduling, by arithmetic."""
    slots = [0.0] * c
    for x in lat:
        heapq.heappush(slots, heapq.heappop(slots) + x)
    return max(slots)


def run_harness(server: LatencyServer, prompts_file: Path, tmp: Path, c: int) -> dict:
    server.reset()
    out, store = tmp / f"harness-{c}.jsonl", tmp / f"store-{c}.sqlite"
    cmd = [
        sys.executable, "-m", "app", "generate", "--model", f"{server.spec('m')}?concurrency={c}",
        "--prompts", str(prompts_file), "--out", str(out), "--store", str(store), "--max-tokens", "16",
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"harness generate failed: {res.stderr[-2000:]}")
    return server.stats()


def run_peer(server: LatencyServer, prompts: list[str], tmp: Path, c: int) -> dict:
    """arena-hard-auto's client shape: one ThreadPoolExecutor over every request, each answer appended on arrival."""
    import openai

    server.reset()
    client = openai.OpenAI(base_url=server.base_url, api_key="-", max_retries=0)
    lock = threading.Lock()
    out = (tmp / f"peer-{c}.jsonl").open("w")

    def one(i: int) -> None:
        resp = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": prompts[i]}],
            temperature=0.7, top_p=0.9, max_tokens=16, seed=0,
        )  # fmt: skip
        with lock:
            out.write(json.dumps({"id": i, "output": resp.choices[0].message.content}) + "\n")
            out.flush()

    with ThreadPoolExecutor(c) as pool:
        for f in [pool.submit(one, i) for i in range(len(prompts))]:
            f.result()
    out.close()
    client.close()
    return server.stats()


def store_rate(n: int, tmp: Path) -> tuple[int, float]:
    """Completions per second through runner.generate and the store, with an API backend whose calls cost nothing."""
    from harness.backends.openai_backend import OpenAIModel
    from harness.runner import Run, generate
    from harness.spec import parse_spec
    from harness.store import Store
    from harness.types import Completion, Request

    class Instant(OpenAIModel):
        def _call(self, req: Request) -> list[Completion]:
            return [Completion(f"answer {k}", "stop", 10, 4) for k in range(req.params.n)]

    model = Instant(parse_spec("openai:instant@http://127.0.0.1:9/v1?preflight=false"))
    store = Store(tmp / "rate.sqlite")
    reqs = [Request.user(f"prompt {i}", max_tokens=16) for i in range(n)]
    t = time.perf_counter()
    generate(model, reqs, Run.start(store, "bench", {}))
    took = time.perf_counter() - t
    assert store.count_generations() == n
    store.close()
    model.close()
    return n, took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", default="32,128")
    ap.add_argument("--median", type=float, default=0.3)
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--store-requests", type=int, default=20000)
    args = ap.parse_args()
    prompts = _prompts(args.requests)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        prompts_file = tmp / "prompts.jsonl"
        prompts_file.write_text("".join(json.dumps({"id": i, "prompt": p}) + "\n" for i, p in enumerate(prompts)))
        server = LatencyServer(median=args.median, sigma=args.sigma, seed=0)
        lat = [latency(0, args.median, args.sigma, {"messages": [{"role": "user", "content": p}]}) for p in prompts]
        rows = []
        try:
            for c in (int(x) for x in args.concurrency.split(",")):
                peer = run_peer(server, prompts, tmp, c)
                mine = run_harness(server, prompts_file, tmp, c)
                for who, s in (("peer", peer), ("harness", mine)):
                    if s["calls"] != args.requests:
                        raise SystemExit(f"{who} at concurrency {c}: the server answered {s['calls']} calls")
                    if abs(s["sum_latency"] - sum(lat)) > 1e-6 * sum(lat):  # the arithmetic is the server's
                        raise SystemExit(
                            f"{who}: server latencies {s['sum_latency']:.3f} s != computed {sum(lat):.3f} s"
                        )
                rows.append((c, mine["sum_latency"] / c, ideal_schedule(lat, c), peer["wall"], mine["wall"]))
        finally:
            server.stop()
        print(f"\nAPI client, {args.requests} requests, lognormal latency (median {args.median} s, sigma {args.sigma}); "
              f"slowest request {max(lat):.1f} s")  # fmt: skip
        print(
            f"{'concurrency':>11}{'bound s':>9}{'in-order s':>11}{'peer s':>8}{'harness s':>10}"
            f"{'peer bound/wall':>16}{'harness bound/wall':>19}{'harness in-order/wall':>22}{'speed-up vs peer':>17}"
        )
        for c, bound, ideal, peer_wall, wall in rows:
            print(
                f"{c:>11}{bound:>9.1f}{ideal:>11.1f}{peer_wall:>8.1f}{wall:>10.1f}"
                f"{bound / peer_wall:>16.2f}{bound / wall:>19.2f}{ideal / wall:>22.2f}{peer_wall / wall:>17.2f}"
            )
        print("bound = sum(latency) / concurrency; in-order = the wall time of a zero-overhead client with the same slots that sends the requests "
              "in order (list scheduling on the seeded latencies, computed)")  # fmt: skip
        n, took = store_rate(args.store_requests, tmp)
        print(f"\nstore, streaming: {n} completions committed in {took:.2f} s = {n / took:,.0f} completions/s")


if __name__ == "__main__":
    main()
