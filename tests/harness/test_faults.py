"""The openai backend under injected faults: same results as a clean run, every fault counted, nothing failed cached."""

import time
from pathlib import Path

import pytest

from harness.backends import load_model
from harness.runner import Run, generate
from harness.store import Store
from harness.types import HarnessError, Request
from tests.servers import FaultServer

HERE = Path(__file__).resolve().parents[1]


def _requests(k: int) -> list[Request]:
    return [Request.user(f"Judge response {i}", n=1 + i % 3, seed=i, max_tokens=16) for i in range(k)]


def _texts(outs: list) -> list[list[str]]:
    return [[c.text for c in o] for o in outs]


def test_faulty_run_equals_clean_run(tmp_path: Path) -> None:
    clean, faulty = FaultServer(0.0), FaultServer(0.3, seed=7, hang_s=2.0)
    try:
        reqs = _requests(220)
        opts = "?concurrency=8&timeout=0.5&backoff=0.01&max_backoff=0.1&max_retries=30"
        s1, s2 = Store(tmp_path / "clean.sqlite"), Store(tmp_path / "faulty.sqlite")
        run1 = Run.start(s1, "t", {})
        out1 = generate(load_model(f"openai:fake@{clean.url}{opts}", store=s1), reqs, run1)
        run2 = Run.start(s2, "t", {})
        out2 = generate(load_model(f"openai:fake@{faulty.url}{opts}", store=s2), reqs, run2, chunk_size=32)
        assert _texts(out1) == _texts(out2)
        injected = faulty.stats()["faults"]
        assert sum(injected.values()) >= 40 and all(v > 0 for v in injected.values()), injected
        counted = s2.get_run(run2.run_id)["counters"]
        assert counted["calls_made"] == 220 and counted["calls_failed"] == 0
        # every injected fault is in the run record (each one was retried)
        assert sum(counted["faults"].values()) == sum(injected.values())
        assert counted["calls_retried"] == sum(injected.values())
        assert counted["faults"]["rate_limit"] == injected["rate_limit"]
        assert counted["faults"]["timeout"] == injected["hang"]
        assert s2.count_generations() == sum(r.params.n for r in reqs)
    finally:
        clean.stop()
        faulty.stop()


def test_failures_are_not_cached(tmp_path: Path) -> None:
    always = FaultServer(1.0, seed=1, hang_s=0.5)
    try:
        store = Store(tmp_path / "s.sqlite")
        model = load_model(f"openai:fake@{always.url}?timeout=0.2&backoff=0.01&max_retries=2", store=store)
        run = Run.start(store, "t", {})
        with pytest.raises(HarnessError, match=r"5 model call\(s\) failed"):
            generate(model, _requests(5), run)
        assert store.count_generations() == 0
        assert store.get_run(run.run_id)["counters"]["calls_failed"] == 5
    finally:
        always.stop()


def test_a_key_goes_only_to_the_host_it_belongs_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$OPENAI_API_KEY is OpenAI's: a local server never receives it; it gets the key named by api_key_env."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-official-FAKE-1")
    monkeypatch.setenv("MY_SERVER_KEY", "sk-mine-FAKE-2")
    server = FaultServer(rate=0.0)
    try:
        store = Store(tmp_path / "s.sqlite")
        for spec in (f"openai:fake@{server.url}", f"openai:fake@{server.url}?api_key_env=MY_SERVER_KEY"):
            model = load_model(spec, store=store)
            generate(model, [Request.user(spec, max_tokens=4)], Run.start(store, "test", {}))
            model.close()
        assert server.stats()["bearers"] == ["EMPTY", "sk-mine-FAKE-2"]
        monkeypatch.delenv("MY_SERVER_KEY")
        with pytest.raises(HarnessError, match="environment variable MY_SERVER_KEY is not set"):
            load_model(f"openai:fake@{server.url}?api_key_env=MY_SERVER_KEY", store=store)
        store.close()
    finally:
        server.stop()


def test_a_server_that_accepts_but_never_answers_fails_fast(tmp_path: Path) -> None:
    """A socket that accepts connections and never answers: the preflight gives up after its own short read timeout,
    in one line, instead of 3 x 120 s of silence."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        start = time.time()
        with pytest.raises(HarnessError, match=r"no answer within 1 s") as err:
            load_model(
                f"openai:fake@http://127.0.0.1:{port}/v1?preflight_timeout=1", store=Store(tmp_path / "s.sqlite")
            )
        assert time.time() - start < 10 and "\n" not in str(err.value)
    finally:
        listener.close()


def test_a_locked_store_waits_with_a_bound_and_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    store = Store(tmp_path / "s.sqlite")
    rid = store.start_run("test", {})
    other = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    monkeypatch.setenv("HARNESS_STORE_LOCK_WAIT", "2")
    try:
        start = time.time()
        with pytest.raises(HarnessError, match="locked by another writer for 2 s"):
            store.update_run(rid, {}, status="finished")
        assert 1.5 < time.time() - start < 10
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.update_run(rid, {}, status="finished")  # once released, the write goes through
    assert store.get_run(rid)["status"] == "finished"
    store.close()
