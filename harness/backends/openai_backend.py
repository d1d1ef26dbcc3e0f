"""``openai:NAME[@BASE_URL]`` — any OpenAI-compatible HTTP server through the ``openai`` client.

The API key is read from the environment only (``$OPENAI_API_KEY``, or the variable named by
the ``api_key_env`` option) and is redacted from every error message.

Requests stream through one long-lived thread pool and one HTTP client (connection reuse) for the
model's lifetime: at most ``concurrency`` (default 32) are in flight, and a new one starts as soon
as one finishes and is stored, with no barrier between groups of requests (the peer is
arena-hard-auto's ``gen_judgment.py``, a ``ThreadPoolExecutor`` over all requests). On 429 the
concurrency adapts (AIMD, as TCP and most API batch clients do): it halves, at most once a second,
and every worker waits out the server's Retry-After; each success then adds 1/limit, so it climbs
back by one per round of successes up to ``concurrency``.

Retries are done here rather than by the client (``max_retries=0``) so that every fault is counted
in the run record: 429 (honouring Retry-After), 5xx, timeouts, dropped connections and malformed
bodies (bad JSON, no choices) are retried with exponential backoff up to ``max_retries`` (default 6);
other 4xx errors fail at once. Options: ``timeout`` (s, default 120), ``backoff`` (base s, default 1),
``price_in`` / ``price_out`` (USD per 1M tokens, for cost accounting).
"""

from __future__ import annotations

import math
import queue
import random
import re
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any

from harness.backends import gather, register
from harness.spec import OPENAI_URL, ModelSpec, api_key, shown
from harness.types import Completion, HarnessError, Request

