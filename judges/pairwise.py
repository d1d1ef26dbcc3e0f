"""The pairwise judge (head-to-head, agreement; Self-Rewarding Fig. 3, AlpacaEval's weighted judge).

Each pair is judged in both orders. An order's preference lies in [1, 2]: 1 = the output in
position "m" (output_1) is better, 2 = the one in position "M" (output_2). With logprobs (AlpacaEval's
``logprob_parser`` with numerator "m" and denominators ["m", "M"]) the preference is
p = 2 - P(m) / (P(m) + P(M)) from the first generated token's top logprobs; otherwise the answer
text is parsed ("m" -> 1, "M" -> 2). The second order is mapped back (p -> 3 - p). The verdict is
"A" or "B" when both orders prefer the same output, else "tie" (a disagreement is a tie).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.runner import Run, generate
from harness.types import Completion, Model, Request
from judges.parse import parse_clf
from judges.prompts import load_prompt


def preference_from_completion(comp: Completion) -> float | None:
    """Preference in [1, 2] of one order: logprobs of "m"/"M" when present, else the parsed answer."""
    if comp.logprobs:
        first = comp.logprobs[0]
        probs = {tok.strip(): math.exp(lp) for tok, lp in first.items() if tok.strip() in ("m", "M")}
        total = probs.get("m", 0.0) + probs.get("M", 0.0)
        if total > 0:
            return 2.0 - probs.get("m", 0.0) / total
    answer = parse_clf(comp.text)
    return None if answer is None else (1.0 if answer == "m" else 2.0)


def verdict_from_preferences(p_ab: float | None, p_ba_mapped: float | None) -> str | None:
    """ "A" / "B" when both orders prefer the same output (p < 1.5 means A), "tie" when they disagree or
    either is exactly 1.5; None when an order did not parse."""
    if p_ab is None or p_ba_mapped is None:
        return None
    sides = {("A" if p < 1.5 else "B" if p > 1.5 else "tie") for p in (p_ab, p_ba_mapped)}
    return sides.pop() if len(sides) == 1 and "tie" not in sides else "tie"


@dataclass
class PairwiseVerdict:
    texts: tuple[str, str]  # raw answers of order (a, b) and order (b, a)
    p_ab: float | None  # order (a, b): preference for b in [1, 2]
    p_ba: float | None  # order (b, a), mapped back to the (a, b) frame
    verdict: str | None  # "A", "B", "tie", or None (parse failure)

    @property
    def mean_preference(self) -> float | None:
        valid = [p for p in (self.p_ab, self.p_ba) if p is not None]
        return sum(valid) / len(valid) if valid else None

    @property
    def n_failed(self) -> int:
        return (self.p_ab is None) + (self.p_ba is None)

    @property
    def first_position_wins(self) -> list[bool]:
        """Per parsed order: did the output shown first win? (for the position-bias diagnostic)"""
        out = []
        if self.p_ab is not None and self.p_ab != 1.5:
            out.append(self.p_ab < 1.5)
        if self.p_ba is not None and self.p_ba != 1.5:
            out.append(self.p_ba > 1.5)  # mapped back: b was shown first
        return out


class PairwiseJudge:
    def __init__(
        self,
        model: Model,
        run: Run,
        *,
        prompt: str = "alpaca_eval_clf",
        seed: int = 0,
        use_logprobs: bool | None = None,
        max_tokens: int = 1,
        temperature: float = 1.0,
    ) -> None:
        self.model, self.run, self.template, self.seed = model, run, load_prompt(prompt), seed
        self.use_logprobs = use_logprobs is not False
        self.max_tokens, self.temperature = max_tokens, temperature

    def _request(self, instruction: str, first: str, second: str) -> Request:
        msgs = self.template.to_messages(instruction=instruction, output_1=first, output_2=second)
        return Request.chat(
            msgs, max_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed,
            logprobs=5 if self.use_logprobs else None,
        )  # fmt: skip

    def compare(self, items: list[tuple[str, str, str]]) -> list[PairwiseVerdict]:
        """(instruction, output_a, output_b) -> verdicts, each pair judged in both orders."""
        reqs = [r for ins, a, b in items for r in (self._request(ins, a, b), self._request(ins, b, a))]
        outs = generate(self.model, reqs, self.run)
        verdicts = []
        for k in range(len(items)):
            c_ab, c_ba = outs[2 * k][0], outs[2 * k + 1][0]
            p_ab, p_ba = preference_from_completion(c_ab), preference_from_completion(c_ba)
            p_ba = None if p_ba is None else 3.0 - p_ba
            verdicts.append(PairwiseVerdict((c_ab.text, c_ba.text), p_ab, p_ba, verdict_from_preferences(p_ab, p_ba)))
        return verdicts
