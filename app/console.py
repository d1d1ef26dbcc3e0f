"""The console of the CLI: stderr output, rich progress bars and the one-line run summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.runner import Run

console = Console(stderr=True)


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Any]:
    """A rich progress bar on stderr; yields ``advance(k, note=None)`` (note: e.g. the current loss)."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task(label, total=total, note="")

        def advance(k: int, note: str | None = None) -> None:
            if note is None:
                prog.update(task, advance=k)
            else:
                prog.update(task, advance=k, note=note)

        yield advance


def summary_line(command: str, run: Run, extra: str = "") -> str:
    s = run.stats
    text = (
        f"{command}: calls made {s.calls_made}, reused {s.calls_reused}, failed {s.calls_failed}, "
        f"retried {s.calls_retried}; run {run.run_id}"
    )
    return text + (f"; {extra}" if extra else "")
