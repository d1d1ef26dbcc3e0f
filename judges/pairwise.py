"""The pairwise judge: AlpacaEval's weighted GPT-4-turbo classifier (Meta-Rewarding A.2, Sec. 3.4 "GPT-4
Chosen Pairs"), usable with any model for head-to-head comparisons and judge agreement.

Per order, the prompt shows output_1 as model "m" and output_2 as model "M". A preference lies in [1, 2]:
1 = output_1 better, 2 = output_2 better (alpaca_eval's convention). With logprobs it is alpaca_eval's
``logprob_parser(numerator_token="m", denominator_tokens=["m", "M"], is_binarize=False)``
(tatsu-lab/alpaca_eval src/alpaca_eval/completion_parsers.py; config
``weighted_alpaca_eval_gpt4_turbo/configs.yaml``: max_tokens 1, temperature 1, top_logprobs 5):

    p = 2 - P(m) / (P(m) + P(M))    over the first generated token's top logprobs,

a token absent from the top-k having probability 0, and no preference (NaN there, None here) when neither
is present. Without logprobs the answer text is parsed: "m" -> 1.0, "M" -> 2.0.

One deviation: alpaca_eval matches token strings exactly; here surrounding whitespace is ignored and the
probabilities of variants (" m" and "m") are summed, because local tokenizers may emit the answer as a
space-prefixed token after a chat template.

Both orders are judged: (a, b) and (b, a); the second is mapped back (p -> 3 - p) so both read "1 = A
better". The verdict is "A" / "B" when both orders prefer the same output, "tie" when they disagree or
either is exactly 1.5, and None when an order did not parse (counted, not guessed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from harness.runner import Run, generate
from harness.types import Completion, HarnessError, Model, Request, SamplingParams
from judges.parse import parse_clf
from judges.pointwise import check_items
from judges.prompts import PAIRWISE_FIELDS, load_prompt

Method = Literal["logprobs", "text"]
TOP_LOGPROBS = 5  # alpaca_eval's top_logprobs


def preference_from_logprobs(top: dict[str, float]) -> float | None:
    """alpaca_eval's logprob_parser on one token's top logprobs: 2 - P(m) / (P(m) + P(M)); None without m/M."""
    probs = {"m": 0.0, "M": 0.0}
    found = False
    for token, logprob in top.items():
        key = token.strip()
        if key in probs:
            probs[key] += math.exp(logprob)
            found = True
    total = probs["m"] + probs["M"]
    if not found or total <= 0.0:
        return None
    return 2.0 - probs["m"] / total


def preference_from_completion(
    comp: Completion, use_logprobs: bool | None = None
) -> tuple[float | None, Method | None]:
    """(preference in [1, 2], how it was obtained) for one order; (None, None) when it does not parse.

    use_logprobs None: the first token's logprobs when m/M are among them, else the parsed text. True: the
    logprobs only (HarnessError when the backend returned none at all). False: the parsed text only.
    """
    if use_logprobs is not False:
        if comp.logprobs is None:
            if use_logprobs:
                raise HarnessError("pairwise judge: the backend returned no logprobs; use use_logprobs=None or False")
        else:
            pref = preference_from_logprobs(comp.logprobs[0]) if comp.logprobs else None
            if pref is not None:
                return pref, "logprobs"
            if use_logprobs:
                return None, None
    answer = parse_clf(comp.text)
    if answer is None:
        return None, None
    return (1.0 if answer == "m" else 2.0), "text"


def verdict_from_preferences(p_ab: float | None, p_ba_mapped: float | None) -> Literal["A", "B", "tie"] | None:
    """Verdict of a pair from its two orders, both in the (a, b) frame (p < 1.5: A better, p > 1.5: B better).

    "A" / "B" when both orders agree; "tie" when they disagree or either is exactly 1.5; None when an order
    did not parse.
    """
    if p_ab is None or p_ba_mapped is None:
        return None
    sides = {"A" if p < 1.5 else "B" if p > 1.5 else "tie" for p in (p_ab, p_ba_mapped)}
    if len(sides) == 1 and "tie" not in sides:
        return "A" if sides == {"A"} else "B"
    return "tie"


@dataclass
class PairwiseVerdict:
    """One pair judged in both orders. Preferences are in the (a, b) frame: 1 = A better, 2 = B better.

    texts: raw answers of order (a, b) and of order (b, a); p_ab / p_ba: per-order preference (p_ba already
    mapped back), None where the order did not parse; methods: "logprobs" / "text" / None per order;
    verdict: see :func:`verdict_from_preferences`; mean_preference: mean of both orders, None unless both
    parsed (one order alone carries the judge's position bias); n_failed: orders that did not parse (0-2).
    """

    texts: tuple[str, str]
    p_ab: float | None
    p_ba: float | None
    verdict: Literal["A", "B", "tie"] | None
    methods: tuple[Method | None, Method | None] = (None, None)
    mean_preference: float | None = field(init=False)
    n_failed: int = field(init=False)

    def __post_init__(self) -> None:
        self.mean_preference = None
        if self.p_ab is not None and self.p_ba is not None:
            self.mean_preference = (self.p_ab + self.p_ba) / 2
        self.n_failed = (self.p_ab is None) + (self.p_ba is None)

    @property
    def first_position_wins(self) -> list[bool]:
        """Per parsed, non-tied order: did the output shown first win? (the position-bias diagnostic)"""
        out = []
        if self.p_ab is not None and self.p_ab != 1.5:
            out.append(self.p_ab < 1.5)
        if self.p_ba is not None and self.p_ba != 1.5:
            out.append(self.p_ba > 1.5)  # mapped back: in this order b was shown first
        return out


class PairwiseJudge:
    """Compares (instruction, output_a, output_b) items with the AlpacaEval classifier prompt, both orders.

    use_logprobs: None (default) asks for the top-5 logprobs of one token, as alpaca_eval's weighted judge,
    and falls back to the answer text when the backend returns no logprobs or neither m nor M is among the
    top tokens; True requires logprobs; False parses the text only. Sampling defaults are alpaca_eval's
    (max_tokens 1, temperature 1: with logprobs the sampled token does not matter).
    """

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
        self.model, self.run = model, run
        self.template = load_prompt(prompt, PAIRWISE_FIELDS)
        self.use_logprobs = use_logprobs
        self.params = SamplingParams(
            n=1,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            logprobs=None if use_logprobs is False else TOP_LOGPROBS,
        )

    def _request(self, instruction: str, first: str, second: str) -> Request:
        msgs = self.template.to_messages(instruction=instruction, output_1=first, output_2=second)
        return Request(messages=tuple(msgs), params=self.params.seeded_for(instruction, first, second))

    def requests(self, items: list[tuple[str, str, str]]) -> list[Request]:
        """The requests of :meth:`compare`: per item, order (a, b) then order (b, a)."""
        check_items(items, 3, "pairwise judge")
        return [r for ins, a, b in items for r in (self._request(ins, a, b), self._request(ins, b, a))]

    def compare(self, items: list[tuple[str, str, str]]) -> list[PairwiseVerdict]:
        """(instruction, output_a, output_b) -> one verdict per item, in order."""
        outs = generate(self.model, self.requests(items), self.run)
        verdicts = []
        for k in range(len(items)):
            c_ab, c_ba = outs[2 * k][0], outs[2 * k + 1][0]
            p_ab, m_ab = preference_from_completion(c_ab, self.use_logprobs)
            p_ba, m_ba = preference_from_completion(c_ba, self.use_logprobs)
            p_ba = None if p_ba is None else 3.0 - p_ba  # (b, a) frame -> (a, b) frame
            verdicts.append(
                PairwiseVerdict((c_ab.text, c_ba.text), p_ab, p_ba, verdict_from_preferences(p_ab, p_ba), (m_ab, m_ba))
            )
        return verdicts
