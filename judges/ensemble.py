"""A judge ensemble: several pointwise judges scoring the same (instruction, response) items, combined into one
score per item, so that an ensemble is an ordinary judge wherever a :class:`judges.pointwise.PointwiseJudge` is.

Two combinations (``METHODS``):

- ``mean``: the mean of the member judges' scores (each member's score being the mean of its own valid
  judgments); members whose judgments all failed to parse are left out; no member scored: unscored.
- ``majority``: the score most members gave, each member's score rounded to the nearest integer (halves up);
  when several scores are equally common, their mean (so no member's position decides); no member scored:
  unscored. On a pair of responses this gives inspect_ai's multi-grader majority vote (``multi_scorer`` with the
  ``mode`` reducer) a deterministic tie rule. A pairwise order's verdicts combine by :func:`majority_verdict`.

An unscored member never counts as a vote or a zero: it is absent, as everywhere in the harness.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.types import HarnessError
from judges.pointwise import PointwiseJudge, PointwiseScore

METHODS = ("mean", "majority")


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def combine(scores: Sequence[float | None], method: str) -> float | None:
    """One item's ensemble score from its members' scores (``None`` = that member did not score it).

    Args:
        scores: one score per member judge, None where the member's judgments all failed to parse.
        method: ``mean`` or ``majority`` (module docstring).
    Returns:
        The ensemble score, None when no member scored the item.
    """
    if method not in METHODS:
        raise HarnessError(f"judge ensemble: method must be one of {', '.join(METHODS)}, got {method!r}")
    valid = [float(s) for s in scores if s is not None]
    if not valid:
        return None
    if method == "mean":
        return sum(valid) / len(valid)
    counts = Counter(_round_half_up(s) for s in valid)
    top = max(counts.values())
    modes = [v for v, c in counts.items() if c == top]
    return sum(modes) / len(modes)


def majority_verdict(verdicts: Sequence[str | None]) -> str | None:
    """One pairwise order's ensemble verdict ("A", "B" or "tie"): the verdict most judges gave, unscored ones
    (None) left out; several equally common: a tie; none scored: None (unscored, not a tie)."""
    counts = Counter(v for v in verdicts if v is not None)
    if not counts:
        return None
    top = max(counts.values())
    modes = [v for v, c in counts.items() if c == top]
    return modes[0] if len(modes) == 1 else "tie"


@dataclass
class EnsembleScore(PointwiseScore):
    """The ensemble's score of one item: ``judgments``/``scores`` are all members' judgments in member order
    (so parse counts stay per judgment); ``mean`` is the combined score (:func:`combine`), not the mean of
    all judgments; ``variance`` is over all members' judgments pooled (so the judges' disagreement counts);
    ``members`` are the members' own scores of the item."""

    members: list[PointwiseScore] = field(default_factory=list)
    method: str = "mean"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.mean = combine([m.mean for m in self.members], self.method)

    def with_scores(self, scores: list[float | None]) -> PointwiseScore:
        """The same judgments with other scores, given in member order: split back to the members and combined
        by the same method (the loop's random-score control keeps the ensemble's rule)."""
        if len(scores) != len(self.scores):
            raise HarnessError(f"EnsembleScore: {len(scores)} scores for {len(self.scores)} judgments")
        members, k = [], 0
        for m in self.members:
            members.append(m.with_scores(list(scores[k : k + len(m.scores)])))
            k += len(m.scores)
        return EnsembleScore(list(self.judgments), list(scores), self.prompt_tokens, self.completion_tokens,
                             members=members, method=self.method)  # fmt: skip


def ensemble_scores(members: Sequence[Sequence[PointwiseScore]], method: str) -> list[EnsembleScore]:
    """Per item, the :class:`EnsembleScore` of the members' scores (``members[j][i]``: judge j on item i)."""
    if not members or len({len(m) for m in members}) != 1:
        raise HarnessError("judge ensemble: every member must score the same items")
    out = []
    for i in range(len(members[0])):
        own = [m[i] for m in members]
        out.append(
            EnsembleScore(
                [j for s in own for j in s.judgments],
                [x for s in own for x in s.scores],
                prompt_tokens=sum(s.prompt_tokens for s in own),
                completion_tokens=sum(s.completion_tokens for s in own),
                members=own,
                method=method,
            )
        )
    return out


class EnsembleJudge:
    """Pointwise judges combined by ``method``: ``score`` has :meth:`PointwiseJudge.score`'s signature, and
    ``last_members`` keeps the members' own scores of the last call (for per-judge reports and agreement)."""

    def __init__(self, judges: Sequence[PointwiseJudge], method: str = "mean") -> None:
        if len(judges) < 2:
            raise HarnessError("judge ensemble: needs at least 2 judges")
        combine([], method)  # the method is checked now, before any model call
        self.judges, self.method = list(judges), method
        self.last_members: list[list[PointwiseScore]] = []

    def score(
        self, items: list[tuple[str, str]], on_progress: Callable[[int], None] | None = None
    ) -> list[PointwiseScore]:
        # each member's calls are cached and resumable on their own; progress counts len(items) x members
        members = [judge.score(items, on_progress=on_progress) for judge in self.judges]
        self.last_members = members
        return list(ensemble_scores(members, self.method))
