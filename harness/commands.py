"""What the CLI commands do, kept apart from argument parsing so tests can call them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.io import atomic_write_jsonl, check_writable, read_jsonl
from harness.runner import Run, generate
from harness.store import Store
from harness.types import HarnessError, Message, Request, SamplingParams

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
            prog.update(task, advance=k, **({"note": note} if note is not None else {}))

        yield advance


def parse_prompt_rows(path: str, rows: list[dict[str, Any]]) -> list[tuple[str, tuple[Message, ...]]]:
    """Validate prompt rows: each needs ``prompt`` (string) or ``messages``; ids must be unique."""
    out: list[tuple[str, tuple[Message, ...]]] = []
    seen: set[str] = set()
    for k, row in enumerate(rows):
        line = row["__line__"]
        rid = str(row.get("id", k))
        if rid in seen:
            raise HarnessError(f"{path}:{line}: duplicate id {rid!r}")
        seen.add(rid)
        if "messages" in row:
            msgs = row["messages"]
            if not isinstance(msgs, list) or not msgs:
                raise HarnessError(f"{path}:{line}: field 'messages' must be a non-empty list")
            try:
                parsed = tuple(Message(str(m["role"]), str(m["content"])) for m in msgs)
            except (KeyError, TypeError) as exc:
                raise HarnessError(f"{path}:{line}: field 'messages' needs role and content in every message") from exc
        elif "prompt" in row:
            if not isinstance(row["prompt"], str) or not row["prompt"]:
                raise HarnessError(f"{path}:{line}: field 'prompt' must be a non-empty string")
            parsed = (Message("user", row["prompt"]),)
        else:
            raise HarnessError(f"{path}:{line}: missing field 'prompt' (or 'messages')")
        out.append((rid, parsed))
    return out


def summary_line(command: str, run: Run, extra: str = "") -> str:
    s = run.stats
    text = (
        f"{command}: calls made {s.calls_made}, reused {s.calls_reused}, failed {s.calls_failed}, "
        f"retried {s.calls_retried}; run {run.run_id}"
    )
    return text + (f"; {extra}" if extra else "")


def run_generate(
    *,
    model_spec: str,
    prompts_path: str,
    out_path: str,
    params: dict[str, Any],
    store_path: str | None,
    chunk_size: int = 64,
) -> str:
    from harness.backends import load_model, local_checkpoint
    from harness.spec import parse_spec

    spec = parse_spec(model_spec)
    sampling = SamplingParams(**params)
    prompts = parse_prompt_rows(prompts_path, read_jsonl(prompts_path))
    check_writable(out_path)
    if spec.backend != "openai":
        local_checkpoint(spec)  # a missing path fails here, before anything is written
    store = Store(store_path)
    try:
        model = load_model(spec, store=store)
    except BaseException:
        store.close()
        raise
    run = Run.start(
        store, "generate", {"model": model_spec, "prompts": prompts_path, "out": out_path, "params": params}
    )
    status = "failed"
    try:
        requests = [Request(messages=msgs, params=sampling) for _, msgs in prompts]
        with progress_bar("generate", len(requests)) as advance:
            outs = generate(model, requests, run, chunk_size=chunk_size, on_progress=advance)
        model.close()
        rows = [
            {
                "id": rid,
                "messages": [{"role": m.role, "content": m.content} for m in msgs],
                "model": model_spec,
                "outputs": [c.text for c in comps],
                "finish_reasons": [c.finish_reason for c in comps],
                "completion_tokens": [c.completion_tokens for c in comps],
            }
            for (rid, msgs), comps in zip(prompts, outs, strict=True)
        ]
        atomic_write_jsonl(out_path, rows)
        status = "finished"
    finally:
        run.finish(status)
        store.close()
    click.echo(summary_line("generate", run, f"wrote {out_path}"))
    return run.run_id
