"""Cached, resumable, streaming generation: every model call of the project goes through :func:`generate`.

For each request, the samples already in the store are reused (no model call); the rest are
claimed (so processes sharing the store never repeat a call) and streamed to the backend, which
keeps a bounded number in flight and hands back each request as it finishes. Finished requests
are committed in groups (whatever finished during the previous commit), so the store is never
the bottleneck and there is no barrier between groups of requests. Failed calls are counted,
never stored, and reported at the end.

The shape follows vLLM's ``AsyncLLM.generate`` / the OpenAI batch clients of arena-hard-auto
(``gen_judgment.py``: a thread pool over all requests): the engine or the pool decides what runs
together; the harness only bounds what is in flight and stores what comes back.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.store import Store, sample_key
from harness.types import Completion, ContextTooLong, HarnessError, Model, Request


class CallError(Exception):
    """A model call that failed after the backend's retries; returned in place of its completions."""


@dataclass
class RunStats:
    """Call accounting of a run: a call is one request (all of its n samples)."""

    calls_made: int = 0
    calls_reused: int = 0
    calls_failed: int = 0
    calls_retried: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0  # None: some call's cost is unknown (no price, or no usage sent), never counted as $0
    calls_cost_unknown: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def absorb_backend(self, model: Model) -> None:
        """Add the backend's own counters (retries, faults, cost) gathered since the last call."""
        take = getattr(model, "take_stats", None)
        if take is None:
            return
        extra = take()
        self.calls_retried += int(extra.get("retries", 0))
        unknown = int(extra.get("cost_unknown", 0))
        self.calls_cost_unknown += unknown
        if unknown or self.cost_usd is None:
            self.cost_usd = None
        else:
            self.cost_usd += float(extra.get("cost_usd", 0.0))
        for name, count in extra.get("faults", {}).items():
            self.faults[name] = self.faults.get(name, 0) + int(count)


# how long to wait on requests another live process has claimed before giving up (seconds)
CLAIM_WAIT = float(os.environ.get("HARNESS_CLAIM_WAIT", "3600"))
# test hook: a random delay (up to this many seconds) between reading the store and claiming
CLAIM_DELAY = float(os.environ.get("HARNESS_CLAIM_DELAY", "0"))

# set by the CLI's SIGTERM/SIGINT handler: a run ended by a signal is recorded as interrupted, not left running
INTERRUPTED = threading.Event()
# >0 while the run record is being ended: the CLI's handler then only sets INTERRUPTED, and the KeyboardInterrupt
# is raised when the record is written (a signal inside that transaction rolled it back and left it running)
_DEFERRING = [0]


def signals_deferred() -> bool:
    """True while a run record is being ended (the CLI's signal handler must not raise then)."""
    return _DEFERRING[0] > 0


@contextmanager
def _defer_signals() -> Iterator[None]:
    seen = INTERRUPTED.is_set()
    _DEFERRING[0] += 1
    try:
        yield
    finally:
        _DEFERRING[0] -= 1
    if not seen and INTERRUPTED.is_set() and _DEFERRING[0] == 0:  # a signal came meanwhile: act on it now
        raise KeyboardInterrupt


def end_run(run: Run, status: str, *cleanups: Callable[[], object]) -> None:
    """Run ``cleanups`` (closing models), then end the run record with ``status``. The record is written even when
    a cleanup raises or a signal arrives meanwhile: a run is never left ``running``."""
    try:
        for cleanup in cleanups:
            cleanup()
    finally:
        run.finish(status)


@dataclass
class Run:
    """A registered run: its id in the store and its live counters."""

    store: Store
    run_id: str
    stats: RunStats = field(default_factory=RunStats)

    @classmethod
    def start(cls, store: Store, command: str, config: dict[str, Any], run_id: str | None = None) -> Run:
        return cls(store, store.start_run(command, config, run_id))

    @classmethod
    def resume(cls, store: Store, run_id: str) -> Run:
        """Continue a run recorded in ``store``: its counters go on from their recorded values."""
        record = store.reopen_run(run_id)
        known = {f.name for f in dataclasses.fields(RunStats)}
        return cls(store, run_id, RunStats(**{k: v for k, v in record["counters"].items() if k in known}))

    def checkpoint(self) -> None:
        self.store.update_run(self.run_id, self.stats.to_dict())

    def finish(self, status: str = "finished") -> None:
        """End the run record: ``finished``, ``failed``, or ``interrupted`` when a signal ended the command.

        A SIGTERM/SIGINT that arrives while the record is written is acted on once it is written."""
        with _defer_signals():
            if status != "finished" and INTERRUPTED.is_set():
                status = "interrupted"
            self.store.update_run(self.run_id, self.stats.to_dict(), status=status)


