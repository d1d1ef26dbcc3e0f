"""The whole model contract: requests in, completions out.

Every backend (``hf``, ``vllm``, ``openai``) implements :class:`Model`; actors,
judges and meta-judges all talk to models only through it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class HarnessWarning(UserWarning):
    """A warning of the harness itself (not a library's): shown even when the libraries' warnings are hidden."""


class HarnessError(Exception):
    """A user-facing error: bad input, bad spec, unreachable server.

    The CLI prints it as one line (no traceback) and exits with code 2.
    """


class ContextTooLong(HarnessError):
    """A request whose prompt plus ``max_tokens`` exceeds the model's context (raised before any call).
    ``index`` is its position in the request list, for the caller to name the input line."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """Sampling parameters of one request.

    ``n`` samples are drawn in one request; sample ``i`` is seeded with ``seed + i``
    (vLLM's convention), so any sample can be recomputed on its own.
    ``logprobs`` is the number of top alternatives returned per generated token.
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n <= 0:
            raise HarnessError(f"n must be a positive integer, got {self.n!r}")
        if not isinstance(self.temperature, int | float) or not math.isfinite(self.temperature) or self.temperature < 0:
            raise HarnessError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise HarnessError(f"top_p must lie in (0, 1], got {self.top_p!r}")
        if not isinstance(self.max_tokens, int) or self.max_tokens <= 0:
            raise HarnessError(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if self.logprobs is not None and not 0 <= self.logprobs <= 20:
            raise HarnessError(f"logprobs must lie in [0, 20], got {self.logprobs!r}")

    def sample_seed(self, index: int) -> int | None:
        return None if self.seed is None else self.seed + index

    def seeded_for(self, *content: str) -> SamplingParams:
        """These params with a seed derived from ``seed`` and the request's ``content`` (None stays None).

        Why: seeded samplers draw the same noise for the same seed, so requests on similar prompts that share
        one seed repeat one another's choices (a meta-judge would answer "A" everywhere or "B" everywhere).
        A content-derived seed makes requests independent draws, yet stable across processes and batches.
        """
        if self.seed is None:
            return self
        digest = hashlib.blake2b("\x1f".join((str(self.seed), *content)).encode(), digest_size=8).digest()
        return dataclasses.replace(self, seed=int.from_bytes(digest, "big") % 2**31)


@dataclass(frozen=True)
class Request:
    """Chat ``messages`` or a raw ``prompt`` (exactly one of them), plus sampling params."""

    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    params: SamplingParams = field(default_factory=SamplingParams)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise HarnessError("a request needs exactly one of 'messages' or 'prompt'")

    @classmethod
    def chat(cls, messages: list[dict[str, str]] | list[Message], **params: Any) -> Request:
        msgs = tuple(m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in messages)
        return cls(messages=msgs, params=SamplingParams(**params))

    @classmethod
    def user(cls, content: str, **params: Any) -> Request:
        return cls.chat([Message("user", content)], **params)

    def content_key(self) -> dict[str, Any]:
        """What identifies the request's samples, except n (sample i is the same for any n > i)."""
        p = dataclasses.asdict(self.params)
        p.pop("n")
        p["stop"] = list(p["stop"])
        msgs = None if self.messages is None else [[m.role, m.content] for m in self.messages]
        return {"messages": msgs, "prompt": self.prompt, "params": p}


@dataclass
class Completion:
    """One sample: its text, why it stopped, token counts and optional top-k logprobs.

    ``logprobs`` holds, per generated token, a mapping of the top-k token strings to
    their log-probabilities (the sampled token's among them); ``tokens`` the sampled tokens' strings, in order,
    where the backend returned logprobs (their concatenation is the text, up to the backend's detokenization):
    they place a position of the text, such as a judge's score, at its step of ``logprobs``.
    """

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: list[dict[str, float]] | None = None
    tokens: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Completion:
        """A stored completion; fields a newer writer added are ignored (the store's rows are read tolerantly)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@runtime_checkable
class Model(Protocol):
    """A model backend. ``identity`` names the model for caching (path + weight hash, or API name + URL)."""

    identity: str

    def generate(self, requests: list[Request]) -> list[list[Completion]]:
        """Return, for each request, its ``params.n`` completions in sample order."""
        ...

    def close(self) -> None:
        """Release the model's memory (engine, GPU)."""
        ...


@runtime_checkable
class StreamingModel(Model, Protocol):
    """A backend that streams: requests flow in with a bounded number in flight, and each comes back as it
    finishes. :func:`harness.runner.generate` uses ``stream`` where a backend has it (all of the project's do)."""

    def stream(
        self, requests: list[Request], window: int | None = None
    ) -> Iterator[list[tuple[int, list[Completion] | Exception]]]:
        """Yield groups of ``(index into requests, completions or the call's error)`` as requests finish; each
        group is everything that finished since the last one (never empty). At most ``window`` requests (None:
        the backend's own bound) are in flight or yielded-but-not-resumed: a request's slot is freed only when
        the consumer asks for the next group, i.e. after it has stored this one."""
        ...


def stable_hash(obj: Any) -> str:
    """sha256 of a canonical JSON encoding."""
    data = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass
class MetricValue:
    """One reported number: value, optional 95% CI, and the count it was computed over."""

    name: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None

    def to_row(self) -> dict[str, Any]:
        return {"metric": self.name, "value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}
