"""Pure parts of the pointwise and pairwise judges, with a scripted model (the real model is in test_end_to_end)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.runner import Run
from harness.store import Store
from harness.types import Completion, HarnessError, Request
from judges.pairwise import (
    PairwiseJudge,
    PairwiseVerdict,
    preference_from_completion,
    preference_from_logprobs,
    verdict_from_preferences,
)
from judges.pointwise import PointwiseJudge, PointwiseScore
from tests.judges.scripted import Scripted, content_seed


@pytest.mark.parametrize(
    ("p_ab", "p_ba", "expected"),
    [
        (1.0, 1.2, "A"),
        (1.9, 2.0, "B"),
        (1.0, 2.0, "tie"),  # the orders disagree: position decided it
        (1.4, 1.6, "tie"),
        (1.5, 1.0, "tie"),
        (1.5, 1.5, "tie"),
        (None, 1.0, None),
        (2.0, None, None),
    ],
)
def test_verdict_from_preferences(p_ab: float | None, p_ba: float | None, expected: str | None) -> None:
    assert verdict_from_preferences(p_ab, p_ba) == expected


def test_logprob_preference_matches_alpaca_eval() -> None:
    # alpaca_eval logprob_parser, is_binarize=False: 2 - P(m) / (P(m) + P(M))
    top = {"M": -0.017597131, "m": -4.048847, "Both": -14.9, "The": -15.7}  # alpaca_eval's docstring example
    p_m, p_big = math.exp(-4.048847), math.exp(-0.017597131)
    assert preference_from_logprobs(top) == pytest.approx(2 - p_m / (p_m + p_big))
    assert preference_from_logprobs(top) > 1.9  # "M" (output_2) is strongly preferred
    assert preference_from_logprobs({"m": -0.1, "x": -3.0}) == 1.0  # absent M has probability 0
    assert preference_from_logprobs({"M": -0.1}) == 2.0
    assert preference_from_logprobs({"x": -0.1, "y": -2.0}) is None
    # whitespace variants of a token are one answer (summed)
    assert preference_from_logprobs({" m": math.log(0.3), "m": math.log(0.3), "M": math.log(0.2)}) == pytest.approx(
        2 - 0.6 / 0.8
    )


def test_preference_modes() -> None:
    lp = [{"m": math.log(0.6), "M": math.log(0.2), "x": math.log(0.2)}]
    assert preference_from_completion(Completion("M", logprobs=lp)) == (pytest.approx(1.25), "logprobs")
    assert preference_from_completion(Completion("M", logprobs=lp), False) == (2.0, "text")
    # None: fall back to the text when m/M are not among the top tokens or no logprobs came back
    assert preference_from_completion(Completion("M", logprobs=[{"x": -0.1}])) == (2.0, "text")
    assert preference_from_completion(Completion("m")) == (1.0, "text")
    assert preference_from_completion(Completion("?", logprobs=[{"x": -0.1}])) == (None, None)
    # True: logprobs only
    assert preference_from_completion(Completion("M", logprobs=[{"x": -0.1}]), True) == (None, None)
    with pytest.raises(HarnessError, match="no logprobs"):
        preference_from_completion(Completion("M"), True)


def test_verdict_record() -> None:
    v = PairwiseVerdict(("m", "M"), 1.0, 1.0, "A")
    assert (v.mean_preference, v.n_failed, v.first_position_wins) == (1.0, 0, [True, False])
    half = PairwiseVerdict(("m", "??"), 1.0, None, None)
    assert (half.mean_preference, half.n_failed) == (None, 1)


def test_pointwise_score_statistics() -> None:
    s = PointwiseScore(["Score: 4", "junk", "Score: 2", "Score: 3"], [4.0, None, 2.0, 3.0])
    assert (s.mean, s.n_valid, s.n_failed) == (3.0, 3, 1)
    assert s.variance == pytest.approx(2 / 3)  # population variance of the valid scores
    one = PointwiseScore(["Score: 4"], [4.0])
    assert (one.mean, one.variance) == (4.0, 0.0)
    none = PointwiseScore(["a", "b"], [None, None])
    assert (none.mean, none.variance, none.n_valid, none.n_failed) == (None, None, 0, 2)


def test_pairwise_judge_maps_the_second_order_back(tmp_path: Path) -> None:
    # the scripted judge always prefers the output containing "good", wherever it is shown
    def answer(req: Request, _i: int) -> Completion:
        user = req.messages[-1].content  # type: ignore[index]
        first_good = user.index('"output": """good') < user.index('"model_identifier": "M"') if "good" in user else 0
        return Completion("m" if first_good else "M", logprobs=None)

    model = Scripted(answer)
    run = Run.start(Store(tmp_path / "s.sqlite"), "test", {})
    vs = PairwiseJudge(model, run).compare([("q", "good answer", "bad"), ("q", "bad", "good answer")])
    assert [v.verdict for v in vs] == ["A", "B"]
    assert (vs[0].p_ab, vs[0].p_ba, vs[0].methods) == (1.0, 1.0, ("text", "text"))
    assert len(model.requests) == 4 and all(r.params.logprobs == 5 and r.params.max_tokens == 1 for r in model.requests)
    with pytest.raises(HarnessError, match="item 0 must be a tuple of 3 strings"):
        PairwiseJudge(model, run).compare([("q", "a")])  # type: ignore[list-item]


def test_pointwise_judge_one_request_per_item(tmp_path: Path) -> None:
    model = Scripted(lambda req, i: Completion(["Score: 4", "no score", "Score: 9"][i % 3]))
    run = Run.start(Store(tmp_path / "s.sqlite"), "test", {})
    res = PointwiseJudge(model, run, n=3, seed=5).score([("q1", "r1"), ("q2", "r2")])
    assert len(model.requests) == 2 and all(r.params.n == 3 for r in model.requests)
    # each item's request gets its own seed, derived from seed 5 and the item
    assert [r.params.seed for r in model.requests] == [content_seed(5, "q1", "r1"), content_seed(5, "q2", "r2")]
    assert model.requests[0].params.seed != model.requests[1].params.seed
    assert [r.scores for r in res] == [[4.0, None, None]] * 2  # "no score" and the out-of-range 9 fail
    assert (res[0].mean, res[0].n_failed) == (4.0, 2)
    with pytest.raises(HarnessError, match="n must be a positive integer"):
        PointwiseJudge(model, run, n=0)
