"""Model spec strings: one string names a model and the backend that runs it.

Syntax::

    BACKEND:TARGET[?key=value&key=value...]

    hf:PATH                      transformers, local directory (or hub id)
    vllm:PATH                    in-process vLLM engine, local directory (or hub id)
    openai:NAME                  OpenAI API (https://api.openai.com/v1), key from $OPENAI_API_KEY
    openai:NAME@BASE_URL         any OpenAI-compatible server, e.g. openai:tiny@http://127.0.0.1:8000/v1

Options after ``?`` go to the backend, e.g. ``vllm:ckpt?tensor_parallel_size=2&dtype=bfloat16``,
``openai:gpt-4-1106-preview?api_key_env=MY_KEY&concurrency=8``. Values are parsed as
int, float, true/false, or kept as strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlparse

from harness.types import HarnessError

BACKENDS = ("hf", "vllm", "openai")
_NAME_RE = re.compile(r"^[A-Za-z0-9._:/+-]+$")


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    target: str  # a path / hub id, or the API model name
    base_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    def __str__(self) -> str:
        return self.raw


def _coerce(value: str) -> Any:
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def parse_spec(spec: str) -> ModelSpec:
    """Parse and validate a spec string; raise :class:`HarnessError` naming what is wrong."""
    if not isinstance(spec, str) or ":" not in spec:
        raise HarnessError(f"model spec {spec!r}: expected BACKEND:TARGET with BACKEND in {', '.join(BACKENDS)}")
    backend, rest = spec.split(":", 1)
    if backend not in BACKENDS:
        raise HarnessError(f"model spec {spec!r}: unknown backend {backend!r} (expected one of {', '.join(BACKENDS)})")
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
    try:
        options = {k: _coerce(v) for k, v in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))}
    except ValueError as exc:
        raise HarnessError(f"model spec {spec!r}: malformed options {query!r}") from exc
    base_url = None
    if backend == "openai" and "@" in rest:
        rest, base_url = rest.split("@", 1)
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise HarnessError(f"model spec {spec!r}: base URL {base_url!r} must be http(s)://HOST[:PORT]/PATH")
    if not rest:
        raise HarnessError(f"model spec {spec!r}: empty {'model name' if backend == 'openai' else 'path'}")
    if backend == "openai" and not _NAME_RE.match(rest):
        raise HarnessError(f"model spec {spec!r}: invalid model name {rest!r}")
    return ModelSpec(backend=backend, target=rest, base_url=base_url, options=options, raw=spec)
