"""The pointwise judge (Self-Rewarding 2.2, Meta-Rewarding 2.1): N judgments per response, one request
with n=N; the response's score is the mean of the judgments that parse."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from harness.runner import Run, generate
from harness.types import Model, Request
from judges.parse import parse_score
from judges.prompts import load_prompt


@dataclass
class PointwiseScore:
    """N judgments of one response. ``scores[i]`` is None where judgment i did not parse.

    mean: mean of the valid scores (None when none is valid); variance: population variance of the
    valid scores (0.0 for one valid score, None for none); n_failed: judgments that did not parse.
    """

    judgments: list[str]
    scores: list[float | None]

    @property
    def valid(self) -> list[float]:
        return [s for s in self.scores if s is not None]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.valid) if self.valid else None

    @property
    def variance(self) -> float | None:
        return statistics.pvariance(self.valid) if self.valid else None

    @property
    def n_valid(self) -> int:
        return len(self.valid)

    @property
    def n_failed(self) -> int:
        return len(self.scores) - len(self.valid)


class PointwiseJudge:
    """Scores (instruction, response) items with a pointwise prompt.

    Defaults: judgments are sampled with T=0.7, top_p=0.9, the candidates' decoding parameters in
    Self-Rewarding 3.1.3 ("sampled decoding (with the same parameters)"); n=11 judgments per response as
    Meta-Rewarding (Self-Rewarding uses 3). All are constructor arguments.
    """

    def __init__(
        self,
        model: Model,
        run: Run,
        *,
        prompt: str = "pointwise_additive",
        n: int = 11,
        temperature: float = 0.7,
        top_p: float = 0.9,
        max_tokens: int = 512,
        seed: int = 0,
    ) -> None:
        self.model, self.run, self.template = model, run, load_prompt(prompt)
        self.n, self.temperature, self.top_p, self.max_tokens, self.seed = n, temperature, top_p, max_tokens, seed

    def requests(self, items: list[tuple[str, str]]) -> list[Request]:
        return [
            Request.chat(
                self.template.to_messages(instruction=ins, response=resp),
                n=self.n,
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_tokens,
                seed=self.seed,
            )
            for ins, resp in items
        ]

    def score(
        self, items: list[tuple[str, str]], on_progress: Callable[[int], None] | None = None
    ) -> list[PointwiseScore]:
        outs = generate(self.model, self.requests(items), self.run, on_progress=on_progress)
        return [PointwiseScore([c.text for c in comps], [parse_score(c.text) for c in comps]) for comps in outs]