Outcome = list[Completion] | Exception
"""What a backend yields for one request: its completions, or the :class:`CallError` that ended it."""

# a process's claims on requests it has not reached yet are refreshed this often (seconds; CLAIM_TTL is 600)
HEARTBEAT_S = 30.0
# backends without ``stream`` are driven through ``generate`` in windows of this many requests
FALLBACK_WINDOW = 64


def _windows(model: Model, requests: list[Request], window: int) -> Iterator[list[tuple[int, Outcome]]]:
    """The stream of a backend that only has ``generate``: one window at a time (its one barrier)."""
    for start in range(0, len(requests), window):
        idx = range(start, min(start + window, len(requests)))
        try:
            outs: list[Outcome] = list(model.generate([requests[i] for i in idx]))
        except CallError as exc:
            outs = [exc] * len(idx)
        yield list(zip(idx, outs, strict=True))


def _open_stream(model: Model, requests: list[Request], window: int | None) -> Iterator[list[tuple[int, Outcome]]]:
    stream = getattr(model, "stream", None)
    if callable(stream):
        return iter(stream(requests, window=window))
    return _windows(model, requests, window or FALLBACK_WINDOW)


def _stream_own(
    model: Model,
    requests: list[Request],
    keys: list[list[str]],
    own: list[int],
    results: list[list[Completion] | None],
    run: Run,
    failures: list[str],
    window: int | None,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Stream the claimed requests ``own`` through the backend; commit each group of finished requests, with their
    claims released and the run's counters, in one transaction as soon as it arrives."""
    store = run.store
    left = {keys[i][0] for i in own}
    last_beat = time.monotonic()
    groups = _open_stream(model, [requests[i] for i in own], window)
    try:
        for group in groups:
            rows, done = [], []
            for j, out in group:
                i = own[j]
                done.append(keys[i][0])
                if isinstance(out, Exception):
                    run.stats.calls_failed += 1
                    failures.append(str(out))
                    continue
                if len(out) != requests[i].params.n:
                    raise HarnessError(
                        f"backend returned {len(out)} samples for a request with n={requests[i].params.n}"
                    )
                results[i] = out
                run.stats.calls_made += 1
                for k, comp in enumerate(out):
                    run.stats.prompt_tokens += comp.prompt_tokens if k == 0 else 0
                    run.stats.completion_tokens += comp.completion_tokens
                    rows.append((keys[i][k], model.identity, k, requests[i].content_key(), comp))
            run.stats.absorb_backend(model)
            # the rows, the run's counters and the release of these claims in one commit: a SIGKILL either side
            # of it leaves rows and counters in step, and no claim whose row is missing
            store.put_many(rows, run.run_id, counters=run.stats.to_dict(), release=done)
            left.difference_update(done)
            if on_progress:
                on_progress(len(group))
            if left and time.monotonic() - last_beat > HEARTBEAT_S:
                store.heartbeat(sorted(left))
                last_beat = time.monotonic()
    finally:
        close = getattr(groups, "close", None)
        if callable(close):
            close()  # a backend stops sending once its consumer is gone (an error, a signal)
        if left:
            store.release(sorted(left))


def check_context(model: Model, requests: list[Request], todo: list[int]) -> None:
    """Refuse, before any call, a request whose prompt plus ``max_tokens`` exceeds the model's context (a local
    backend knows both: ``context_length`` and ``prompt_tokens``); an API server says so itself, per call.

    Raises:
        ContextTooLong: naming the first such request (``index``) and its lengths.
    """
    limit = getattr(model, "context_length", None)
    count = getattr(model, "prompt_tokens", None)
    if not limit or not callable(count):
        return
    for i in todo:
        n = int(count(requests[i]))
        if n + requests[i].params.max_tokens > limit:
            raise ContextTooLong(
                i, f"a prompt of {n} tokens plus max_tokens {requests[i].params.max_tokens} exceeds the model's "
                f"context of {limit} tokens (shorten it, or lower max_tokens)",
            )  # fmt: skip


def generate(
    model: Model,
    requests: list[Request],
    run: Run,
    *,
    window: int | None = None,
    chunk_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[list[Completion]]:
    """Return the completions of every request, from the store where possible.

    The requests not in the store are claimed, then streamed to the backend (its ``stream``: requests flow with
    a bounded number in flight and come back as they finish); each group of finished requests is committed as
    it arrives, so progress advances per completion and no request waits for another's straggler.

    Args:
        window: the most requests handed to the backend and not yet stored (default: the backend's own, e.g.
            the openai backend's concurrency, or all pending requests for the vLLM engine). A SIGKILL loses at
            most these calls.
        chunk_size: the former name of ``window``.
        on_progress: called with the number of requests finished (stored, reused or failed) since the last call.

    Raises :class:`HarnessError` after storing all successful calls if any call failed.
    """
    window = window or chunk_size
    if window is not None and window < 1:
        raise HarnessError(f"window must be a positive integer, got {window!r}")
    store = run.store
    keys = [[sample_key(model.identity, req.content_key(), i) for i in range(req.params.n)] for req in requests]
    found = store.get_many([k for ks in keys for k in ks])
    results: list[list[Completion] | None] = [None] * len(requests)
    todo: list[int] = []
    for i, ks in enumerate(keys):
        if all(k in found for k in ks):
            results[i] = [found[k] for k in ks]
            run.stats.calls_reused += 1
        else:
            todo.append(i)
    if on_progress and len(requests) - len(todo):
        on_progress(len(requests) - len(todo))
    check_context(model, requests, todo)
    failures: list[str] = []
    waiting = todo
    waited_since: float | None = None
    told = False
    while waiting:
        if CLAIM_DELAY:  # test hook: widen the window between reading the store and claiming
            time.sleep(random.uniform(0, CLAIM_DELAY))
        claimed, _held = store.claim([keys[i][0] for i in waiting])
        mine = set(claimed)
        own = [i for i in waiting if keys[i][0] in mine]
        # rows another process stored between our read and our claim are taken, never recomputed (its rows are
        # committed before its claims are released, so a claim we could take shows them)
        if own:
            found = store.get_many([k for i in own for k in keys[i]])
            stored = [i for i in own if all(k in found for k in keys[i])]
            for i in stored:
                results[i] = [found[k] for k in keys[i]]
                run.stats.calls_reused += 1
            if stored:
                store.release([keys[i][0] for i in stored])
                if on_progress:
                    on_progress(len(stored))
            own = [i for i in own if results[i] is None]
        if own:
            _stream_own(model, requests, keys, own, results, run, failures, window, on_progress)
        # requests another live process is making: wait for its rows (or take over if it dies)
        waiting = [i for i in waiting if keys[i][0] not in mine]
        if waiting:
            waited_since = waited_since or time.time()
            waited = time.time() - waited_since
            if waited > CLAIM_WAIT:
                owners = ", ".join(store.claim_owners([keys[i][0] for i in waiting]))
                raise HarnessError(
                    f"{len(waiting)} request(s) still claimed by {owners} after {waited:.0f} s; stop that process "
                    "or re-run later (finished calls are stored)"
                )
            if waited > 5 and not told:
                owners = ", ".join(store.claim_owners([keys[i][0] for i in waiting]))
                print(f"waiting for {len(waiting)} request(s) being made by {owners}", file=sys.stderr, flush=True)
                told = True
            time.sleep(0.2)
            found = store.get_many([k for i in waiting for k in keys[i]])
            done = [i for i in waiting if all(k in found for k in keys[i])]
            for i in done:
                results[i] = [found[k] for k in keys[i]]
                run.stats.calls_reused += 1
            if on_progress and done:
                on_progress(len(done))
            waiting = [i for i in waiting if results[i] is None]
    run.checkpoint()
    if failures:
        raise HarnessError(
            f"{len(failures)} model call(s) failed (first: {failures[0]}); finished calls are stored, re-run to retry"
        )
    return [r for r in results if r is not None]
