"""Evaluation fine-tuning (EFT) data from human-ranked responses (Self-Rewarding Sec. 3.1.1).

The paper: "we use the SFT baseline to generate such output evaluations for each input, and accept them into the
training set if the ranking of their scores agrees with the human rankings in the dataset. We resample the
training set by discarding some of the data that receives the most common score so that the scores are not too
skewed, as we observe many samples receive a score of 4." (The Meta-Rewarding LaTeX source, file 000, repeats
the same two sentences for its EFT data.)

Decisions where the paper leaves room (see :func:`agrees_with_human` and :func:`downsample_most_common`):

* Agreement is decided per prompt, for the whole set of judgments of its responses ("the ranking of their
  scores agrees with the human rankings"), not per pair: the judgments of a prompt are all kept or all dropped.
  "Agrees" means the two orderings are identical, ties included: the exact-match criterion of Self-Rewarding
  Sec. 3.1.2 ("how often the total ordering is exactly the same for an instruction").
* "Discarding some of the data that receives the most common score": the examples with the most common score
  are randomly (seeded) reduced to the count of the second most common score. The paper gives no number; this is
  the smallest cut after which that score no longer outnumbers every other one.
"""

from __future__ import annotations

import operator
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class JudgedResponse:
    """One human-ranked response of a prompt with one judgment of it.

    ``rank``: the human rank, 0 = best (OASST convention; lower is better, equal ranks are ties);
    ``score``: the score parsed from ``judgment``, None when it did not parse.
    """

    response: str
    rank: int
    judgment: str
    score: float | None


@dataclass(frozen=True)
class PromptJudgments:
    """A prompt and one judgment for each of its ranked responses (one judgment set; several judgment
    samples of the same prompt are separate items)."""

    prompt: str
    responses: Sequence[JudgedResponse] = field(default_factory=tuple)


@dataclass(frozen=True)
class EftExample:
    """One accepted EFT training example: judge ``response`` to ``prompt``; target ``judgment`` with ``score``."""

    prompt: str
    response: str
    judgment: str
    score: float
    rank: int


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def agrees_with_human(item: PromptJudgments) -> bool:
    """Whether the judge's scores order the prompt's responses exactly as the human ranks do.

    For every pair (i, j): rank_i < rank_j (i better) requires score_i > score_j, and rank_i == rank_j requires
    score_i == score_j. So a judge tie between two responses humans ranked apart disagrees. False when a score
    did not parse (the judge's ranking is then incomplete) or when there are fewer than two responses
    (no ranking to agree with).
    """
    rs = list(item.responses)
    if len(rs) < 2 or any(r.score is None for r in rs):
        return False
    for a in range(len(rs)):
        for b in range(a + 1, len(rs)):
            human = _sign(rs[b].rank - rs[a].rank)  # +1: a is better (lower rank)
            judge = _sign(rs[a].score - rs[b].score)  # type: ignore[operator]
            if human != judge:
                return False
    return True


def filter_agreeing(prompt_items: Sequence[PromptJudgments]) -> list[EftExample]:
    """The judgments of the prompts whose judgment set agrees with the human ranking (:func:`agrees_with_human`),
    flattened to one example per (prompt, response), in input order."""
    out: list[EftExample] = []
    for item in prompt_items:
        if agrees_with_human(item):
            for r in item.responses:
                assert r.score is not None  # agrees_with_human checked every score parsed
                out.append(EftExample(item.prompt, r.response, r.judgment, float(r.score), r.rank))
    return out


def downsample_most_common(
    examples: Sequence[T], *, key: Callable[[T], Hashable] | None = None, seed: int = 0
) -> list[T]:
    """Discard examples of the most common key (default: ``.score``) so it is not over-represented.

    Rule: with c1 >= c2 the counts of the two most common keys, a seeded random sample of c2 of the c1 examples
    with the most common key is kept; all other examples are kept. Order is preserved. Nothing changes when
    there is a single distinct key (nothing to balance against) or when the top count is shared (c1 == c2).
    Deterministic for a given ``seed`` and input.
    """
    get: Callable[[Any], Hashable] = key if key is not None else operator.attrgetter("score")
    keys = [get(e) for e in examples]
    ranked = Counter(keys).most_common()
    if len(ranked) < 2:
        return list(examples)
    (top_key, c1), (_, c2) = ranked[0], ranked[1]
    if c1 == c2:
        return list(examples)
    majority = [i for i, k in enumerate(keys) if k == top_key]
    kept = set(random.Random(seed).sample(majority, c2))
    return [e for i, e in enumerate(examples) if keys[i] != top_key or i in kept]
