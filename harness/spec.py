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

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlparse

from harness.types import HarnessError

BACKENDS = ("hf", "vllm", "openai")
_NAME_RE = re.compile(r"^[A-Za-z0-9._:/+-]+$")


@dataclass(frozen=True)
class Option:
    """One ``?KEY=VALUE`` option a backend takes: its type, and a range or a set of choices."""

    kind: type
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    choices: tuple[str, ...] = ()
    positive: bool = False  # strictly above 0


_DTYPES = ("float32", "float16", "bfloat16")
# every option each backend accepts (anything else is refused with the list, never silently ignored)
BACKEND_OPTIONS: dict[str, dict[str, Option]] = {
    "hf": {
        "batch_size": Option(int, low=1), "dtype": Option(str, choices=_DTYPES), "device": Option(str),
        "trust_remote_code": Option(bool), "revision": Option(str), "cache": Option(str, choices=("static", "dynamic")),
    },
    "vllm": {
        "dtype": Option(str, choices=("auto", *_DTYPES)), "max_model_len": Option(int, low=1),
        "gpu_memory_utilization": Option(float, high=1.0, positive=True), "enforce_eager": Option(bool),
        "seed": Option(int, low=0), "tensor_parallel_size": Option(int, low=1), "max_num_seqs": Option(int, low=1),
        "enable_prefix_caching": Option(bool), "enable_chunked_prefill": Option(bool),
        "trust_remote_code": Option(bool), "revision": Option(str), "quantization": Option(str),
        "data_parallel_size": Option(int, low=1),
    },
    "openai": {
        "api_key_env": Option(str), "concurrency": Option(int, low=1), "max_retries": Option(int, low=0),
        "backoff": Option(float, low=0), "max_backoff": Option(float, low=0), "timeout": Option(float, positive=True),
        "connect_timeout": Option(float, positive=True), "preflight_timeout": Option(float, positive=True),
        "price_in": Option(float, low=0), "price_out": Option(float, low=0), "preflight": Option(bool),
    },
}  # fmt: skip


def _check_option(where: str, backend: str, key: str, value: Any) -> Any:
    """The option's value in its declared type; one-line error (the key, never a secret's value) otherwise."""
    known = BACKEND_OPTIONS[backend]
    if key not in known:
        raise HarnessError(f"{where}: unknown option {key!r} for backend {backend} (known: {', '.join(known)})")
    opt = known[key]
    ok = True
    if opt.kind is bool:
        ok = isinstance(value, bool)
    elif opt.kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif opt.kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    else:
        value = str(value)
    kind = {bool: "true/false", int: "an integer", float: "a finite number", str: "a string"}[opt.kind]
    if not ok:
        raise HarnessError(f"{where}: option {key} must be {kind}, got {value!r}")
    if opt.choices and value not in opt.choices:
        raise HarnessError(f"{where}: option {key} must be one of {', '.join(opt.choices)}, got {value!r}")
    if (
        (opt.low is not None and value < opt.low)
        or (opt.high is not None and value > opt.high)
        or (opt.positive and value <= 0)
    ):
        bounds = f"{'> 0' if opt.positive else f'>= {opt.low}' if opt.low is not None else ''}"
        bounds += (
            f"{' and ' if bounds and opt.high is not None else ''}{f'<= {opt.high}' if opt.high is not None else ''}"
        )
        raise HarnessError(f"{where}: option {key} must be {bounds}, got {value!r}")
    return value


def shown(spec: str) -> str:
    """A spec as it may be printed or stored: without URL credentials and without option values."""
    head, _, query = spec.partition("?")
    head = re.sub(r"(https?://)[^/@]*@", r"\1", head)
    keys = [k for k, _ in parse_qsl(query, keep_blank_values=True)] if query else []
    return head + ("?" + "&".join(f"{k}=..." for k in keys) if keys else "")


def file_stem(spec: str) -> str:
    """A spec as a file name: :func:`shown`, each run of characters other than letters, digits, ``.``, ``_``
    and ``-`` replaced by ``_`` (the peers name answer and judgment files after the model)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", shown(spec)).strip("_.") or "model"


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
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise HarnessError(f"model spec {shown(spec)!r}: malformed options") from exc
    where = f"model spec {shown(spec)!r}"
    options = {k: _check_option(where, backend, k, _coerce(v)) for k, v in pairs}
    base_url = None
    if backend == "openai" and "@" in rest:
        rest, base_url = rest.split("@", 1)
        try:
            parsed = urlparse(base_url)
        except ValueError as exc:  # "Invalid IPv6 URL" for a lone "[" in the host
            raise HarnessError(f"model spec {shown(spec)!r}: malformed base URL ({exc})") from exc
        if parsed.username is not None or parsed.password is not None:
            # they would be stored with the spec and printed in errors: keys come from the environment only
            raise HarnessError(
                f"model spec {shown(spec)!r}: credentials in the base URL are not accepted; put the key in an "
                "environment variable and name it with ?api_key_env=VAR"
            )
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise HarnessError(f"model spec {spec!r}: base URL {base_url!r} must be http(s)://HOST[:PORT]/PATH")
    if not rest:
        raise HarnessError(f"model spec {spec!r}: empty {'model name' if backend == 'openai' else 'path'}")
    if backend == "openai" and not _NAME_RE.match(rest):
        raise HarnessError(f"model spec {spec!r}: invalid model name {rest!r}")
    return ModelSpec(backend=backend, target=rest, base_url=base_url, options=options, raw=spec)


OPENAI_URL = "https://api.openai.com/v1"


def api_key(spec: ModelSpec) -> str:
    """The key an ``openai`` spec sends, from the environment only; HarnessError naming the variable when unset.

    A key goes only where it belongs: ``$OPENAI_API_KEY`` to OpenAI's own host; any other server gets the
    variable named with ``?api_key_env=VAR`` (required then), or no key at all ("EMPTY": local servers such as
    `vllm serve` accept any).
    """
    base_url = (spec.base_url or OPENAI_URL).rstrip("/")
    official = spec.base_url is None or urlparse(base_url).hostname == urlparse(OPENAI_URL).hostname
    named = spec.options.get("api_key_env")
    key_env = str(named) if named is not None else ("OPENAI_API_KEY" if official else None)
    key = os.environ.get(key_env, "") if key_env else ""
    if not key:
        if key_env is not None and (spec.base_url is None or named is not None):
            raise HarnessError(f"model spec {shown(spec.raw)}: environment variable {key_env} is not set")
        key = "EMPTY"
    return key
