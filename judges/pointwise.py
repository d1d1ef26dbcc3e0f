"""The pointwise judge (Self-Rewarding Sec. 2.2 / 3.1.3, Meta-Rewarding Sec. 2.1 / 3.1): N sampled
judgments per response, made as ONE request with n=N; the response's score is the mean of the judgments
that parse (a judgment that does not parse is counted, never given a default score).

Expected-score judging (``score_mode="expected"``; no peer has it for an additive judge): the judgment is
sampled as usual, its score is found in the text (:func:`judges.parse.score_span`, the same rule as the sampled
score), and the score becomes the expectation over the integer scores the model could have written at that
token, sum_v v * p(v) / sum_v p(v), from the token's top logprobs (:func:`expected_score`). The rationale is the
sampled one; only the number is smoothed, so two responses that get the same digit rarely tie. A judgment that
does not parse is still a failure (None), never a default.

Sampling defaults are Meta-Rewarding's (Sec. 3.1: "we generate N = 11 different judgments for each response
using the same sampling parameters" as the responses, "temperature 0.8 and top p 0.95").
:data:`SELF_REWARDING_SAMPLING` holds Self-Rewarding's (Sec. 3.1.3: responses with T = 0.7, p = 0.9, and
"we also use sampled decoding (with the same parameters) and generate these evaluations multiple (3) times
and take the average").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.runner import Run, generate
from harness.types import Completion, HarnessError, Model, Request, SamplingParams
from judges.parse import parse_score, score_span
from judges.prompts import POINTWISE_FIELDS, load_prompt

META_REWARDING_SAMPLING: dict[str, Any] = {"n": 11, "temperature": 0.8, "top_p": 0.95}
#: how a judgment's score is read: the sampled number ("sampled"), or the expectation over the score token's
#: distribution ("expected", where the backend returns logprobs: hf, vllm, openai)
SCORE_MODES = ("sampled", "expected")
#: top logprobs asked per token for expected scores: the 6 scores 0..5, with room for their spaced variants
SCORE_LOGPROBS = 10
_LEADING_INT = re.compile(r"\d+")
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
    # expected-score judging: the parsed judgments whose score token had no usable distribution (logprobs not
    # aligned with the text, or no integer among the top tokens), which keep their sampled number
    n_sampled_fallback: int = 0
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


def expected_score(comp: Completion, low: float = 0.0, high: float = 5.0) -> tuple[float | None, bool]:
    """(score, from the distribution) of one judgment: None where the text does not parse; else the expectation
    of the integer scores in [low, high] at the score's token, or the sampled number (False) where the token
    cannot be placed in ``comp.logprobs`` or no integer score is among its top tokens.

    The score's token: ``comp.tokens`` concatenated, the score found in it by the same rule as in the text, and
    the token spanning its first character. Its alternatives: each top token that starts with the same text
    before the number (``": "`` in ``": 4"``) followed by an integer; their probabilities are renormalised.
    """
    span = score_span(comp.text, low, high)
    if span is None:
        return None, False
    sampled = span[0]
    tokens, steps = comp.tokens, comp.logprobs
    if not tokens or not steps or len(tokens) != len(steps):
        return sampled, False
    joined = "".join(tokens)
    found = score_span(joined, low, high)
    if found is None or found[0] != sampled:
        return sampled, False
    offset = 0
    for token, top in zip(tokens, steps, strict=True):
        if offset <= found[1] < offset + len(token):
            prefix = joined[offset : found[1]]
            mass: dict[int, float] = {}
            for alt, logprob in top.items():
                m = _LEADING_INT.match(alt[len(prefix) :]) if alt.startswith(prefix) else None
                if m is not None and low <= int(m.group()) <= high:
                    v = int(m.group())
                    mass[v] = mass.get(v, 0.0) + math.exp(logprob)
            total = sum(mass.values())
            if total <= 0:
                return sampled, False
            return sum(v * p for v, p in mass.items()) / total, True
        offset += len(token)
    return sampled, False


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
        score_mode: str = "sampled",
    ) -> None:
        if score_mode not in SCORE_MODES:
            raise HarnessError(f"judge score mode must be one of {', '.join(SCORE_MODES)}, got {score_mode!r}")
        self.model, self.run = model, run
        self.template = load_prompt(prompt, POINTWISE_FIELDS)
        # SamplingParams validates now: a bad n or temperature fails before any model call
        self.params = SamplingParams(
            n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed,
            logprobs=SCORE_LOGPROBS if score_mode == "expected" else None,
        )  # fmt: skip
        self.low, self.high, self.score_mode = low, high, score_mode

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
        expected = self.score_mode == "expected"
        if expected and outs and all(c.logprobs is None for comps in outs for c in comps):
            raise HarnessError(f"judge score expected: {self.model.identity} returned no logprobs; use sampled")
        result = []
        for comps in outs:
            if expected:
                read = [expected_score(c, self.low, self.high) for c in comps]
            else:  # the sampled number, as the text says
                read = [(parse_score(c.text, self.low, self.high), False) for c in comps]
            result.append(PointwiseScore(
                [c.text for c in comps], [score for score, _ in read],
                prompt_tokens=comps[0].prompt_tokens if comps else 0,  # one prompt for the request's n samples
                completion_tokens=sum(c.completion_tokens for c in comps),
                n_sampled_fallback=sum(expected and score is not None and not dist for score, dist in read),
            ))  # fmt: skip
        return result
