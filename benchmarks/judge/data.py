"""Human-ranked prompts for judge-quality benchmarks: OASST trees, OASST messages, the hub, plain JSONL.

Every loader returns :class:`RankedPrompt` objects, one per prompt that has at least two ranked
replies. OASST semantics (Köpf et al. 2023; Self-Rewarding Sec. 3.1.1): a ranked reply's prompt is
its *parent* message; rank 0 is the best reply among its siblings. Only assistant replies of
prompter messages are kept (OASST also ranks prompter replies, which are not responses to judge),
and deleted messages are dropped. Ranks are kept as exported (only their order matters).

By default the prompt is the parent message's text alone, also for a deep node of a conversation;
``with_history=True`` also fills :attr:`RankedPrompt.history` with the earlier turns (root first).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.files import read_jsonl
from harness.types import HarnessError

HUB_NAME = "OpenAssistant/oasst1"
_HUB_SPEC = re.compile(r"^(?:OpenAssistant/)?oasst1(?::(?P<split>[\w.-]+))?$")
_OASST_ROLES = {"prompter": "user", "assistant": "assistant"}


@dataclass
class RankedPrompt:
    """A prompt with human-ranked responses; ``ranks[i]`` ranks ``responses[i]`` (0 = best, as OASST).

    ``history`` holds the earlier turns of the conversation, root first, as ``{"role", "content"}``
    dicts (roles "user"/"assistant"); it is empty unless a loader was asked for it.
    """

    prompt_id: str
    prompt: str
    responses: list[str]
    ranks: list[int]
    history: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Message:
    """One OASST message, flattened out of whatever format it came in; ``where`` locates it for errors."""

    message_id: str
    parent_id: str | None
    text: str
    role: str
    rank: int | None
    lang: str | None
    deleted: bool
    where: str


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str, *, required: bool = True) -> Any:
    if name not in obj or obj[name] is None:
        if required:
            raise HarnessError(f"{where}: missing field '{name}'")
        return None
    value = obj[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise HarnessError(f"{where}: field '{name}' has the wrong type ({type(value).__name__})")
    return value


def _rank(obj: dict[str, Any], where: str) -> int | None:
    """OASST ranks are ints in the exports and floats (NaN for none) in the hub's Arrow tables."""
    value = obj.get("rank")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise HarnessError(f"{where}: field 'rank' must be an integer or null, got {value!r}")
    return int(value)


def _collect(obj: Any, where: str, parent: str | None, out: list[_Message]) -> None:
    """Append ``obj`` and, depth first, its nested ``replies`` (whose parent is ``obj`` by nesting)."""
    if not isinstance(obj, dict):
        raise HarnessError(f"{where}: expected a message object, got {type(obj).__name__}")
    mid = _field(obj, "message_id", str, where)
    at = f"{where}: message {mid}"
    parent_id = parent if parent is not None else _field(obj, "parent_id", str, at, required=False)
    out.append(
        _Message(
            message_id=mid,
            parent_id=parent_id,
            text=_field(obj, "text", str, at),
            role=_field(obj, "role", str, at),
            rank=_rank(obj, at),
            lang=_field(obj, "lang", str, at, required=False),
            deleted=bool(_field(obj, "deleted", bool, at, required=False)),
            where=where,
        )
    )
    replies = obj.get("replies") or []
    if not isinstance(replies, list):
        raise HarnessError(f"{at}: field 'replies' must be a list")
    for reply in replies:
        _collect(reply, where, mid, out)


def _history(msg: _Message, by_id: dict[str, _Message]) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    cur = msg
    while cur.parent_id is not None:
        parent = by_id.get(cur.parent_id)
        if parent is None:
            raise HarnessError(
                f"{cur.where}: message {cur.message_id}: parent {cur.parent_id} not found (needed for history)"
            )
        turns.append({"role": _OASST_ROLES.get(parent.role, parent.role), "content": parent.text})
        cur = parent
    return turns[::-1]


def _ranked_from_messages(msgs: Sequence[_Message], *, lang: str | None, with_history: bool) -> list[RankedPrompt]:
    """Group ranked assistant replies under their prompter parent; keep parents with >= 2 of them."""
    by_id: dict[str, _Message] = {}
    children: dict[str, list[_Message]] = {}
    for m in msgs:
        if m.message_id in by_id:
            raise HarnessError(f"{m.where}: duplicate message_id {m.message_id} (first at {by_id[m.message_id].where})")
        by_id[m.message_id] = m
        if m.parent_id is not None:
            children.setdefault(m.parent_id, []).append(m)
    prompts = []
    for m in msgs:
        if m.role != "prompter" or m.deleted or (lang is not None and m.lang != lang):
            continue
        ranked = [
            c for c in children.get(m.message_id, []) if c.role == "assistant" and c.rank is not None and not c.deleted
        ]
        if len(ranked) < 2:
            continue
        prompts.append(
            RankedPrompt(
                prompt_id=m.message_id,
                prompt=m.text,
                responses=[c.text for c in ranked],
                ranks=[c.rank for c in ranked if c.rank is not None],
                history=_history(m, by_id) if with_history else [],
            )
        )
    return prompts


