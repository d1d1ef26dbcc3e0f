"""harness.runner's run record under signals: a SIGTERM/SIGINT while the record is ended, or while the models
are closed, still leaves it ended (never ``running``)."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.runner import INTERRUPTED, Run, end_run
from harness.store import Store


@pytest.fixture()
def cli_signals() -> Iterator[None]:
    """The CLI's SIGTERM/SIGINT handlers in this process, restored (and the interrupted flag cleared) after."""
    from app.cli import _on_signals

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _on_signals()
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
        INTERRUPTED.clear()


def _signal_inside_update_run(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next update_run receives a SIGTERM after its transaction began (where a raise rolled it back)."""
    original = store.update_run

    def update_run(*args: object, **kw: object) -> None:
        with store.transaction():
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs at the next bytecode, inside the transaction
            sum(range(1000))
        original(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "update_run", update_run)


@pytest.mark.parametrize(("status", "recorded"), [("failed", "failed"), ("finished", "finished")])
def test_a_signal_while_the_record_is_ended_is_acted_on_once_it_is_written(
    status: str, recorded: str, cli_signals: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    _signal_inside_update_run(store, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run.finish(status)
    assert store.get_run(run.run_id)["status"] == recorded


def test_a_cleanup_that_raises_still_ends_the_record(cli_signals: None, tmp_path: Path) -> None:
    """A signal while the models are closed (after the work): the record is still ended, as interrupted."""
    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})

    def close() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))

    with pytest.raises(KeyboardInterrupt):
        try:
            raise KeyboardInterrupt  # the work was interrupted: the caller's status is still "failed"
        finally:
            end_run(run, "failed", close)
    assert store.get_run(run.run_id)["status"] == "interrupted"
