"""Parsers for judge outputs. A judgment that does not parse gives ``None``: the caller counts it as a
parse failure and never replaces it by a default value.

Rules (decided here, tested in tests/judges/test_parse_prompts.py):

* Score (Self-Rewarding Fig. 2: 'Conclude with the score using the format: "Score: <total points>"'): the
  LAST "Score:" label of the text is the judge's conclusion; the number right after it is the score. So an
  earlier valid score followed by an unparseable or out-of-range final one is a failure. Accepted around the
  number: markdown emphasis ("**Score:** 4", "Score: **4**"), angle or square brackets ("Score: <5>"),
  trailing words ("Score: 4 points"), and a denominator equal to the scale's top ("Score: 4/5",
  "Score: 4 out of 5"); another denominator ("Score: 8/10") or a range ("Score: 3-4") is a failure, as we
  will not rescale or guess. Decimals are allowed (Meta-Rewarding Sec. 3.5 sees 4.5, 4.75, 4.9).
* Winner (Meta-Rewarding Fig. 2: '"Winner: [Judgement A | Judgement B]"'): the LAST "Winner:" label; the
  first judgment named on its line wins ("Judgement A", "Judgment A", "[Judgement B]", "Judgement A, as
  Judgement B ..."), or a bare letter ("Winner: B"). An echo of the format, both named with a "|" between
  them ("[Judgement A | Judgement B]"), is a failure.
* AlpacaEval classifier: the whole answer, whitespace-trimmed, must be "m" or "M" (the prompt demands
  "nothing else (no quotes, no spaces, no new lines, ...)").
"""

from __future__ import annotations

import re
from typing import Literal

_EMPH = r"[\s*_]*"  # markdown emphasis and spacing around labels and values
_SCORE_LABEL = re.compile(r"\bscore\b" + _EMPH + ":", re.I)
_NUMBER = r"(\d+(?:\.\d+)?)"
_SCORE_VALUE = re.compile(
    r"[*_ \t]*[<\[(]?[ \t]*" + _NUMBER + r"[ \t]*[>\])]?[*_ \t]*"
    r"(?:(?:/|out[ \t]+of)[ \t]*" + _NUMBER + r")?"
    r"(?![ \t]*[-–][ \t]*\d)",  # "3-4": a range, not a score
    re.I,
)
_WINNER_LABEL = re.compile(r"\bwinner\b" + _EMPH + ":", re.I)
_JUDGEMENT = re.compile(r"\bjudge?ment[\s*_]*([AB])\b", re.I)
_BARE_LETTER = re.compile(r"""^[\s*_\[("']*([AB])[\s*_\])"'.!]*$""")


def _after_last_at(label: re.Pattern[str], text: str) -> tuple[str, int] | None:
    """The first non-empty line after the last match of ``label`` and its offset in ``text`` (None when there is
    no label)."""
    matches = list(label.finditer(text or ""))
    if not matches:
        return None
    start = matches[-1].end()
    rest = text[start:]
    stripped = rest.lstrip(" \t*_")
    if stripped.startswith("\n"):  # "Score:\n4": the value on the next line
        stripped = stripped.lstrip()
    return stripped.split("\n", 1)[0], start + len(rest) - len(stripped)


def _after_last(label: re.Pattern[str], text: str) -> str | None:
    """The first non-empty line after the last match of ``label`` (None when there is no label)."""
    found = _after_last_at(label, text)
    return None if found is None else found[0]


def score_span(text: str, low: float = 0.0, high: float = 5.0) -> tuple[float, int] | None:
    """:func:`parse_score`'s value and the offset in ``text`` of its first character (None where it is None)."""
    found = _after_last_at(_SCORE_LABEL, text)
    if found is None:
        return None
    line, offset = found
    m = _SCORE_VALUE.match(line)
    if m is None:
        return None
    if m.group(2) is not None and float(m.group(2)) != high:
        return None
    value = float(m.group(1))
    return (value, offset + m.start(1)) if low <= value <= high else None


def parse_score(text: str, low: float = 0.0, high: float = 5.0) -> float | None:
    """The number after the LAST "Score:" label if it lies in [low, high], else None (see module rules)."""
    found = score_span(text, low, high)
    return None if found is None else found[0]


def parse_winner(text: str) -> Literal["A", "B"] | None:
    """The judgment named first after the LAST "Winner:" label (see module rules)."""
    line = _after_last(_WINNER_LABEL, text)
    if line is None:
        return None
    named = [m.group(1).upper() for m in _JUDGEMENT.finditer(line)]
    if not named:
        bare = _BARE_LETTER.match(line)
        named = [bare.group(1)] if bare else []
    if not named or (len(set(named)) > 1 and "|" in line):
        return None
    return "A" if named[0] == "A" else "B"


def parse_clf(text: str) -> Literal["m", "M"] | None:
    """The model identifier answered to the AlpacaEval classifier prompt: exactly "m" or "M" (trimmed)."""
    stripped = (text or "").strip()
    if stripped == "m":
        return "m"
    if stripped == "M":
        return "M"
    return None
