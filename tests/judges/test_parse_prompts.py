from pathlib import Path

import pytest

from harness.types import Completion, HarnessError
from judges.pairwise import preference_from_completion, verdict_from_preferences
from judges.parse import parse_clf, parse_score, parse_winner
from judges.prompts import REGISTRY, load_prompt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The response is relevant.\nScore: 4", 4.0),
        ("Justification...\nScore: 4.5", 4.5),
        ("Score: 5 points", 5.0),
        ('Conclude: "Score: <5>"', 5.0),
        ("Score: 2\nOn reflection, more points are due.\nScore: 3", 3.0),
        ("**Score:** 1", 1.0),
        ("Score: 4/5", 4.0),
        ("Score: 6", None),
        ("Score: 7\nScore: 11", None),
        ("Score: 3\nScore: 9", None),  # the last score is the conclusion, and it is out of range
        ("I would give it four points.", None),
        ("", None),
    ],
)
def test_parse_score(text: str, expected: float | None) -> None:
    assert parse_score(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Judgment B applies the rubric better.\nWinner: Judgement B", "B"),
        ("Winner: Judgment A", "A"),
        ("Winner: [Judgement A]", "A"),
        ("Winner: Judgement A\nWait.\nWinner: Judgement B", "B"),
        ("Both are fine.", None),
        ("Winner: neither", None),
    ],
)
def test_parse_winner(text: str, expected: str | None) -> None:
    assert parse_winner(text) == expected


def test_parse_clf() -> None:
    assert (parse_clf("m"), parse_clf(" M\n"), parse_clf("model m")) == ("m", "M", None)


def test_prompts_have_their_placeholders_and_paper_wording() -> None:
    for name in REGISTRY:
        load_prompt(name)
    additive = load_prompt("pointwise_additive").render(instruction="Q {response}", response="R")
    assert 'Conclude with the score using the format: "Score: <total points>"' in additive
    assert "User: Q {response}" in additive  # placeholder-like user text is left alone
    meta = load_prompt("meta_judge").render(instruction="Q", response="R", judgment_a="JA", judgment_b="JB")
    assert meta.rstrip().endswith('"Winner: [Judgement A | Judgement B]"')
    assert "Judgment A: JA" in meta and "Judgment B: JB" in meta
    msgs = load_prompt("alpaca_eval_clf").to_messages(instruction="I", output_1="o1", output_2="o2")
    assert [m.role for m in msgs] == ["system", "user"] and msgs[1].content.endswith("## Best Model Identifier")
    assert '"output": """o1"""' in msgs[1].content and "m or M." in msgs[1].content
    li = load_prompt("pointwise_li").render(instruction="Q", response="R")
    assert "grade the response on a 5-point scale" in li


def test_template_without_placeholder(tmp_path: Path) -> None:
    bad = tmp_path / "judge.txt"
    bad.write_text("Rate this: {instruction}\nScore: <n>")
    with pytest.raises(HarnessError, match=r"judge.txt: judge prompt lacks placeholder\(s\) \{response\}"):
        load_prompt(str(bad))
    with pytest.raises(HarnessError, match="not a known prompt"):
        load_prompt("no_such_prompt")


def test_verdicts_and_logprob_preference() -> None:
    assert verdict_from_preferences(1.0, 1.2) == "A"
    assert verdict_from_preferences(1.9, 2.0) == "B"
    assert verdict_from_preferences(1.0, 2.0) == "tie"  # the orders disagree
    assert verdict_from_preferences(1.5, 1.0) == "tie"
    assert verdict_from_preferences(None, 1.0) is None
    import math

    comp = Completion("m", logprobs=[{"m": math.log(0.6), "M": math.log(0.2), "x": math.log(0.2)}])
    assert preference_from_completion(comp) == pytest.approx(2 - 0.6 / 0.8)
    assert preference_from_completion(Completion("M", logprobs=[{"x": -0.1}])) == 2.0  # falls back to the text
    assert preference_from_completion(Completion("?", logprobs=[{"x": -0.1}])) is None
