"""`harness generate`: completions for a JSONL prompt file, resumable through the store."""

from __future__ import annotations

import json
from typing import Any

import click

from app.console import progress_bar, summary_line
from app.options import SEED, positive, store_option
from harness.files import atomic_write_jsonl, check_not_input, check_writable, read_jsonl
from harness.runner import Run, check_context, end_run, generate
from harness.store import Store
from harness.types import ContextTooLong, HarnessError, Message, Request, SamplingParams

ROLES = ("system", "user", "assistant")


def parse_prompt_rows(path: str, rows: list[dict[str, Any]]) -> list[tuple[Any, tuple[Message, ...]]]:
    """Validate prompt rows: each needs ``prompt`` (string) or ``messages`` (each a role of :data:`ROLES` and a
    string content); an ``id`` is a string or an integer, unique, and comes back in the output as given."""
    out: list[tuple[Any, tuple[Message, ...]]] = []
    seen: set[str] = set()
    for k, row in enumerate(rows):
        line = row["__line__"]
        rid = row.get("id", k)
        if isinstance(rid, bool) or not isinstance(rid, str | int):
            raise HarnessError(f"{path}:{line}: field 'id' must be a string or an integer, got {json.dumps(rid)[:40]}")
        if json.dumps(rid) in seen:
            raise HarnessError(f"{path}:{line}: duplicate id {rid!r}")
        seen.add(json.dumps(rid))
        if "messages" in row:
            msgs = row["messages"]
            if not isinstance(msgs, list) or not msgs:
                raise HarnessError(f"{path}:{line}: field 'messages' must be a non-empty list")
            for j, m in enumerate(msgs):
                if not isinstance(m, dict) or "role" not in m or "content" not in m:
                    raise HarnessError(f"{path}:{line}: messages[{j}] needs a role and a content")
                if m["role"] not in ROLES:
                    raise HarnessError(f"{path}:{line}: messages[{j}].role must be one of {', '.join(ROLES)}, got "
                                       f"{json.dumps(m['role'])[:40]}")  # fmt: skip
                if not isinstance(m["content"], str):
                    raise HarnessError(f"{path}:{line}: messages[{j}].content must be a string, got "
                                       f"{json.dumps(m['content'])[:40]}")  # fmt: skip
            parsed = tuple(Message(m["role"], m["content"]) for m in msgs)
        elif "prompt" in row:
            if not isinstance(row["prompt"], str) or not row["prompt"]:
                raise HarnessError(f"{path}:{line}: field 'prompt' must be a non-empty string")
            parsed = (Message("user", row["prompt"]),)
        else:
            raise HarnessError(f"{path}:{line}: missing field 'prompt' (or 'messages')")
        out.append((rid, parsed))
    return out


def run_generate(
    *,
    model_spec: str,
    prompts_path: str,
    out_path: str,
    params: dict[str, Any],
    store_path: str | None,
    window: int | None = None,
) -> str:
    from harness.backends import load_model, local_checkpoint
    from harness.spec import parse_spec

    spec = parse_spec(model_spec)
    sampling = SamplingParams(**params)
    rows = read_jsonl(prompts_path)
    read_lines = [r["__line__"] for r in rows]
    prompts = parse_prompt_rows(prompts_path, rows)
    check_writable(out_path)
    check_not_input(out_path, prompts=prompts_path)
    if spec.backend != "openai":
        local_checkpoint(spec)  # a missing path fails here, before anything is written
    store = Store(store_path)
    requests = [Request(messages=msgs, params=sampling) for _, msgs in prompts]
    try:
        model = load_model(spec, store=store)
        try:
            check_context(model, requests, list(range(len(requests))))  # before any call and any run record
        except ContextTooLong as exc:
            model.close()
            raise HarnessError(f"{prompts_path}:{read_lines[exc.index]}: {exc}") from exc
    except BaseException:
        store.close()
        raise
    run = Run.start(
        store, "generate", {"model": model_spec, "prompts": prompts_path, "out": out_path, "params": params}
    )
    status = "failed"
    try:
        with progress_bar("generate", len(requests)) as advance:
            outs = generate(model, requests, run, window=window, on_progress=advance)
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
        end_run(run, status)
        store.close()
    click.echo(summary_line("generate", run, f"wrote {out_path}"))
    return run.run_id


@click.command("generate")
@click.option("--model", "model_spec", required=True, help="Model spec, e.g. hf:PATH, vllm:PATH, openai:NAME@URL.")
@click.option(
    "--prompts",
    "prompts_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="JSONL of {id?, prompt | messages}.",
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Output JSONL.")
@click.option("-n", "n", type=int, default=1, show_default=True, callback=positive("-n"), help="Samples per prompt.")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--top-p", type=float, default=0.9, show_default=True)
@click.option("--max-tokens", type=int, default=256, show_default=True, callback=positive("--max-tokens"))
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--logprobs", type=int, default=None, help="Top-k logprobs per token.")
@click.option(
    "--window", "--chunk-size", "window", type=int, default=None, callback=positive("--window"),
    help="Most requests sent and not yet stored (default: the backend's own: the openai concurrency, every "
    "pending request for vLLM). A SIGKILL loses at most these calls. --chunk-size is its former name.",
)  # fmt: skip
@store_option
def generate_cmd(
    model_spec: str,
    prompts_path: str,
    out_path: str,
    n: int,
    temperature: float,
    top_p: float,
    max_tokens: int,
    seed: int,
    logprobs: int | None,
    window: int | None,
    store_path: str | None,
) -> None:
    """Generate completions for a JSONL prompt file (resumable through the store)."""
    run_generate(
        model_spec=model_spec,
        prompts_path=prompts_path,
        out_path=out_path,
        params={
            "n": n,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "seed": seed,
            "logprobs": logprobs,
        },
        store_path=store_path,
        window=window,
    )


COMMANDS = [generate_cmd]
