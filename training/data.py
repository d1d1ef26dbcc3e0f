"""Seed data of a run: IFT rows, ranked data for EFT, seed prompts; the task world or user files."""

from __future__ import annotations

from typing import Any

from benchmarks.core import world as taskworld
from harness.files import read_jsonl
from harness.types import HarnessError
from training.config import BUILTIN


def ift_rows(source: str, seed: int, n: int = 300) -> list[dict[str, Any]]:
    """Chat rows ``{"messages": [user, assistant]}`` for SFT."""
    if source == BUILTIN:
        return [
            {
                "messages": [
                    {"role": "user", "content": t.prompt},
                    {"role": "assistant", "content": taskworld.good_response(t)},
                ]
            }
            for t in taskworld.tasks(n, seed=seed)  # the train partition: disjoint from the eval prompts
        ]
    rows = []
    for row in read_jsonl(source):
        line = row.pop("__line__")
        if "messages" in row:
            rows.append({"messages": row["messages"]})
        elif isinstance(row.get("prompt"), str) and isinstance(row.get("response"), str):
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": row["prompt"]},
                        {"role": "assistant", "content": row["response"]},
                    ]
                }
            )
        else:
            raise HarnessError(f"{source}:{line}: IFT rows need 'messages' or 'prompt' and 'response'")
    return rows


def ranked_rows(source: str, seed: int, n: int) -> list[dict[str, Any]]:
    """Ranked rows ``{id, prompt, responses, ranks}`` (rank 0 = best) for EFT."""
    if source == BUILTIN:
        return taskworld.ranked_rows(n, seed=seed)
    from benchmarks.judge.data import load_ranked

    return [
        {"id": p.prompt_id, "prompt": p.prompt, "responses": p.responses, "ranks": p.ranks} for p in load_ranked(source)
    ][:n]


def seed_prompts(source: str, seed: int, n: int = 200) -> list[str]:
    if source == BUILTIN:
        return [t.prompt for t in taskworld.tasks(n, seed=seed)]
    out = []
    for row in read_jsonl(source):
        if not isinstance(row.get("prompt"), str):
            raise HarnessError(f"{source}:{row['__line__']}: missing field 'prompt'")
        out.append(row["prompt"])
    return out