def _trees_from_rows(rows: Iterable[dict[str, Any]], path: str, **opts: Any) -> list[RankedPrompt]:
    msgs: list[_Message] = []
    for row in rows:
        where = f"{path}:{row['__line__']}"
        if not isinstance(row.get("prompt"), dict):
            raise HarnessError(f"{where}: field 'prompt' must be the tree's root message object")
        _collect(row["prompt"], where, None, msgs)
    return _ranked_from_messages(msgs, **opts)


def _messages_from_rows(rows: Iterable[dict[str, Any]], locate: Any, **opts: Any) -> list[RankedPrompt]:
    msgs: list[_Message] = []
    for i, row in enumerate(rows):
        _collect(row, locate(i, row), None, msgs)
    return _ranked_from_messages(msgs, **opts)


def load_oasst_trees(
    path: str | os.PathLike[str], *, lang: str | None = None, with_history: bool = False
) -> list[RankedPrompt]:
    """Ranked prompts from the official OASST tree export (one ``{message_tree_id, prompt: {...replies}}`` per line).

    ``lang`` keeps only prompts written in that language (``None``: all).
    """
    return _trees_from_rows(read_jsonl(path), str(path), lang=lang, with_history=with_history)


def load_oasst_messages(
    path: str | os.PathLike[str], *, lang: str | None = None, with_history: bool = False
) -> list[RankedPrompt]:
    """Ranked prompts from OASST messages, one per line: the flat schema of the hub dataset
    ``OpenAssistant/oasst1`` (``message_id, parent_id, text, role, rank, lang, ...``) or the export's
    message format (a message with nested ``replies``); the two may be mixed. A flat reply's parent is
    found by ``parent_id`` anywhere in the file.
    """
    return _messages_from_rows(
        read_jsonl(path), lambda i, row: f"{path}:{row['__line__']}", lang=lang, with_history=with_history
    )


