"""Model backends, registered by decorator and built from a spec string.

model = load_model("vllm:/path/to/ckpt", store=store)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.spec import ModelSpec, parse_spec
from harness.types import HarnessError, Model

if TYPE_CHECKING:
    from harness.store import Store

_REGISTRY: dict[str, Callable[..., Model]] = {}

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".jinja")


def gather(groups: Iterable[list[tuple[int, Any]]], n: int) -> list[Any]:
    """A backend's ``generate`` from its ``stream``: the ``n`` outcomes in request order, once all have come back."""
    out: list[Any] = [None] * n
    for group in groups:
        for i, outcome in group:
            out[i] = outcome
    return out


def register(name: str) -> Callable[[Callable[..., Model]], Callable[..., Model]]:
    def deco(factory: Callable[..., Model]) -> Callable[..., Model]:
        _REGISTRY[name] = factory
        return factory

    return deco


def weights_hash(path: Path, store: Store | None = None) -> str:
    """sha256 over a checkpoint's weight, config and tokenizer files (cached by size and mtime)."""
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    cache_key = f"weights_hash:{path}:{hashlib.sha256(stamp.encode()).hexdigest()}"
    if store is not None and (hit := store.kv_get(cache_key)):
        return hit
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()[:16]
    if store is not None:
        store.kv_put(cache_key, digest)
    return digest


def local_checkpoint(spec: ModelSpec) -> Path | None:
    """The resolved local directory of a checkpoint spec, or None for a hub id.

    A target that looks like a path (absolute, ./, ../, ~) must exist; ``org/name`` with no
    such directory is taken as a hub id (the user's machine downloads it).
    """
    target = os.path.expanduser(spec.target)
    p = Path(target)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise HarnessError(f"model path {spec.target}: no config.json (not a checkpoint directory)")
        return p.resolve()
    looks_like_path = target.startswith(("/", "./", "../", "~")) or p.exists() or target.count("/") != 1
    if looks_like_path:
        raise HarnessError(f"model path {spec.target}: no such directory")
    return None


def checkpoint_identity(spec: ModelSpec, store: Store | None) -> tuple[str, str]:
    """(path or hub id to load, identity string for the cache)."""
    local = local_checkpoint(spec)
    if local is None:
        revision = spec.options.get("revision", "main")
        return spec.target, f"{spec.backend}:hub:{spec.target}@{revision}"
    return str(local), f"{spec.backend}:{local}#{weights_hash(local, store)}"


def load_model(spec: str | ModelSpec, store: Store | None = None) -> Model:
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.backend not in _REGISTRY:
        # import lazily so a missing optional dependency (vllm) only matters when used
        import importlib

        importlib.import_module(f"harness.backends.{parsed.backend}_backend")
    return _REGISTRY[parsed.backend](parsed, store=store)
