"""Options and checks shared by the CLI modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from harness.types import HarnessError

store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="SQLite results store (default: $HARNESS_STORE or ./.harness/store.sqlite).",
)


def positive(name: str) -> Callable[[Any, Any, Any], Any]:
    def check(_ctx: Any, _param: Any, value: Any) -> Any:
        if value is not None and value <= 0:
            raise HarnessError(f"{name} must be a positive integer, got {value}")
        return value

    return check


def kv_pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for item in values:
        if "=" not in item:
            raise HarnessError(f"{flag} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


# seeds: sample i of a request is seeded seed + i, and the backends' generators take 64-bit seeds; 32 bits leave room
SEED = click.IntRange(0, 2**32 - 1)
