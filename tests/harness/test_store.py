import json
import multiprocessing as mp
from pathlib import Path

from harness.store import Store, sample_key
from harness.types import Completion, Request


def _writer(path: str, offset: int) -> None:
    store = Store(path)
    for start in range(0, 200, 10):
        rows = [
            (sample_key("m", {"i": i}, 0), "m", 0, {"i": i}, Completion(f"text {i}"))
            for i in range(start + offset, start + offset + 10)
        ]
        store.put_many(rows, run_id=f"w{offset}")
    store.close()


def test_two_processes_share_the_store(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite")
    Store(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, off)) for off in (0, 5)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = Store(path)
    # overlapping keys were inserted once: 0..204 without duplicates
    assert store.count_generations() == 205
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_run_record_and_roundtrip(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    run_id = store.start_run("generate", {"model": "hf:x"})
    store.update_run(run_id, {"calls_made": 3}, status="finished")
    run = store.get_run(run_id)
    assert run["status"] == "finished" and run["counters"] == {"calls_made": 3}
    assert "python" in run["versions"] and run["ended_at"] >= run["started_at"]
    req = Request.user("hi", seed=1)
    key = sample_key("m", req.content_key(), 0)
    comp = Completion("hello", "stop", 3, 2, [{"a": -0.1}])
    store.put_many([(key, "m", 0, req.content_key(), comp)], run_id)
    assert store.get_many([key, "missing"]) == {key: comp}
    stored_req = json.loads(store.conn.execute("SELECT request FROM generations").fetchone()[0])
    assert stored_req["messages"] == [["user", "hi"]]


def test_an_interrupt_right_after_begin_leaves_no_open_transaction(tmp_path: Path) -> None:
    """A KeyboardInterrupt (a signal) between BEGIN IMMEDIATE and the transaction's body rolls back: the run
    record's final update can still be written (an open transaction made it fail and left the run running)."""
    from harness.runner import Run

    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    real = store.conn

    class InterruptedAfterBegin:
        def execute(self, sql: str, *args: object) -> object:
            out = real.execute(sql, *args)
            if sql == "BEGIN IMMEDIATE":
                raise KeyboardInterrupt
            return out

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    store.conn = InterruptedAfterBegin()  # type: ignore[assignment]
    try:
        with store.transaction():
            raise AssertionError("the body is never reached")
    except KeyboardInterrupt:
        pass
    store.conn = real
    assert not real.in_transaction
    run.finish("failed")
    assert store.get_run(run.run_id)["status"] == "failed"
