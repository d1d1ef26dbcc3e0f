"""The embedded task world: held-out partition, bounded drawing, answers, reference judgments."""

import collections
import random
from pathlib import Path
from typing import Any

import pytest

from benchmarks.core import world as tw
from harness.types import HarnessError


def test_eval_and_train_partitions_are_disjoint_and_balanced() -> None:
    ev = tw.tasks(300, seed=10_000, split="eval")
    tr = tw.tasks(2000, seed=1, split="train")
    assert len({t.prompt for t in ev}) == 300 and len({t.prompt for t in tr}) == 2000
    assert not {t.prompt for t in ev} & {t.prompt for t in tr}
    assert all(tw.is_eval_prompt(t.prompt) for t in ev) and not any(tw.is_eval_prompt(t.prompt) for t in tr)
    counts = collections.Counter(t.kind for t in ev)
    assert set(counts) == {f.kind for f in tw.FAMILIES} and max(counts.values()) - min(counts.values()) <= 1


def test_an_exhausted_family_raises_instead_of_looping() -> None:
    # "half" has 2 phrasings x 248 numbers = 496 prompts, about 62 of them in the eval partition
    with pytest.raises(HarnessError, match="family half exhausted"):
        tw.tasks(500, seed=0, split="eval", kinds=("half",))


def test_parse_task_recovers_every_family_answer() -> None:
    for t in tw.tasks(700, seed=3):
        assert tw.parse_task(t.prompt) == t
    assert tw.parse_task("What is the capital of France?") is None
    assert tw.parse_task("What is half of 7?") is None  # no integer half


@pytest.mark.parametrize(
    ("answer", "response", "correct"),
    [
        ("22", "The answer is 22.", True),
        ("22", "18 + 4 is not 21; the answer is 22.", True),  # the final number counts
        ("22", "The answer is 22, no, 23.", False),
        ("22", "What is 18 + 4? I think 18.", False),
        ("table", "The answer is table.", True),
        ("table", "The answer is Table.", True),
        ("table", "table or chair", False),
        ("5", "I like turtles.", False),
    ],
)
def test_is_correct_reads_the_final_answer(answer: str, response: str, correct: bool) -> None:
    assert tw.is_correct(answer, response) is correct


def test_reference_judgments_check_forward_compare_digit_by_digit_and_score_by_quality() -> None:
    prompt = "What number plus 7 equals 31?"
    assert tw.reference_judgment(prompt, "The answer is 24.") == (
        "The response answers 24. Check: 24 + 7 = 31; the question says 31. Compare: 3 3 same, 1 1 same. "
        "The answer is correct, relevant and concise.\nScore: 5",
        5,
    )
    assert tw.reference_judgment(prompt, "The answer is 25.") == (
        "The response answers 25. Check: 25 + 7 = 32; the question says 31. Compare: 3 3 same, 2 1 different. "
        "The answer is wrong.\nScore: 2",
        2,
    )
    padded = "Let me think about this question step by step. What number plus 7 equals 31? After some thought, the answer is 24."
    assert tw.reference_judgment(prompt, padded)[1] == 4
    assert tw.reference_judgment(prompt, "I like turtles.") == (
        "The response does not answer the question.\nScore: 0",
        0,
    )
    assert tw.reference_judgment("Half of 50 is what number?", "The answer is 25.")[0].startswith(
        "The response answers 25. Check: 2 times 25 is 50; the question says 50. Compare: 5 5 same, 0 0 same."
    )
    # forward checks set the candidate beside the computed result
    assert tw.reference_judgment("What is 44 + 3?", "The answer is 57.")[0] == (
        "The response answers 57. Check: 44 + 3 = 47; the response says 57. Compare: 4 5 different, 7 7 same. "
        "The answer is wrong.\nScore: 2"
    )
    assert tw.reference_judgment("What is 44 + 3?", "The answer is 47.")[0].startswith(
        "The response answers 47. Check: 44 + 3 = 47; the response says 47. Compare: 4 4 same, 7 7 same. "
        "The answer is correct"
    )
    # numbers of different lengths, words and a non-canonical candidate are compared whole
    assert (
        "Compare: 10 and 9: different. The answer is wrong."
        in tw.reference_judgment("What is 8 + 2?", "The answer is 9.")[0]
    )
    assert (
        "Compare: sun and sky: different."
        in tw.reference_judgment("What is the first word of: sun sky sea?", "The answer is sky.")[0]
    )
    assert (
        "Check: the answer is 24; the response says 024. Compare: 24 and 024: different."
        in tw.reference_judgment(prompt, "The answer is 024.")[0]
    )
    assert tw.reference_judgment("Tell me a joke.", "The answer is 4.") is None


