"""The meta-judge (Meta-Rewarding Sec. 2.2): judging the judge's own judgments.

For one response and its N judgments, every pair of judgments is compared by the meta-judge in
both orders. Wins are weighted against positional bias:

    w1 = win_2nd / (win_1st + win_2nd)   (weight of a win in the first position)
    w2 = win_1st / (win_1st + win_2nd)   (weight of a win in the second position)

where win_1st / win_2nd count the battles of this response won by the first / second position. The
weighted battle matrix B[i, k] (weighted wins of judgment i over k) gives Elo scores by maximum
likelihood of the Bradley-Terry model, P(i beats k) = sigmoid(r_i - r_k), fitted with
scipy.optimize; the highest- and lowest-Elo judgments become chosen and rejected (ties broken by a
seeded random choice).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from harness.runner import Run, generate
from harness.types import Model, Request
from judges.parse import parse_score, parse_winner
from judges.prompts import load_prompt

ELO_SCALE = 400.0 / math.log(10.0)  # natural-log BT strength -> Elo points
L2 = 1e-4  # keeps the MLE finite when a judgment is never beaten (undefeated players)


@dataclass(frozen=True)
class Battle:
    first: int  # index of the judgment shown as "Judgement A"
    second: int  # index of the judgment shown as "Judgement B"
    winner: int | None  # 1 (first position won), 2 (second), None (did not parse)
    text: str = ""

    @property
    def winner_index(self) -> int | None:
        return None if self.winner is None else (self.first if self.winner == 1 else self.second)


def battle_matrix(battles: list[Battle], n: int) -> tuple[np.ndarray, float, float]:
    """The weighted battle matrix and (w1, w2). Unparsed battles are ignored.

    When one position never wins, its weight is 1 and the other's 0 by the formula; with no parsed
    battle at all, w1 = w2 = 0.5 and the matrix is zero.
    """
    win_1st = sum(b.winner == 1 for b in battles)
    win_2nd = sum(b.winner == 2 for b in battles)
    total = win_1st + win_2nd
    w1, w2 = (win_2nd / total, win_1st / total) if total else (0.5, 0.5)
    matrix = np.zeros((n, n))
    for b in battles:
        if b.winner == 1:
            matrix[b.first, b.second] += w1
        elif b.winner == 2:
            matrix[b.second, b.first] += w2
    return matrix, w1, w2


def elo_scores(matrix: np.ndarray) -> np.ndarray:
    """Bradley-Terry MLE of strengths from a win matrix (B[i, k] = wins of i over k), in Elo points around 1000.

    Maximises sum_ik B[i, k] * log sigmoid(r_i - r_k) - L2 * sum r^2 (L-BFGS, analytic gradient).
    """
    n = matrix.shape[0]

    def objective(r: np.ndarray) -> tuple[float, np.ndarray]:
        diff = r[:, None] - r[None, :]
        log_p = -np.logaddexp(0.0, -diff)  # log sigmoid(r_i - r_k)
        p = np.exp(log_p)
        nll = -(matrix * log_p).sum() + L2 * (r**2).sum()
        g = matrix * (1.0 - p)  # d/d r_i of B_ik log sigmoid(r_i - r_k)
        grad = -(g.sum(axis=1) - g.sum(axis=0)) + 2 * L2 * r
        return float(nll), grad

    res = minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B")
    return 1000.0 + ELO_SCALE * (res.x - res.x.mean())


def choose_pair(elo: np.ndarray, rng: random.Random, tol: float = 1e-6) -> tuple[int, int] | None:
    """(chosen, rejected) = (highest, lowest) Elo, ties broken by ``rng``; None when all are equal."""
    hi, lo = float(np.max(elo)), float(np.min(elo))
    if hi - lo <= tol:
        return None
    top = [i for i, e in enumerate(elo) if hi - e <= tol]
    bottom = [i for i, e in enumerate(elo) if e - lo <= tol]
    return rng.choice(top), rng.choice(bottom)


def meta_judge_biases(battles: list[Battle], judgments: list[str]) -> dict[str, float | None]:
    """Meta-Rewarding Table 5 statistics over parsed battles.

    score bias: among battles between judgments with different parsed scores, the share won by the
    higher-scored judgment ("higher_win") and by the lower ("lower_win"); positional bias: the share
    won by the first position, for same-score battles, different-score battles and all.
    """
    scores = [parse_score(j) for j in judgments]
    parsed = [b for b in battles if b.winner is not None]
    diff = [
        b for b in parsed if None not in (scores[b.first], scores[b.second]) and scores[b.first] != scores[b.second]
    ]
    same = [b for b in parsed if scores[b.first] is not None and scores[b.first] == scores[b.second]]

    def share(bs: list[Battle], won: object) -> float | None:
        return sum(bool(won(b)) for b in bs) / len(bs) if bs else None  # type: ignore[operator]

    def higher(b: Battle) -> bool:
        w = b.winner_index
        other = b.second if w == b.first else b.first
        return (scores[w] or 0) > (scores[other] or 0)  # type: ignore[index]

    return {
        "higher_win": share(diff, higher),
        "lower_win": share(diff, lambda b: not higher(b)),
        "first_position_same_score": share(same, lambda b: b.winner == 1),
        "first_position_diff_score": share(diff, lambda b: b.winner == 1),
        "first_position_all": share(parsed, lambda b: b.winner == 1),
    }


class MetaJudge:
    def __init__(
        self,
        model: Model,
        run: Run,
        *,
        prompt: str = "meta_judge",
        temperature: float = 0.7,
        top_p: float = 0.9,
        max_tokens: int = 512,
        seed: int = 0,
    ) -> None:
        self.model, self.run, self.template = model, run, load_prompt(prompt)
        self.temperature, self.top_p, self.max_tokens, self.seed = temperature, top_p, max_tokens, seed

    def battles(self, instruction: str, response: str, judgments: list[str]) -> list[Battle]:
        """Every ordered pair (i, k), i != k: one meta-judgment each (so each pair in both orders)."""
        order = [(i, k) for i in range(len(judgments)) for k in range(len(judgments)) if i != k]
        reqs = [
            Request.chat(
                self.template.to_messages(
                    instruction=instruction, response=response, judgment_a=judgments[i], judgment_b=judgments[k]
                ),
                temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed,
            )
            for i, k in order
        ]  # fmt: skip
        outs = generate(self.model, reqs, self.run)
        battles = []
        for (i, k), comps in zip(order, outs, strict=True):
            w = parse_winner(comps[0].text)
            battles.append(Battle(i, k, None if w is None else (1 if w == "A" else 2), comps[0].text))
        return battles
