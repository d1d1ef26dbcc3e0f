"""A scripted Model for judge tests: answers each request with ``answer(request, sample_index)``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from harness.types import Completion, Request


class Scripted:
    """Implements the Model protocol; records every request it was sent (cached requests never reach it)."""

    def __init__(self, answer: Callable[[Request, int], Completion], identity: str = "scripted") -> None:
        self.answer = answer
        self.identity = identity
        self.requests: list[Request] = []

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        self.requests += requests
        return [[self.answer(r, i) for i in range(r.params.n)] for r in requests]

    def close(self) -> None:
        pass


def content_seed(seed: int, *content: str) -> int:
    """The seed a judge request should carry, by the test's own arithmetic (the documented rule of
    ``SamplingParams.seeded_for``): the first 8 bytes of blake2b over the seed and the content joined by \x1f, big
    endian, modulo 2**31. A hash of its own, never Python's per-process ``hash()``."""
    digest = hashlib.blake2b("\x1f".join((str(seed), *content)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 2**31
