"""The pointwise judge (Self-Rewarding Sec. 2.2 / 3.1.3, Meta-Rewarding Sec. 2.1 / 3.1): N sampled
judgments per response, made as ONE request with n=N; the response's score is the mean of the judgments
that parse (a judgment that does not parse is counted, never given a default score).

Sampling defaults are Meta-Rewarding's (Sec. 3.1: "we generate N = 11 different judgments for each response
using the same sampling parameters" as the responses, "temperature 0.8 and top p 0.95").
:data:`SELF_REWARDING_SAMPLING` holds Self-Rewarding's (Sec. 3.1.3: responses with T = 0.7, p = 0.9, and
"we also use sampled decoding (with the same parameters) and generate these evaluations multiple (3) times
and take the average").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.runner import Run, generate
from harness.types import HarnessError, Model, Request, SamplingParams
from judges.parse import parse_score
from judges.prompts import POINTWISE_FIELDS, load_prompt

META_REWARDING_SAMPLING: dict[str, Any] = {"n": 11, "temperature": 0.8, "top_p": 0.95}
SELF_REWARDING_SAMPLING: dict[str, Any] = {"n": 3, "temperature": 0.7, "top_p": 0.9}


@dataclass
class PointwiseScore:
    """The N judgments of one response. ``scores[i]`` is None where judgment i did not parse.

    mean: mean of the valid scores, None when none is valid. variance: POPULATION variance (ddof=0) of the
    valid scores -- the spread of this response's own judgments, as Meta-Rewarding's response selection
    uses it ("the score variance given by the N different judgments") -- 0.0 for one valid score, None for
    none. n_valid / n_failed: judgments that parsed / did not. prompt_tokens / completion_tokens: what the
    backend reported for the request (the judge's cost per 1000 judgments).
    """

    judgments: list[str]
    scores: list[float | None]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mean: float | None = field(init=False)
    variance: float | None = field(init=False)
    n_valid: int = field(init=False)
    n_failed: int = field(init=False)

    def __post_init__(self) -> None:
        if len(self.judgments) != len(self.scores):
            raise HarnessError(f"PointwiseScore: {len(self.scores)} scores for {len(self.judgments)} judgments")
        valid = np.array([s for s in self.scores if s is not None], dtype=float)
        self.n_valid = int(valid.size)
        self.n_failed = len(self.scores) - self.n_valid
        self.mean = float(valid.mean()) if valid.size else None
        self.variance = float(valid.var(ddof=0)) if valid.size else None

    @property
    def valid(self) -> list[float]:
        return [s for s in self.scores if s is not None]

    def with_scores(self, scores: list[float | None]) -> PointwiseScore:
        """The same judgments with other scores (the random-score control of the training loop)."""
        return PointwiseScore(list(self.judgments), scores)


def check_items(items: list[Any], arity: int, what: str) -> None:
    """Bad input is a one-line HarnessError, not a failure deep inside a template or a backend."""
    for k, item in enumerate(items):
        if not isinstance(item, tuple | list) or len(item) != arity or not all(isinstance(x, str) for x in item):
            raise HarnessError(f"{what}: item {k} must be a tuple of {arity} strings, got {str(item)[:80]!r}")


class PointwiseJudge:
    """Scores (instruction, response) items with a pointwise prompt (default: the additive 5-point prompt).

    One request per item with ``n`` samples, sample i seeded ``s + i`` (s derived from ``seed`` and the
    item); cached and resumable through :func:`harness.runner.generate`. Scores are parsed with
    :func:`judges.parse.parse_score` in [0, 5].
    """

    def __init__(
        self,
        model: Model,
        run: Run,
        *,
        prompt: str = "pointwise_additive",
        n: int = META_REWARDING_SAMPLING["n"],
        temperature: float = META_REWARDING_SAMPLING["temperature"],
        top_p: float = META_REWARDING_SAMPLING["top_p"],
        max_tokens: int = 512,
        seed: int = 0,
        low: float = 0.0,
        high: float = 5.0,
    ) -> None:
        self.model, self.run = model, run
        self.template = load_prompt(prompt, POINTWISE_FIELDS)
        # SamplingParams validates now: a bad n or temperature fails before any model call
        self.params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed)
        self.low, self.high = low, high

    def requests(self, items: list[tuple[str, str]]) -> list[Request]:
        check_items(items, 2, "pointwise judge")
        return [
            Request(
                messages=tuple(self.template.to_messages(instruction=ins, response=resp)),
                params=self.params.seeded_for(ins, resp),
            )
            for ins, resp in items
        ]

    def score(
        self, items: list[tuple[str, str]], on_progress: Callable[[int], None] | None = None
    ) -> list[PointwiseScore]:
        """(instruction, response) -> one PointwiseScore per item, in order."""
        outs = generate(self.model, self.requests(items), self.run, on_progress=on_progress)
        return [
            PointwiseScore(
                [c.text for c in comps], [parse_score(c.text, self.low, self.high) for c in comps],
                prompt_tokens=comps[0].prompt_tokens if comps else 0,  # one prompt for the request's n samples
                completion_tokens=sum(c.completion_tokens for c in comps),
            )
            for comps in outs
        ]  # fmt: skip