def load_oasst1_hub(
    split: str = "validation",
    lang: str | None = "en",
    data_files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    with_history: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[RankedPrompt]:
    """Ranked prompts of ``OpenAssistant/oasst1`` through ``datasets.load_dataset`` (needs the hub or its cache).

    With ``data_files``, local files of the same flat schema are read instead
    (``load_dataset("json", ...)``, or ``"parquet"`` when every file ends in ``.parquet``) as ``split``.
    """
    import datasets  # heavy: imported only when the hub is used

    kwargs: dict[str, Any] = {"split": split, "cache_dir": None if cache_dir is None else str(cache_dir)}
    if data_files is None:
        source = f"{HUB_NAME}[{split}]"
        builder, kwargs_files = HUB_NAME, {}
    else:
        files = [data_files] if isinstance(data_files, str | os.PathLike) else list(data_files)
        names = [str(f) for f in files]
        source = ",".join(names)
        builder = "parquet" if all(n.endswith(".parquet") for n in names) else "json"
        kwargs_files = {"data_files": {split: names}}
    try:
        ds = datasets.load_dataset(builder, **kwargs_files, **kwargs)
    except (OSError, ValueError, datasets.exceptions.DatasetNotFoundError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise HarnessError(f"{source}: cannot load ({type(exc).__name__}: {detail})") from exc
    return _messages_from_rows(ds, lambda i, row: f"{source} row {i + 1}", lang=lang, with_history=with_history)


def _ranks_of(row: dict[str, Any], where: str, n: int) -> list[int]:
    ranks = row["ranks"]
    if not isinstance(ranks, list):
        raise HarnessError(f"{where}: field 'ranks' must be a list of integers")
    if len(ranks) != n:
        raise HarnessError(f"{where}: field 'ranks' has {len(ranks)} entries but 'responses' has {n}")
    for k, r in enumerate(ranks):
        if isinstance(r, bool) or not isinstance(r, int):
            raise HarnessError(f"{where}: field 'ranks' entry {k} must be an integer, got {r!r}")
    return list(ranks)


def _ranked_rows(rows: Iterable[dict[str, Any]], path: str) -> list[RankedPrompt]:
    prompts: list[RankedPrompt] = []
    seen: dict[str, int] = {}
    for row in rows:
        line = row["__line__"]
        where = f"{path}:{line}"
        for name in ("prompt", "responses", "ranks"):
            if name not in row:
                raise HarnessError(f"{where}: missing field '{name}'")
        if not isinstance(row["prompt"], str):
            raise HarnessError(f"{where}: field 'prompt' must be a string")
        responses = row["responses"]
        if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
            raise HarnessError(f"{where}: field 'responses' must be a list of strings")
        if len(responses) < 2:
            raise HarnessError(f"{where}: field 'responses' needs at least 2 ranked responses, got {len(responses)}")
        ranks = _ranks_of(row, where, len(responses))
        raw_id = row.get("id", f"line-{line}")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise HarnessError(f"{where}: field 'id' must be a string or an integer")
        pid = str(raw_id)
        if pid in seen:
            raise HarnessError(f"{where}: field 'id' {pid!r} duplicates the id on line {seen[pid]}")
        seen[pid] = line
        prompts.append(RankedPrompt(pid, row["prompt"], list(responses), ranks))
    return prompts


def _side(row: dict[str, Any], name: str, where: str) -> str:
    """A chosen/rejected response: a string, or a conversation (list of {role, content}) whose last message is the
    assistant's (the binarized-preference layout of e.g. UltraFeedback)."""
    value = row[name]
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict) and value[-1].get("role") == "assistant":
        content = value[-1].get("content")
        if isinstance(content, str):
            return content
    raise HarnessError(f"{where}: field {name!r} must be a string or a conversation ending with an assistant message")


def _pair_rows(rows: Iterable[dict[str, Any]], path: str) -> list[RankedPrompt]:
    """Pairwise sets: ``{"id"?, "prompt", "chosen", "rejected"}`` per line (RewardBench's layout), as a ranked
    prompt with two responses, chosen ranked 0 and rejected 1."""
    out = []
    for row in rows:
        where = f"{path}:{row['__line__']}"
        for name in ("prompt", "chosen", "rejected"):
            if name not in row:
                raise HarnessError(f"{where}: missing field '{name}'")
        ranked = {"__line__": row["__line__"], "prompt": row["prompt"], "ranks": [0, 1],
                  "responses": [_side(row, "chosen", where), _side(row, "rejected", where)]}  # fmt: skip
        if "id" in row:
            ranked["id"] = row["id"]
        out.append(ranked)
    return _ranked_rows(out, path)


def load_ranked_jsonl(path: str | os.PathLike[str]) -> list[RankedPrompt]:
    """Plain ranked JSONL: ``{"id"?, "prompt", "responses": [str, ...], "ranks": [int, ...]}`` per line.

    Lower rank = better; ties allowed. A missing ``id`` becomes ``line-N``. Every row needs >= 2 responses.
    """
    return _ranked_rows(read_jsonl(path), str(path))


def load_ranked(path_or_name: str | os.PathLike[str], **opts: Any) -> list[RankedPrompt]:
    """Load ranked prompts from a file (format told by extension and first row) or the hub dataset.

    - ``oasst1``, ``OpenAssistant/oasst1`` or ``...:SPLIT`` (not an existing path): :func:`load_oasst1_hub`;
    - ``*.parquet``: :func:`load_oasst1_hub` on that file (hub schema);
    - JSONL whose first row has ``message_tree_id`` and a ``prompt`` object: :func:`load_oasst_trees`;
      one with ``message_id``: :func:`load_oasst_messages`; one with ``responses``: :func:`load_ranked_jsonl`;
      one with ``chosen`` and ``rejected`` (a pairwise set): each pair a prompt with two ranked responses.

    ``opts`` (``lang``, ``with_history``) go to the OASST loaders.
    """
    name = str(path_or_name)
    p = Path(name)
    if not p.exists():
        m = _HUB_SPEC.match(name)
        if m:
            return load_oasst1_hub(m.group("split") or "validation", **opts)
        raise HarnessError(f"{name}: no such file (nor a known dataset name such as {HUB_NAME}:validation)")
    if p.suffix == ".parquet":
        return load_oasst1_hub("train", data_files=p, **opts)
    rows = read_jsonl(p)
    first = rows[0]
    if "message_tree_id" in first and isinstance(first.get("prompt"), dict):
        return _trees_from_rows(rows, name, lang=opts.get("lang"), with_history=opts.get("with_history", False))
    if "message_id" in first:
        return _messages_from_rows(
            rows,
            lambda i, row: f"{name}:{row['__line__']}",
            lang=opts.get("lang"),
            with_history=opts.get("with_history", False),
        )
    if "responses" in first:
        if opts:
            raise HarnessError(f"{name}: options {sorted(opts)} apply only to OASST data")
        return _ranked_rows(rows, name)
    if "chosen" in first and "rejected" in first:
        if opts:
            raise HarnessError(f"{name}: options {sorted(opts)} apply only to OASST data")
        return _pair_rows(rows, name)
    raise HarnessError(
        f"{name}:{first['__line__']}: cannot tell the format (expected an OASST tree with 'message_tree_id', "
        "an OASST message with 'message_id', a ranked row with 'prompt', 'responses', 'ranks', or a pair with "
        "'prompt', 'chosen', 'rejected')"
    )
