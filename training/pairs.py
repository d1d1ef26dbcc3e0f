"""Preference-pair selection for the actor (Self-Rewarding 2.3, Meta-Rewarding 2.1) and the judge (Meta-Rewarding 2.2).

Pure functions: scores, Elo ratings and texts in, indices out. Lengths are measured in characters, as in
Meta-Rewarding ("the average response length (measured in characters)", Sec. 3.3; "we filtered out pairs with
chosen response length exceeding 2500 characters", App. A.3).

Actor pairs (:func:`select_actor_pair`):

* Self-Rewarding Sec. 2.3: "we take the highest and lowest scoring responses from the N evaluated candidate
  responses ..., discarding the pair if their scores are the same."
* Meta-Rewarding Sec. 2.1, length control with the quality-tier parameter rho in [0, 1] and S_max / S_min the
  highest / lowest score of the prompt's responses: "Responses with scores in the top tier, specifically within
  the range [(1 - rho) S_max + rho S_min, S_max], are considered to have similar quality. For selecting the chosen
  response y_c, we opt for the shortest response within this top tier. ... Conversely, for the rejected response
  y_r, we select the longest response with a score in the range [S_min, (1 - rho) S_min + rho S_max]. Setting rho
  to 0 effectively disables the length-control, reverting to a purely score-based selection."
  The bottom tier is thus the mirror image of the top tier (stated explicitly in the paper, not assumed).
* The score of a response is the mean of its valid judgments ("The final reward score for each response is then
  calculated by averaging all valid judgment scores", Meta-Rewarding 2.1); responses without one are excluded.

Judge pairs (:func:`select_judge_pair`, :func:`highest_variance_response`), Meta-Rewarding Sec. 2.2: the response
with the highest judge-score variance is selected per prompt; its judgments are rated by the meta-judge (Elo);
"we select the chosen j^c and rejected j^r as the judgment with the highest and lowest Elo score respectively,
breaking ties randomly", then "filter out preference pairs where the chosen judgment exceeds a certain length
threshold".
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from harness.types import HarnessError

# Tier boundaries are computed in floating point: (1 - 0.2) * 4 + 0.2 * 1 is 3.4000000000000004, which would leave
# a response scored exactly 3.4 out of the top tier. Boundaries are therefore widened by this absolute amount,
# far below any difference between two means of a handful of judge scores.
TIER_EPS = 1e-9


@dataclass(frozen=True)
class ScoredResponse:
    """One candidate response of a prompt and its judge scores.

    ``score``: mean of the valid judgment scores, None when no judgment parsed; ``n_valid``: number of valid
    judgments; ``variance``: variance of the valid scores (None when there is none).
    """

    text: str
    score: float | None
    n_valid: int
    variance: float | None


@dataclass(frozen=True)
class PairChoice:
    """Indices of the chosen and rejected items of a preference pair."""

    chosen: int
    rejected: int


@dataclass(frozen=True)
class Skip:
    """No pair for this prompt, and why (a short stable key such as ``"all_equal"``, used in skip counters)."""

    reason: str


def dedupe(texts: Sequence[str]) -> list[int]:
    """Indices of the first occurrence of each distinct text (exact string equality), in order."""
    seen: set[str] = set()
    keep: list[int] = []
    for i, text in enumerate(texts):
        if text not in seen:
            seen.add(text)
            keep.append(i)
    return keep


def _valid_score(r: ScoredResponse) -> bool:
    return r.score is not None and not math.isnan(r.score)


def _first_min(indices: Sequence[int], key: Sequence[int]) -> int:
    """The index with the smallest key; among equal keys the first (lowest) index."""
    return min(indices, key=lambda i: (key[i], i))


def _first_max(indices: Sequence[int], key: Sequence[int]) -> int:
    """The index with the largest key; among equal keys the first (lowest) index."""
    return min(indices, key=lambda i: (-key[i], i))


def select_actor_pair(
    responses: Sequence[ScoredResponse], *, rho: float = 0.0, max_chosen_len: int | None = None
) -> PairChoice | Skip:
    """The actor preference pair of one prompt (see the module docstring for the paper's definitions).

    With S_max / S_min the highest / lowest valid score:

    * top tier = scores in [(1 - rho) S_max + rho S_min, S_max]; chosen = the shortest response in it;
    * bottom tier = scores in [S_min, (1 - rho) S_min + rho S_max]; rejected = the longest response in it;
    * ties in length go to the first index (deterministic; the papers do not say);
    * rho = 0 reduces to Self-Rewarding: chosen has score S_max, rejected has score S_min.

    Skips (``Skip.reason``): ``too_few_scored`` (fewer than two responses with a valid score), ``all_equal``
    (S_max == S_min: "discarding the pair if their scores are the same"), ``same_response`` / ``chosen_not_better``
    (only possible for rho >= 0.5, where the tiers overlap: the pair must have chosen != rejected and
    score(chosen) > score(rejected)), ``chosen_too_long`` (len(chosen) > max_chosen_len characters).

    Identical texts must have been removed before (:func:`dedupe`); a duplicate raises ValueError.
    """
    if not 0.0 <= rho <= 1.0:
        raise HarnessError(f"rho must lie in [0, 1], got {rho}")
    if max_chosen_len is not None and max_chosen_len <= 0:
        raise HarnessError(f"max_chosen_len must be a positive number of characters, got {max_chosen_len}")
    texts = [r.text for r in responses]
    if len(dedupe(texts)) != len(texts):
        raise ValueError("select_actor_pair: identical response texts; remove them first with pairs.dedupe")
    scored = [i for i, r in enumerate(responses) if _valid_score(r)]
    if len(scored) < 2:
        return Skip("too_few_scored")
    score = {i: float(responses[i].score) for i in scored}  # type: ignore[arg-type]
    s_max, s_min = max(score.values()), min(score.values())
    if s_max == s_min:
        return Skip("all_equal")
    top_low = (1.0 - rho) * s_max + rho * s_min
    bottom_high = (1.0 - rho) * s_min + rho * s_max
    top = [i for i in scored if score[i] >= top_low - TIER_EPS]
    bottom = [i for i in scored if score[i] <= bottom_high + TIER_EPS]
    lengths = [len(t) for t in texts]
    chosen = _first_min(top, lengths)
    rejected = _first_max(bottom, lengths)
    if chosen == rejected:
        return Skip("same_response")
    if not score[chosen] > score[rejected]:
        return Skip("chosen_not_better")
    if max_chosen_len is not None and lengths[chosen] > max_chosen_len:
        return Skip("chosen_too_long")
    return PairChoice(chosen, rejected)


def select_judge_pair(
    elo: Sequence[float],
    judgments: Sequence[str],
    rng: random.Random,
    *,
    max_judgment_len: int | None = None,
    tol: float = 1e-6,
) -> PairChoice | Skip:
    """The judge preference pair of one response from the meta-judge Elo ratings of its judgments (Meta-Rewarding 2.2).

    chosen = a judgment with the highest Elo, rejected = one with the lowest; several judgments within ``tol`` Elo
    points of the extreme are tied and one is drawn with ``rng`` ("breaking ties randomly"; ``tol`` absorbs the
    rounding of the Elo optimiser, as :func:`judges.meta.choose_pair`). The pair is dropped when the chosen
    judgment is longer than ``max_judgment_len`` characters ("filter out preference pairs where the chosen
    judgment exceeds a certain length threshold").

    Skips: ``too_few_judgments`` (< 2), ``all_equal`` (max - min Elo <= tol), ``identical_texts`` (the two
    judgments read the same: no preference to learn), ``chosen_too_long``.
    """
    if len(elo) != len(judgments):
        raise ValueError(f"select_judge_pair: {len(elo)} Elo scores for {len(judgments)} judgments")
    if max_judgment_len is not None and max_judgment_len <= 0:
        raise HarnessError(f"max_judgment_len must be a positive number of characters, got {max_judgment_len}")
    if len(elo) < 2:
        return Skip("too_few_judgments")
    hi, lo = max(elo), min(elo)
    if hi - lo <= tol:
        return Skip("all_equal")
    top = [i for i, e in enumerate(elo) if hi - e <= tol]
    bottom = [i for i, e in enumerate(elo) if e - lo <= tol]
    chosen, rejected = rng.choice(top), rng.choice(bottom)
    if judgments[chosen] == judgments[rejected]:
        return Skip("identical_texts")
    if max_judgment_len is not None and len(judgments[chosen]) > max_judgment_len:
        return Skip("chosen_too_long")
    return PairChoice(chosen, rejected)


def highest_variance_response(responses: Sequence[ScoredResponse], rng: random.Random | None = None) -> int | None:
    """Index of the response whose judge scores vary most (Meta-Rewarding 2.2, "Response Selection").

    "We first compute the score variance given by the N different judgments for every response y_k. We then pick
    the response y with the highest score variance for each prompt x". Only responses with at least two valid
    judgments (something for the meta-judge to compare) and a defined variance are eligible; None when there is
    none. Ties: the paper breaks them randomly ("If multiple responses have the same variance, we break ties
    randomly"); pass ``rng`` for that, without it the first index wins (deterministic).
    A highest variance of 0 (all judgments agree) is still returned, as in the paper.
    """
    eligible = [
        i for i, r in enumerate(responses) if r.n_valid >= 2 and r.variance is not None and not math.isnan(r.variance)
    ]
    if not eligible:
        return None
    best = max(responses[i].variance for i in eligible)  # type: ignore[type-var]
    tied = [i for i in eligible if responses[i].variance == best]
    return tied[0] if rng is None else rng.choice(tied)
