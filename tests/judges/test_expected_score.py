"""Expected-score judging (issue 34): the score is the expectation over the score token's distribution.

Every expected value is written by hand from a planted distribution (the test's own arithmetic), never computed
by the code under test: the planted server's judge writes " Score: S" and gives the score token the top
logprobs of :func:`tests.planted_server.score_top_logprobs` (S 0.6, a neighbour 0.3, a non-number 0.1).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.backends import load_model
from harness.runner import Run
from harness.store import Store
from harness.types import Completion, HarnessError
from judges.pointwise import PointwiseJudge, expected_score
from tests.planted_server import judge_faithful
from tests.servers import LatencyServer, PlantedServer


def _comp(tokens: list[str], tops: dict[int, dict[str, float]]) -> Completion:
    steps = [tops.get(i, {t: 0.0}) for i, t in enumerate(tokens)]
    return Completion("".join(tokens), "stop", 5, len(tokens), steps, tokens)


def test_the_expectation_of_a_planted_distribution() -> None:
    tokens = ["Relevant, helpful.", "\n", "Score", ":", " 4"]
    top = {" 4": math.log(0.5), " 3": math.log(0.3), " 5": math.log(0.1), " the": math.log(0.1)}
    # (4 * 0.5 + 3 * 0.3 + 5 * 0.1) / (0.5 + 0.3 + 0.1): " the" is no score and is left out
    score, from_logprobs = expected_score(_comp(tokens, {4: top}))
    assert score == pytest.approx(3.4 / 0.9, abs=1e-12) and from_logprobs


def test_a_token_that_holds_text_before_the_number() -> None:
    # the score's token is ": 2"; its alternatives are read after the same ": ", and 7 lies outside 0..5
    tokens = ["It is off-topic.", " Score", ": 2", "/5"]
    top = {": 2": math.log(0.7), ": 1": math.log(0.2), ": 7": math.log(0.05), "! 5": math.log(0.05)}
    score, from_logprobs = expected_score(_comp(tokens, {2: top}))
    assert score == pytest.approx((2 * 0.7 + 1 * 0.2) / 0.9, abs=1e-12) and from_logprobs


def test_a_parse_failure_stays_a_failure_and_an_unplaced_score_keeps_its_digit() -> None:
    assert expected_score(_comp(["No score here."], {})) == (None, False)
    # the tokens do not spell the text (another detokenization): the sampled 3, marked as not from logprobs
    comp = Completion("Score: 3", "stop", 5, 2, [{"x": 0.0}, {" 3": 0.0}], ["Sc", "ore: 3 and more"])
    assert expected_score(comp) == (3.0, False)
    # no integer among the score token's top logprobs (a backend that left the sampled token out)
    assert expected_score(_comp(["Score:", " 3"], {1: {" three": -0.1, " x": -2.0}})) == (3.0, False)


def test_the_judge_reads_expected_scores_from_a_live_openai_server(tmp_path: Path) -> None:
    """Faithful prompts: the rank-1 response is written 5 and the other 1. Expected: 5 -> (5*0.6 + 4*0.3)/0.9,
    1 -> (1*0.6 + 2*0.3)/0.9; the sampled judge of the same texts gives 5 and 1."""
    server = PlantedServer(q_judge=0.5, seed=3)
    prompts = [f"Name a colour ({k})." for k in range(12)]
    items = [(p, f"[rank={r}] answer {r}") for p in prompts for r in (1, 2)]
    try:
        store = Store(tmp_path / "s.sqlite")
        run = Run.start(store, "test", {})
        model = load_model(server.spec("judge"), store=store)
        expected = PointwiseJudge(model, run, prompt="pointwise_additive", n=2, score_mode="expected").score(items)
        sampled = PointwiseJudge(model, run, prompt="pointwise_additive", n=2).score(items)
    finally:
        server.stop()
    high, low = (5 * 0.6 + 4 * 0.3) / 0.9, (1 * 0.6 + 2 * 0.3) / 0.9
    for (prompt, response), e, s in zip(items, expected, sampled, strict=True):
        top = ("[rank=1]" in response) == judge_faithful(3, 0.5, prompt)
        assert e.scores == pytest.approx([high, high] if top else [low, low], abs=1e-9)
        assert s.scores == ([5.0, 5.0] if top else [1.0, 1.0])
        assert e.n_failed == 0 and e.n_sampled_fallback == 0
    assert {judge_faithful(3, 0.5, p) for p in prompts} == {True, False}  # both orders were planted


def test_a_backend_without_logprobs_is_one_line(tmp_path: Path) -> None:
    server = LatencyServer(median=0.001, sigma=0.1)  # answers without logprobs
    try:
        store = Store(tmp_path / "s.sqlite")
        judge = PointwiseJudge(load_model(server.spec("m"), store=store), Run.start(store, "test", {}), n=1,
                               score_mode="expected")  # fmt: skip
        with pytest.raises(HarnessError, match="returned no logprobs; use sampled"):
            judge.score([("q", "a")])
    finally:
        server.stop()
    with pytest.raises(HarnessError, match="judge score mode must be one of sampled, expected"):
        PointwiseJudge(judge.model, judge.run, score_mode="mean")
