"""Parsers for judge outputs. A judgment that does not parse gives ``None``: it is counted as a parse
failure by the caller and never replaced by a default value.
"""

from __future__ import annotations

import re
from typing import Literal

# "Score: 4", "Score: 4.5", "Score: 5 points", "Score: <5>", "**Score:** 4", "Score: 4/5"
_SCORE = re.compile(r"score\s*\**\s*:\s*\**\s*<?\s*(\d+(?:\.\d+)?)\s*>?(?:\s*/\s*5(?![\d.]))?", re.I)
_WINNER = re.compile(r"winner\s*\**\s*:\s*\**\s*\[?\s*judge?ment\s*([AB])\b", re.I)


def parse_score(text: str, low: float = 0.0, high: float = 5.0) -> float | None:
    """The number of the LAST "Score: <n>" in the text (decimals allowed), if it lies in [low, high].

    Accepted forms: "Score: 4", "Score: 4.5", "Score: 5 points", "Score: <5>", "**Score:** 4" and
    "Score: 4/5". A last Score line out of range is a failure even if an earlier one was valid:
    the judge's conclusion is its last statement (Self-Rewarding Fig. 2 asks to "conclude with the score").
    """
    matches = _SCORE.findall(text or "")
    if not matches:
        return None
    value = float(matches[-1])
    return value if low <= value <= high else None


def parse_winner(text: str) -> Literal["A", "B"] | None:
    """The winner of the LAST "Winner: Judgement A|B" (also "Judgment", brackets) in a meta-judgment."""
    matches = _WINNER.findall(text or "")
    if not matches:
        return None
    return "A" if matches[-1].upper() == "A" else "B"


def parse_clf(text: str) -> Literal["m", "M"] | None:
    """The model identifier answered by the AlpacaEval classifier prompt: exactly "m" or "M" (whitespace trimmed)."""
    stripped = (text or "").strip()
    return stripped if stripped in ("m", "M") else None  # type: ignore[return-value]