def test_a_judgment_compares_different_exactly_when_the_answer_is_wrong() -> None:
    rng = random.Random(0)
    for t in tw.tasks(700, seed=1):
        for response in (tw.good_response(t), tw.padded_response(t), f"The answer is {tw.wrong_answer(t, rng)}."):
            judgment, score = tw.reference_judgment(t.prompt, response) or ("", -1)
            compared = judgment.split("Compare:")[1].split("The answer is")[0]
            assert ("different" in compared) == (score == 2) == (not tw.is_correct(t.answer, response)), judgment


def test_a_word_question_holds_the_answer_s_tokens(tiny_model: Path) -> None:
    """Copying is learnable only if the answer's word is the same token(s) in the question: a quote before the
    first word (the old format) made the byte-level tokenizer split "'said" into "'s" + "aid"."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    word_tasks = tw.tasks(60, seed=3, kinds=("word",))
    assert {t.prompt.split()[3] for t in word_tasks} == {"first", "second", "third"}
    for t in word_tasks:
        prompt = tok(t.prompt, add_special_tokens=False)["input_ids"]
        answer = tok(tw.good_response(t), add_special_tokens=False)["input_ids"]
        word = tok(f" {t.answer}", add_special_tokens=False)["input_ids"]
        assert _contains(answer, word) and _contains(prompt, word), t.prompt


def _contains(seq: list[int], sub: list[int]) -> bool:
    return any(seq[i : i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


def test_ranked_rows_rank_by_known_quality() -> None:
    for row in tw.ranked_rows(20, seed=5, split="eval"):
        scores = [tw.reference_judgment(str(row["prompt"]), r)[1] for r in row["responses"]]  # type: ignore[index]
        by_rank = [s for _, s in sorted(zip(row["ranks"], scores, strict=True))]  # type: ignore[arg-type]
        assert by_rank == [5, 4, 2, 0]


@pytest.mark.parametrize("corpus", [tw.pretraining_corpus, tw.review_corpus])
def test_pretraining_text_has_no_eval_question_and_no_score(corpus: Any) -> None:
    text = "\n".join(corpus(400, seed=0))
    assert "Score:" not in text and "<|" not in text
    for q in tw.tasks(300, seed=10_000, split="eval"):
        assert q.prompt not in text


def test_review_corpus_is_mostly_reviews_right_or_wrong_at_even_odds() -> None:
    docs = tw.review_corpus(300, seed=0)
    reviewed = [d for d in docs if d.startswith("Q: ") and " Review: " in d]
    assert 0.8 < len(reviewed) / len(docs) < 1.0  # review_share 0.9; the rest is the first phase's mix
    # each review's verdict follows its comparison: "Compare: ... . The answer is <verdict>."
    verdicts = [c.split(" The answer is ", 1)[1].split(".")[0] for d in reviewed for c in d.split("Compare: ")[1:]]
    assert set(verdicts) <= {"wrong", "correct, relevant and concise"}
    wrong = sum(v == "wrong" for v in verdicts) / len(verdicts)
    assert 0.4 < wrong < 0.6  # attempts right or wrong at even odds


def test_copy_error_meta_judgment_names_the_miscopied_answer() -> None:
    # "What is 35 - 4?" answered 31: the wrong judgment is a consistent judgment of the answer 30 (by hand: the
    # reference judgment of "The answer is 30."), and the meta-judgment names what it copied and what was said
    prompt, said, other = "What is 35 - 4?", "The answer is 31.", "The answer is 30."
    got = tw.reference_meta_judgment_copy(prompt, said, other, seed=0)
    assert got is not None
    (a, b), text = got
    right = "The response answers 31. Check: 35 - 4 = 31; the response says 31. Compare: 3 3 same, 1 1 same. " \
            "The answer is correct, relevant and concise.\nScore: 5"  # fmt: skip
    wrong = "The response answers 30. Check: 35 - 4 = 31; the response says 30. Compare: 3 3 same, 1 0 different. " \
            "The answer is wrong.\nScore: 2"  # fmt: skip
    assert {a, b} == {right, wrong}
    winner = "A" if a == right else "B"
    loser = "B" if winner == "A" else "A"
    assert (
        text
        == f"Judgment {loser} says the response answers 30, but the response answers 31.\nWinner: Judgement {winner}"
    )
    # an off-topic response: the wrong judgment claims an answer, the right one says there is none
    (_, _), text = tw.reference_meta_judgment_copy(prompt, "I like turtles.", said, seed=1)  # type: ignore[misc]
    assert text.startswith("Judgment ") and "says the response answers 31, but the response gives no answer." in text
    # the same answer twice, or a prompt outside the task world: no example
    assert tw.reference_meta_judgment_copy(prompt, said, "I think the answer is 31.", seed=0) is None
    assert tw.reference_meta_judgment_copy("Tell me a joke.", said, other, seed=0) is None
    # both orders occur over seeds
    orders = {tw.reference_meta_judgment_copy(prompt, said, other, seed=s)[0][0] == right for s in range(20)}  # type: ignore[index]
    assert orders == {True, False}


def test_check_meta_judgment_compares_the_claimed_answers_step_by_step() -> None:
    # "What is 35 - 4?" answered 31 against a judgment that copied 30: by hand, the response's answer first, then
    # each judgment's claim beside it digit by digit, then the winner (the judgment that claims 31)
    prompt, said, other = "What is 35 - 4?", "The answer is 31.", "The answer is 30."
    got = tw.reference_meta_judgment_check(prompt, said, other, seed=0)
    assert got is not None
    (a, b), text = got
    assert {a, b} == {tw.reference_judgment(prompt, said)[0], tw.reference_judgment(prompt, other)[0]}  # type: ignore[index]
    right_first = a.startswith("The response answers 31.")
    steps = {True: "A claims 31: 3 3 same, 1 1 same. B claims 30: 3 3 same, 1 0 different.",
             False: "A claims 30: 3 3 same, 1 0 different. B claims 31: 3 3 same, 1 1 same."}  # fmt: skip
    assert text == f"Answer in the response: 31. {steps[right_first]}\nWinner: Judgement {'A' if right_first else 'B'}"
    # words are set beside each other whole; an off-topic response answers "none"
    word = "What is the second word of: handle does keyword?"
    (a, _), text = tw.reference_meta_judgment_check(word, "The answer is handle.", "The answer is does.", seed=3)  # type: ignore[misc]
    claims = ("handle: handle and handle: same", "does: handle and does: different")
    first, second = claims if a.startswith("The response answers handle.") else claims[::-1]
    assert text.startswith(f"Answer in the response: handle. A claims {first}. B claims {second}.")
    (_, _), text = tw.reference_meta_judgment_check(prompt, "I like turtles.", said, seed=1)  # type: ignore[misc]
    assert text.startswith("Answer in the response: none. ") and "claims 31: none and 31: different." in text
    # the same answer twice, or a prompt outside the task world: no example
    assert tw.reference_meta_judgment_check(prompt, said, "I think the answer is 31.", seed=0) is None
    assert tw.reference_meta_judgment_check("Tell me a joke.", said, other, seed=0) is None


def test_a_miscopied_judgment_checks_the_first_other_answer() -> None:
    # by hand: "What is 35 - 4?" answered 31; the others in order are the same answer padded (skipped: it answers
    # 31 too), then 30, whose reference judgment the miscopying judge writes
    prompt, said = "What is 35 - 4?", "The answer is 31."
    others = ["I think the answer is 31.", "The answer is 30.", "I like turtles."]
    got = tw.miscopied_judgment(prompt, said, others)
    assert got == (
        "The response answers 30. Check: 35 - 4 = 31; the response says 30. Compare: 3 3 same, 1 0 different. "
        "The answer is wrong.\nScore: 2",
        2,
    )
    # an off-topic response: the judge claims the first other answer (31) and calls it correct
    assert tw.miscopied_judgment(prompt, "I like turtles.", [said])[1] == 5  # type: ignore[index]
    assert tw.miscopied_judgment(prompt, said, ["I think the answer is 31."]) is None
    assert tw.miscopied_judgment("Tell me a joke.", said, others) is None
