"""The meta-judge (Meta-Rewarding Sec. 2.2): the model judges its own judgments.

For one response and its N judgments, every pair of judgments is compared in BOTH orders ("we prompt the
model twice by changing the ordering of the two judgements"), one request per ordered pair. Wins are
weighted against positional bias:

    w1 = win_2nd / (win_1st + win_2nd)   (weight of a win by the judgment in the first position)
    w2 = win_1st / (win_1st + win_2nd)   (weight of a win by the judgment in the second position)

where win_1st / win_2nd count the parsed battles of this response won by the first / second position. The
battle matrix B[m, n] = w1 * 1[m won (m, n) shown first] + w2 * 1[m won (n, m) shown second] gives Elo
scores by the paper's maximum likelihood problem

    argmax_eps  sum_{m,n} B[m, n] * log sigmoid(eps_m - eps_n)     (Bradley-Terry; Zheng et al. 2024),

solved with scipy.optimize; chosen / rejected = highest / lowest Elo, ties broken randomly (seeded).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from harness.runner import Run, generate
from harness.types import HarnessError, Model, Request, SamplingParams
from judges.parse import parse_score, parse_winner
from judges.pointwise import META_REWARDING_SAMPLING
from judges.prompts import META_FIELDS, load_prompt

ELO_SCALE = 400.0 / math.log(10.0)  # natural-log Bradley-Terry strength -> Elo points
ELO_BASE = 1000.0
# The paper's MLE has no finite optimum when a judgment is never beaten (its strength runs to +inf) and is
# only defined up to a common shift. A tiny L2 penalty on the strengths fixes both: the optimum is unique
# and finite, centred at 0, and for matrices with a finite MLE it moves the strengths by ~L2 (tested).
L2 = 1e-4


@dataclass(frozen=True)
class Battle:
    """One meta-judgment: judgment ``first`` shown as "Judgment A", ``second`` as "Judgment B".

    winner: 1 (first position won), 2 (second position won), None (did not parse: no result, "r = 0").
    """

    first: int
    second: int
    winner: int | None
    text: str = ""

    @property
    def winner_index(self) -> int | None:
        return None if self.winner is None else (self.first if self.winner == 1 else self.second)

    @property
    def loser_index(self) -> int | None:
        return None if self.winner is None else (self.second if self.winner == 1 else self.first)


def position_weights(battles: list[Battle]) -> tuple[float, float]:
    """(w1, w2) of Meta-Rewarding Sec. 2.2 from the parsed battles.

    Fallback: when either position never wins (including no parsed battle), the formula would give the only
    winning position weight 0 and discard every battle; we then weight both positions equally, w1 = w2 = 0.5
    (the formula's value for balanced wins, keeping w1 + w2 = 1). A meta-judge that always picks the same
    position on complete both-order battles then yields a symmetric matrix, i.e. equal Elo and no pair.
    """
    win_1st = sum(b.winner == 1 for b in battles)
    win_2nd = sum(b.winner == 2 for b in battles)
    if win_1st == 0 or win_2nd == 0:
        return 0.5, 0.5
    total = win_1st + win_2nd
    return win_2nd / total, win_1st / total


def battle_matrix(
    battles: list[Battle], n: int, weights: tuple[float, float] | None = None
) -> tuple[np.ndarray, float, float]:
    """(B, w1, w2): B[m, k] = weighted wins of judgment m over k; unparsed battles count nothing.

    ``weights`` overrides (w1, w2), e.g. to pool win counts over many responses; by default they come from
    these battles (:func:`position_weights`).
    """
    w1, w2 = weights if weights is not None else position_weights(battles)
    matrix = np.zeros((n, n))
    for b in battles:
        if not (0 <= b.first < n and 0 <= b.second < n) or b.first == b.second:
            raise HarnessError(f"battle ({b.first}, {b.second}) is not a pair of distinct judgments among {n}")
        if b.winner not in (1, 2, None):
            raise HarnessError(f"battle ({b.first}, {b.second}): winner must be 1, 2 or None, got {b.winner!r}")
        if b.winner == 1:
            matrix[b.first, b.second] += w1
        elif b.winner == 2:
            matrix[b.second, b.first] += w2
    return matrix, w1, w2


def elo_scores(matrix: np.ndarray) -> np.ndarray:
    """Bradley-Terry MLE of the strengths from B (B[m, n] = weighted wins of m over n), as Elo points.

    Minimises -sum B[m, n] log sigmoid(r_m - r_n) + L2 * sum r^2 with L-BFGS (analytic gradient) and returns
    ELO_BASE + ELO_SCALE * r, so a 400-point gap means 10:1 odds (the Elo convention; the paper's eps is r).
    """
    b = np.asarray(matrix, dtype=float)
    if b.ndim != 2 or b.shape[0] != b.shape[1]:
        raise HarnessError(f"battle matrix must be square, got shape {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise HarnessError("battle matrix must hold finite, non-negative win weights")

    def objective(r: np.ndarray) -> tuple[float, np.ndarray]:
        diff = r[:, None] - r[None, :]
        log_p = -np.logaddexp(0.0, -diff)  # log sigmoid(r_m - r_n), stable for large |diff|
        nll = -(b * log_p).sum() + L2 * (r**2).sum()
        g = b * (1.0 - np.exp(log_p))  # d/dr_m of B[m, n] log sigmoid(r_m - r_n); minus that for r_n
        grad = -(g.sum(axis=1) - g.sum(axis=0)) + 2 * L2 * r
        return float(nll), grad

    res = minimize(objective, np.zeros(b.shape[0]), jac=True, method="L-BFGS-B", options={"gtol": 1e-10})
    return ELO_BASE + ELO_SCALE * (res.x - res.x.mean())


def choose_pair(elo: np.ndarray, rng: random.Random, tol: float = 1e-6) -> tuple[int, int] | None:
    """(chosen, rejected) = (highest, lowest) Elo; judgments within ``tol`` Elo points of the extreme are tied
    and one is drawn with ``rng`` ("breaking ties randomly"). None when all are tied (nothing to prefer)."""
    values = [float(e) for e in elo]
    if len(values) < 2:
        return None
    hi, lo = max(values), min(values)
    if hi - lo <= tol:
        return None
    top = [i for i, e in enumerate(values) if hi - e <= tol]
    bottom = [i for i, e in enumerate(values) if e - lo <= tol]
    return rng.choice(top), rng.choice(bottom)


def meta_judge_biases(battles: list[Battle], judgments: list[str]) -> dict[str, float | None]:
    """Meta-Rewarding Table 5 over the parsed battles (None where a share has no battle to count).

    Score bias: among battles between two judgments with different parsed scores, the share won by the
    higher-scored judgment ("higher_win") and by the lower ("lower_win"; the two sum to 1). Positional bias:
    the share won by the first position, among battles of two judgments with the same score
    ("first_position_same_score"), with different scores ("first_position_diff_score"), and among all parsed
    battles ("first_position_all"; it also counts battles where a judgment's score did not parse).
    """
    scores = [parse_score(j) for j in judgments]
    parsed = [b for b in battles if b.winner is not None]
    both = [b for b in parsed if scores[b.first] is not None and scores[b.second] is not None]
    diff = [b for b in both if scores[b.first] != scores[b.second]]
    same = [b for b in both if scores[b.first] == scores[b.second]]

    def share(bs: list[Battle], won: Callable[[Battle], bool]) -> float | None:
        return sum(won(b) for b in bs) / len(bs) if bs else None

    def higher_won(b: Battle) -> bool:
        return scores[b.winner_index] > scores[b.loser_index]  # type: ignore[index,operator]

    return {
        "higher_win": share(diff, higher_won),
        "lower_win": share(diff, lambda b: not higher_won(b)),
        "first_position_same_score": share(same, lambda b: b.winner == 1),
        "first_position_diff_score": share(diff, lambda b: b.winner == 1),
        "first_position_all": share(parsed, lambda b: b.winner == 1),
    }


class MetaJudge:
    """Runs the meta-judge prompt (Meta-Rewarding Fig. 2) on every ordered pair of judgments of a response.

    The paper gives no separate meta-judge decoding parameters; the defaults are its response / judgment
    sampling parameters (Sec. 3.1: temperature 0.8, top p 0.95). Each request has n=1 and a seed derived
    from ``seed`` and its content (:meth:`SamplingParams.seeded_for`: independent draws).
    """

    def __init__(
        self,
        model: Model,
        run: Run,
        *,
        prompt: str = "meta_judge",
        temperature: float = META_REWARDING_SAMPLING["temperature"],
        top_p: float = META_REWARDING_SAMPLING["top_p"],
        max_tokens: int = 512,
        seed: int = 0,
    ) -> None:
        self.model, self.run = model, run
        self.template = load_prompt(prompt, META_FIELDS)
        self.params = SamplingParams(n=1, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed)

    def battles(self, instruction: str, response: str, judgments: list[str]) -> list[Battle]:
        """Every ordered pair (i, k), i != k, in the order (0, 1), (0, 2), ..., (1, 0), ...: one battle each."""
        return self.battles_many([(instruction, response, judgments)])[0]

    def battles_many(self, items: list[tuple[str, str, list[str]]]) -> list[list[Battle]]:
        """:meth:`battles` for many responses in one :func:`generate` call (the backend batches them)."""
        orders: list[list[tuple[int, int]]] = []
        reqs: list[Request] = []
        for k, item in enumerate(items):
            ok = isinstance(item, tuple | list) and len(item) == 3
            if not ok or not isinstance(item[0], str) or not isinstance(item[1], str):
                raise HarnessError(f"meta-judge: item {k} must be (instruction, response, judgments)")
            instruction, response, judgments = item
            if not isinstance(judgments, list) or not all(isinstance(j, str) for j in judgments):
                raise HarnessError(f"meta-judge: item {k}: judgments must be a list of strings")
            order = [(i, j) for i in range(len(judgments)) for j in range(len(judgments)) if i != j]
            orders.append(order)
            for i, j in order:
                msgs = self.template.to_messages(
                    instruction=instruction, response=response, judgment_a=judgments[i], judgment_b=judgments[j]
                )
                params = self.params.seeded_for(instruction, response, judgments[i], judgments[j])
                reqs.append(Request(messages=tuple(msgs), params=params))
        outs = iter(generate(self.model, reqs, self.run))
        result = []
        for order in orders:
            battles = []
            for i, j in order:
                text = next(outs)[0].text
                w = parse_winner(text)
                battles.append(Battle(i, j, None if w is None else (1 if w == "A" else 2), text))
            result.append(battles)
        return result
