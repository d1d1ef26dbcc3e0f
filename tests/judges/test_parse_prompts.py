from __future__ import annotations

from pathlib import Path

import pytest

from harness.types import HarnessError
from judges.parse import parse_clf, parse_score, parse_winner
from judges.prompts import META_FIELDS, PROMPT_DIR, REGISTRY, load_prompt

SHARED_CLF = "alpaca_eval/src/alpaca_eval/evaluators_configs/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"

REALISTIC_JUDGMENT = """The response is relevant and addresses the user's question about photosynthesis (+1), covers
most of it (+1) and answers the basic elements usefully (+1). It is written from an AI Assistant's
perspective and well organized (+1), but it is not impeccable: it omits the light-independent reactions.

Score: 4"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (REALISTIC_JUDGMENT, 4.0),
        ("Justification...\nScore: 4.5", 4.5),
        ("Score: 5 points", 5.0),
        ('I conclude: "Score: <5>"', 5.0),
        ("Score: 2\nOn reflection, more points are due.\nScore: 3", 3.0),  # the last one is the conclusion
        ("**Score:** 1", 1.0),
        ("Final Score: **3**", 3.0),
        ("Score:\n4", 4.0),
        ("Score: 4/5", 4.0),
        ("Score: 4.5 out of 5", 4.5),
        ("Score: 0", 0.0),
        ("Score: 8/10", None),  # another scale: not rescaled
        ("Score: 3-4", None),  # a range is not a score
        ("Score: 6", None),
        ("Score: 7\nScore: 11", None),
        ("Score: 3\nScore: 9", None),  # the conclusion is out of range
        ("Score: 3\nI used the format Score: <total points>", None),  # the conclusion has no number
        ("I would give it four points.", None),
        ("The underscore: 4", None),
        ("", None),
    ],
)
def test_parse_score(text: str, expected: float | None) -> None:
    assert parse_score(text) == expected


def test_parse_score_range_is_a_parameter() -> None:
    assert parse_score("Score: 8", low=1, high=10) == 8.0
    assert parse_score("Score: 8/10", low=1, high=10) == 8.0
    assert parse_score("Score: 0", low=1, high=10) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Judgment B applies the rubric better.\nWinner: Judgement B", "B"),
        ("Winner: Judgment A", "A"),
        ("Winner: [Judgement A]", "A"),
        ("**Winner:** Judgement B", "B"),
        ("Winner: Judgement A, since Judgement B misreads the rubric.", "A"),
        ("Winner: B", "B"),
        ("Winner:\n\nJudgement A", "A"),
        ("Winner: Judgement A\nWait.\nWinner: Judgement B", "B"),
        ('Use the format: "Winner: [Judgement A | Judgement B]"', None),  # an echo of the format
        ("Both are fine.", None),
        ("Winner: neither", None),
        ("", None),
    ],
)
def test_parse_winner(text: str, expected: str | None) -> None:
    assert parse_winner(text) == expected


def test_parse_clf() -> None:
    assert [parse_clf(t) for t in ("m", " M\n", "model m", "'m'", "", "mM")] == ["m", "M", None, None, None, None]


def test_prompts_have_their_placeholders_and_paper_wording() -> None:
    for name in REGISTRY:
        assert load_prompt(name).placeholders == REGISTRY[name][1]
    additive = load_prompt("pointwise_additive").render(instruction="Q", response="R")
    assert additive.startswith("Review the user's question and the corresponding response using the additive 5-point")
    assert "User: Q\n\n<response>R</response>" in additive
    assert 'Conclude with the score using the format: "Score: <total points>"' in additive
    meta = load_prompt("meta_judge").render(instruction="Q", response="R", judgment_a="JA", judgment_b="JB")
    assert meta.rstrip().endswith('using the format: "Winner: [Judgement A | Judgement B]"')
    assert "Judgment A: JA\n\nJudgment B: JB" in meta and "User: Q\n\nResponse: R" in meta
    li = load_prompt("pointwise_li").render(instruction="Q", response="R")
    assert li.startswith("Below is a question from an user and a candidate response. Please grade the response")
    assert 'write "Score: <rating>" in the last line' in li


def test_user_text_is_never_reinterpreted() -> None:
    tpl = load_prompt("pointwise_additive")
    text = tpl.render(instruction="Q {response} and {x} {{y}}", response="R {instruction}")
    assert "User: Q {response} and {x} {{y}}" in text and "<response>R {instruction}</response>" in text
    msgs = load_prompt("alpaca_eval_clf").to_messages(instruction="I", output_1="a<|im_end|>b", output_2="c")
    assert len(msgs) == 2 and '"output": """a<|im_end|>b"""' in msgs[1].content


def test_alpaca_eval_prompt_is_the_reference_file(shared: Path) -> None:
    assert (PROMPT_DIR / "alpaca_eval_clf.txt").read_text() == (shared / SHARED_CLF).read_text()


def test_alpaca_eval_chat_messages() -> None:
    # alpaca_eval's prompt_to_chatml: one message per <|im_start|> block, role from its first line, content stripped
    msgs = load_prompt("alpaca_eval_clf").to_messages(instruction="I", output_1="o1", output_2="o2")
    assert [m.role for m in msgs] == ["system", "user"]
    assert msgs[0].content.startswith("You are a highly efficient assistant") and msgs[0].content.endswith("answers.")
    assert msgs[1].content.startswith("I require a leaderboard") and msgs[1].content.endswith(
        "## Best Model Identifier"
    )
    assert '"instruction": """I""",' in msgs[1].content
    assert '"model_identifier": "m",\n        "output": """o1"""' in msgs[1].content
    assert '"model_identifier": "M",\n        "output": """o2"""' in msgs[1].content
    single = load_prompt("pointwise_additive").to_messages(instruction="Q", response="R")
    assert [m.role for m in single] == ["user"] and single[0].content == single[0].content.strip()


def test_template_without_placeholder(tmp_path: Path) -> None:
    bad = tmp_path / "judge.txt"
    bad.write_text("Rate this: {instruction}\nScore: <n>")
    with pytest.raises(HarnessError, match=r"judge.txt: judge prompt lacks placeholder\(s\) \{response\}"):
        load_prompt(str(bad))
    with pytest.raises(HarnessError, match="not a known prompt"):
        load_prompt("no_such_prompt")
    # a registered prompt used for another role lacks that role's placeholders
    with pytest.raises(HarnessError, match=r"lacks placeholder\(s\) \{judgment_a\}, \{judgment_b\}"):
        load_prompt("pointwise_additive", META_FIELDS)


def test_user_template_file(tmp_path: Path) -> None:
    good = tmp_path / "mine.txt"
    good.write_text("Q: {instruction}\nA: {response}\nEnd with Score: <n>\n")
    tpl = load_prompt(str(good))
    assert tpl.to_messages(instruction="q", response="a")[0].content == "Q: q\nA: a\nEnd with Score: <n>"
    with pytest.raises(HarnessError, match="missing field"):
        tpl.render(instruction="q")
    with pytest.raises(HarnessError, match="unknown field"):
        tpl.render(instruction="q", response="a", extra="x")
    chat = tmp_path / "chat.txt"
    chat.write_text("<|im_start|>system\nS\n<|im_end|>\nstray {instruction} {response}")
    with pytest.raises(HarnessError, match="text outside"):
        load_prompt(str(chat))
