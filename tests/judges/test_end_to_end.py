"""The three judges on the real tiny HF model: structure, counted parse failures, cached re-runs.

The expected score, preference and winner of each model output come from this test's own reading of the prompt
formats (:func:`own_score`, :func:`own_preference`, :func:`own_winner`), never from the parsers under test; the
parsers' edge cases are pinned by hand in tests/judges/test_parse_prompts.py.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

from harness.backends import load_model
from harness.runner import Run, generate
from harness.store import Store
from harness.types import Model
from judges.meta import Battle, MetaJudge, battle_matrix, choose_pair, elo_scores
from judges.pairwise import PairwiseJudge, PairwiseVerdict
from judges.pointwise import PointwiseJudge, PointwiseScore

ITEMS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("Name a prime number.", "7 is a prime number: it has no divisors but 1 and itself."),
]
PAIRS = [(ins, resp, "I do not know.") for ins, resp in ITEMS]
JUDGMENTS = ["Relevant and correct. Score: 4", "Complete and expert. Score: 5", "Off-topic. Score: 1"]


def own_score(text: str) -> float | None:
    """The number right after the last "Score:" label (emphasis and brackets allowed around it), if in [0, 5];
    None with no label, another denominator than 5, a range, or no number."""
    labels = list(re.finditer(r"\bscore\b[\s*_]*:", text, re.I))
    if not labels:
        return None
    after = text[labels[-1].end() :].lstrip(" \t*_")
    after = after.lstrip() if after.startswith("\n") else after
    m = re.match(
        r"[<\[(]?\s*(\d+(?:\.\d+)?)\s*[>\])]?[*_ \t]*(?:(?:/|out\s+of)\s*(\d+(?:\.\d+)?))?", after.split("\n")[0]
    )
    if m is None or (m.group(2) is not None and float(m.group(2)) != 5) or re.match(r"\s*[-–]\s*\d", after[m.end() :]):
        return None
    return float(m.group(1)) if 0 <= float(m.group(1)) <= 5 else None


def own_preference(top: dict[str, float] | None, text: str) -> tuple[float | None, str | None]:
    """alpaca_eval's preference 2 - P(m) / (P(m) + P(M)) from the first token's top logprobs (tokens trimmed), else
    the answer text when it is exactly "m" or "M" (1 or 2), else None."""
    p = {"m": 0.0, "M": 0.0}
    seen = False
    for token, lp in (top or {}).items():
        if token.strip() in p:
            p[token.strip()] += math.exp(lp)
            seen = True
    if seen and p["m"] + p["M"] > 0:
        return 2 - p["m"] / (p["m"] + p["M"]), "logprobs"
    return {"m": (1.0, "text"), "M": (2.0, "text")}.get(text.strip(), (None, None))


def own_winner(text: str) -> int | None:
    """1 or 2: the judgment named first after the last "Winner:" label ("Judgement A", "Judgment B" or a bare
    letter); None without a label, a name, or with both named around a "|"."""
    labels = list(re.finditer(r"\bwinner\b[\s*_]*:", text, re.I))
    if not labels:
        return None
    line = text[labels[-1].end() :].lstrip(" \t*_").lstrip().split("\n")[0]
    named = re.findall(r"\bjudge?ment[\s*_]*([AB])\b", line, re.I) or re.findall(
        r"^[\s*_\[(\"']*([AB])[\s*_\])\"'.!]*$", line
    )
    if not named or (len({x.upper() for x in named}) > 1 and "|" in line):
        return None
    return 1 if named[0].upper() == "A" else 2


def run_all(model: Model, run: Run) -> tuple[list[PointwiseScore], list[PairwiseVerdict], list[Battle]]:
    scored = PointwiseJudge(model, run, n=3, max_tokens=12, seed=1).score(ITEMS)
    verdicts = PairwiseJudge(model, run, seed=2).compare(PAIRS)
    battles = MetaJudge(model, run, max_tokens=12, seed=3).battles(ITEMS[0][0], ITEMS[0][1], JUDGMENTS)
    return scored, verdicts, battles


def test_judges_on_the_tiny_model(tiny_model: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    model = load_model(f"hf:{tiny_model}", store=store)
    run = Run.start(store, "judges-e2e", {})
    scored, verdicts, battles = run_all(model, run)
    assert run.stats.calls_made == len(ITEMS) + 2 * len(PAIRS) + 6 and run.stats.calls_failed == 0

    # pointwise: N judgments per item; a judgment that does not parse is None and counted, never a score
    assert [len(s.judgments) for s in scored] == [3, 3]
    for s in scored:
        assert s.scores == [own_score(t) for t in s.judgments]
        assert s.n_failed == sum(x is None for x in s.scores) and s.n_valid + s.n_failed == 3
        assert (s.mean is None) == (s.n_valid == 0) and (s.variance is None) == (s.n_valid == 0)
    assert sum(s.n_failed for s in scored) > 0  # random text: parse failures happen and are reported

    # pairwise: logprobs came back from the hf backend (top-5 of the single token), and each order's
    # preference is what they (or, without m/M among them, the answer text) say
    judge = PairwiseJudge(model, run, seed=2)
    comps = generate(model, judge.requests(PAIRS), run)  # from the store
    assert all(c[0].logprobs is not None and len(c[0].logprobs[0]) >= 5 for c in comps)
    assert len(verdicts) == len(PAIRS)
    for k, v in enumerate(verdicts):
        for order, (comp, pref, method) in enumerate(
            zip((comps[2 * k][0], comps[2 * k + 1][0]), (v.p_ab, v.p_ba), v.methods, strict=True)
        ):
            expected, how = own_preference(comp.logprobs[0] if comp.logprobs else None, comp.text)
            if expected is not None and order == 1:  # the second order shows the pair swapped
                expected = 3.0 - expected
            assert pref == (None if expected is None else pytest.approx(expected, abs=1e-12))
            assert method == how
        assert v.texts == (comps[2 * k][0].text, comps[2 * k + 1][0].text)
        assert v.n_failed == (v.p_ab is None) + (v.p_ba is None)
        assert (v.verdict is None) == (v.n_failed > 0) and (v.mean_preference is None) == (v.n_failed > 0)
        assert v.verdict in (None, "A", "B", "tie")

    # meta-judge: every ordered pair once; unparsed battles have no winner and add nothing to the matrix
    assert sorted((b.first, b.second) for b in battles) == [(i, k) for i in range(3) for k in range(3) if i != k]
    for b in battles:
        assert b.winner == own_winner(b.text)
    matrix, w1, w2 = battle_matrix(battles, 3)
    assert matrix.sum() == sum(w1 if b.winner == 1 else w2 for b in battles if b.winner is not None)
    if matrix.sum() == 0:
        assert np.allclose(elo_scores(matrix), 1000.0) and choose_pair(elo_scores(matrix), random.Random(0)) is None

    # a second run against the same store makes no model call and returns the same judgments
    store2 = Store(tmp_path / "s.sqlite")
    run2 = Run.start(store2, "judges-e2e", {})
    again = run_all(model, run2)
    assert run2.stats.calls_made == 0 and run2.stats.calls_reused == run.stats.calls_made
    assert [s.judgments for s in again[0]] == [s.judgments for s in scored]
    assert [(v.p_ab, v.p_ba, v.verdict) for v in again[1]] == [(v.p_ab, v.p_ba, v.verdict) for v in verdicts]
    assert again[2] == battles
    model.close()