# USD per 1M (prompt, completion) tokens, for the run's cost estimate: OpenAI's published list prices (checked
# 2025-06), covering the annotators the shipped configs name (gpt-4-1106-preview: AlpacaEval 2, Arena-Hard v0.1,
# MT-Bench here; gpt-4.1 and o3-mini: Arena-Hard v2.0). A model not listed has an unknown price: its cost is null
# (never $0) unless the spec gives price_in / price_out.
PRICES = {
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "o3-mini": (1.1, 4.4),
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4-0613": (30.0, 60.0),
    "gpt-4-0314": (30.0, 60.0),
    "gpt-4": (30.0, 60.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-3.5-turbo": (0.5, 1.5),
}

_KEYLIKE = re.compile(r"sk-[A-Za-z0-9_\-*]{6,}")


def redact(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return _KEYLIKE.sub("sk-***", text)


class _Retryable(Exception):
    def __init__(self, kind: str, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.wait = wait


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


# the default number of requests in flight: API judges answer in seconds, and 32 keeps a median-0.3 s server busy
# (bench/speed_client.py); a server that answers 429 makes it adapt down
DEFAULT_CONCURRENCY = 32


class _Limiter:
    """Adaptive concurrency (additive increase, multiplicative decrease) plus a shared Retry-After pause."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.resume_at = 0.0
        self.last_cut = -math.inf
        self.lowest = ceiling
        self._lock = threading.Lock()

    def current(self) -> int:
        return max(1, int(self.limit))

    def rate_limited(self, retry_after: float | None) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self.last_cut >= 1.0:  # one cut per burst: the 429s of one round say the same thing
                self.limit = max(1.0, self.limit / 2)
                self.last_cut = now
                self.lowest = min(self.lowest, self.current())
            if retry_after:
                self.resume_at = max(self.resume_at, now + retry_after)

    def succeeded(self) -> None:
        with self._lock:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))

    def wait(self) -> None:
        """Sleep while the server's Retry-After pause lasts (every worker honours it, not only the one told)."""
        while (left := self.resume_at - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))


@register("openai")
class OpenAIModel:
    def __init__(self, spec: ModelSpec, store: Any = None) -> None:
        import openai

        self.openai = openai
        opts = dict(spec.options)
        self.name = spec.target
        self.base_url = (spec.base_url or OPENAI_URL).rstrip("/")
        self.identity = f"openai:{self.name}@{self.base_url}"
        key = api_key(spec)  # $OPENAI_API_KEY only to OpenAI's own host (see harness.spec.api_key)
        opts.pop("api_key_env", None)
        self._secrets = [key]
        self.concurrency = int(opts.pop("concurrency", DEFAULT_CONCURRENCY))
        if self.concurrency < 1:
            raise HarnessError(f"model spec {shown(spec.raw)}: option concurrency must be >= 1")
        self.max_retries = int(opts.pop("max_retries", 6))
        self.backoff = float(opts.pop("backoff", 1.0))
        self.max_backoff = float(opts.pop("max_backoff", 60.0))
        timeout = float(opts.pop("timeout", 120.0))  # reading an answer
        connect = float(opts.pop("connect_timeout", 10.0))  # opening the connection
        self.preflight_timeout = float(opts.pop("preflight_timeout", 15.0))
        listed = PRICES.get(self.name)
        price_in, price_out = opts.pop("price_in", None), opts.pop("price_out", None)
        self.prices: tuple[float, float] | None = None
        if price_in is not None and price_out is not None:
            self.prices = (float(price_in), float(price_out))
        elif listed is not None:
            self.prices = (float(listed[0] if price_in is None else price_in),
                           float(listed[1] if price_out is None else price_out))  # fmt: skip
        self._price_noted = False  # the note on an unknown price is printed once, at the first answer
        preflight = bool(opts.pop("preflight", True))
        if opts:
            raise HarnessError(f"model spec {shown(spec.raw)}: unknown option(s) {', '.join(sorted(opts))}")
        self.connect_timeout = connect
        from openai._constants import DEFAULT_CONNECTION_LIMITS

        # one client for the model's lifetime, with as many kept-alive connections as requests in flight (the
        # SDK's default keeps 100, so at concurrency 128 connections would be opened and closed per request); the
        # limits' class is the SDK's own HTTP library's (httpx, or httpx2 in newer SDKs)
        limits = type(DEFAULT_CONNECTION_LIMITS)(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        http = openai.DefaultHttpxClient(limits=limits)
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=key,
            max_retries=0,
            timeout=openai.Timeout(timeout, connect=connect),
            http_client=http,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._limiter = _Limiter(self.concurrency)
        self._lock = threading.Lock()
        self._rng = random.Random(0)
        self._stats: dict[str, Any] = {"retries": 0, "cost_usd": 0.0, "cost_unknown": 0, "faults": {}}
        if preflight:
            self._preflight()

    def _preflight(self) -> None:
        """Fail fast, in one line, when the server cannot be reached at all, or accepts but never answers."""
        quick = self.client.with_options(
            timeout=self.openai.Timeout(self.preflight_timeout, connect=self.connect_timeout)
        )
        for attempt in range(3):
            try:
                quick.models.list()
                return
            except self.openai.APITimeoutError as exc:
                raise HarnessError(
                    f"base_url {self.base_url}: no answer within {self.preflight_timeout:g} s (the server accepts "
                    "connections but does not respond; option preflight_timeout)"
                ) from exc
            except self.openai.APIConnectionError as exc:
                if attempt == 2:
                    raise HarnessError(f"base_url {self.base_url}: unreachable ({self._clean(exc)})") from exc
                time.sleep(0.5 * (attempt + 1))
            except self.openai.APIStatusError as exc:
                if exc.status_code in (401, 403):
                    raise HarnessError(f"base_url {self.base_url}: authentication failed ({exc.status_code})") from exc
                return  # the server answers; other statuses are handled per call

    def _clean(self, exc: BaseException) -> str:
        return redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, self._secrets)

    def take_stats(self) -> dict[str, Any]:
        with self._lock:
            out, self._stats = self._stats, {"retries": 0, "cost_usd": 0.0, "cost_unknown": 0, "faults": {}}
        return out

    def _count_fault(self, kind: str) -> None:
        with self._lock:
            self._stats["faults"][kind] = self._stats["faults"].get(kind, 0) + 1

    def generate(self, requests: list[Request]) -> list[Any]:
        return gather(self.stream(requests), len(requests))

    def stream(self, requests: list[Request], window: int | None = None) -> Iterator[list[tuple[int, Any]]]:
        """Keep up to ``min(concurrency, window)`` requests in flight (less while the server rate-limits) on the
        model's one pool; yield what finished since the last yield. A slot is freed when the consumer comes back
        for more, i.e. after it stored the group: a SIGKILL loses at most that many calls."""
        from harness.runner import CallError

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="openai")
        cap = min(self.concurrency, window or self.concurrency)
        done: queue.Queue[tuple[int, Any]] = queue.Queue()
        stop = threading.Event()

        def work(i: int) -> None:
            try:
                res: Any = self._call_with_retries(requests[i], stop)
            except Exception as exc:  # noqa: BLE001 - a worker's failure is that call's error, never a lost slot
                res = CallError(f"{self.identity}: {type(exc).__name__} ({self._clean(exc)})")
            done.put((i, res))

        nxt, in_flight = 0, 0
        try:
            while nxt < len(requests) or in_flight:
                while nxt < len(requests) and in_flight < min(cap, self._limiter.current()):
                    self._pool.submit(work, nxt)
                    nxt, in_flight = nxt + 1, in_flight + 1
                while True:
                    try:
                        group = [done.get(timeout=0.5)]
                        break
                    except queue.Empty:
                        continue
                while True:
                    try:
                        group.append(done.get_nowait())
                    except queue.Empty:
                        break
                yield group
                in_flight -= len(group)
        finally:
            stop.set()  # calls still in flight end after their current attempt; nothing new is sent

    def _call_with_retries(self, req: Request, stop: threading.Event | None = None) -> Any:
        from harness.runner import CallError

        for attempt in range(self.max_retries + 1):
            if stop is not None and stop.is_set():
                return CallError(f"{self.identity}: cancelled")
            self._limiter.wait()
            try:
                res = self._call(req)
                self._limiter.succeeded()
                return res
            except _Retryable as exc:
                self._count_fault(exc.kind)
                if exc.kind == "rate_limit":
                    self._limiter.rate_limited(exc.wait)
                if attempt == self.max_retries:
                    return CallError(f"{self.identity}: {exc.kind} after {attempt + 1} attempts ({exc})")
                with self._lock:
                    self._stats["retries"] += 1
                    jitter = self._rng.uniform(0, 0.25)
                wait = exc.wait if exc.wait is not None else self.backoff * (2**attempt) * (1 + jitter)
                time.sleep(min(wait, self.max_backoff))
            except self.openai.APIStatusError as exc:
                self._count_fault(f"http_{exc.status_code}")
                return CallError(f"{self.identity}: HTTP {exc.status_code} ({self._clean(exc)})")
        raise AssertionError("unreachable")

    def _call(self, req: Request) -> list[Completion]:
        openai = self.openai
        p = req.params
        common: dict[str, Any] = {
            "model": self.name,
            "n": p.n,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_tokens": p.max_tokens,
        }
        if p.stop:
            common["stop"] = list(p.stop)
        if p.seed is not None:
            common["seed"] = p.seed
        try:
            if req.messages is not None:
                msgs: Any = [{"role": m.role, "content": m.content} for m in req.messages]  # the SDK's TypedDicts
                if p.logprobs is not None:
                    common.update(logprobs=True, top_logprobs=p.logprobs)
                resp = self.client.chat.completions.create(messages=msgs, **common)
            else:
                if p.logprobs is not None:
                    common["logprobs"] = p.logprobs
                resp = self.client.completions.create(prompt=req.prompt or "", **common)
        except openai.RateLimitError as exc:
            raise _Retryable("rate_limit", self._clean(exc), _retry_after(exc.response.headers)) from exc
        except openai.InternalServerError as exc:
            raise _Retryable(f"http_{exc.status_code}", self._clean(exc), _retry_after(exc.response.headers)) from exc
        except openai.APITimeoutError as exc:
            raise _Retryable("timeout", self._clean(exc)) from exc
        except openai.APIConnectionError as exc:
            raise _Retryable("connection", self._clean(exc)) from exc
        except openai.APIResponseValidationError as exc:
            raise _Retryable("malformed", self._clean(exc)) from exc
        except ValueError as exc:  # JSON decoding of a garbled body
            raise _Retryable("malformed", self._clean(exc)) from exc
        return self._parse(req, resp)

    def _parse(self, req: Request, resp: Any) -> list[Completion]:
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or len(choices) != req.params.n:
            raise _Retryable("malformed", f"expected {req.params.n} choices, got {choices!r:.80}")
        usage = getattr(resp, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        total_completion = int(getattr(usage, "completion_tokens", 0) or 0)
        with self._lock:
            if self.prices is None or usage is None:  # an unknown price, or a server that sent no usage
                self._stats["cost_unknown"] += 1
                if self.prices is None and not self._price_noted:
                    self._price_noted = True
                    print(f"note: {self.name}: no known price, so its cost is null, not $0 (options price_in, "
                          "price_out)", file=sys.stderr)  # fmt: skip
            else:
                self._stats["cost_usd"] += (prompt_tokens * self.prices[0] + total_completion * self.prices[1]) / 1e6
        comps = []
        for k, ch in enumerate(sorted(choices, key=lambda c: getattr(c, "index", 0) or 0)):
            if req.messages is not None:
                text = getattr(getattr(ch, "message", None), "content", None)
            else:
                text = getattr(ch, "text", None)
            if not isinstance(text, str):
                raise _Retryable("malformed", "a choice has no text")
            share = total_completion // req.params.n + (1 if k < total_completion % req.params.n else 0)
            comps.append(
                Completion(text, getattr(ch, "finish_reason", None), prompt_tokens, share, *self._logprobs(req, ch))
            )
        return comps

    @staticmethod
    def _logprobs(req: Request, ch: Any) -> tuple[list[dict[str, float]] | None, list[str] | None]:
        """(per-token top logprobs, the sampled tokens) of one choice; (None, None) without logprobs."""
        lp = getattr(ch, "logprobs", None)
        if req.params.logprobs is None or lp is None:
            return None, None
        if req.messages is not None:
            steps, tokens = [], []
            for tok in getattr(lp, "content", None) or []:
                entry = {t.token: float(t.logprob) for t in (tok.top_logprobs or [])}
                entry.setdefault(tok.token, float(tok.logprob))
                steps.append(entry)
                tokens.append(str(tok.token))
            return steps, tokens
        top = [{k: float(v) for k, v in (d or {}).items()} for d in (getattr(lp, "top_logprobs", None) or [])]
        return top, [str(t) for t in (getattr(lp, "tokens", None) or [])] or None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.client.close()
