"""A scripted Model for judge tests: answers each request with ``answer(request, sample_index)``."""

from __future__ import annotations

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
