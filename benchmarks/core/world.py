"""The embedded task world: small tasks whose answer quality is computable, designed to be learnable.

Each prompt has an exact reference answer, so that (a) ranked "human-like" data can be built without humans
(correct and concise > correct but padded > wrong > off-topic), (b) an actor's answers can be scored exactly
and (c) a rule-written reference judgment can be given for any (prompt, response). Nothing is downloaded.

Design (issue 11: a tiny model must be able to learn the world in minutes on 2 CPU cores, and keep improving):

- Families of graded difficulty (:data:`FAMILIES`): comparisons and successors (easy), picking the n-th word
  of a short list over a ~1,000-word vocabulary taken from ``pydoc_data`` (easy/medium: copying generalises to
  unseen words), one-digit addition and subtraction on two-digit numbers (medium), and *inverse* problems
  ("What number plus 7 equals 31?", "What is half of 48?") that are hard to solve but easy to check: the
  reference judgment checks a candidate forward (``24 + 7 = 31``). That checking-is-easier-than-solving gap is
  what lets a model judge its own answers better than it writes them, the premise of self-rewarding training.
- Numbers are written digit by digit by the tiny model's tokenizer (``training.tiny``), so arithmetic is
  learnable.
- Held-out evaluation prompts are a fixed partition of the prompt space (a hash bucket, :func:`is_eval_prompt`):
  training, EFT and self-instruction prompts are drawn from the other buckets, so they can never coincide.
- :func:`tasks` raises instead of looping when a family's prompt space is exhausted.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from harness.types import HarnessError

OFF_TOPIC = [
    "I like turtles.",
    "The weather is nice today.",
    "Please ask me something else.",
    "Python is a snake.",
    "Let us talk about music instead.",
]
ORDINALS = ["first", "second", "third"]
EVAL_BUCKETS = 8  # one prompt in EVAL_BUCKETS belongs to the held-out evaluation partition


@cache
def vocabulary() -> tuple[str, ...]:
    """About a thousand lower-case English words from ``pydoc_data.topics`` (ships with CPython)."""
    from pydoc_data.topics import topics

    counts: dict[str, int] = {}
    for key in sorted(topics):
        for w in re.findall(r"\b[a-z]{3,8}\b", topics[key]):
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return tuple(sorted(ranked[:1000]))


@dataclass(frozen=True)
class Task:
    prompt: str
    answer: str
    kind: str


@dataclass(frozen=True)
class Family:
    """A task family: a generator of tasks, a difficulty label and how a candidate answer is checked."""

    kind: str
    difficulty: str
    make: Callable[[random.Random], Task]


def _larger(rng: random.Random) -> Task:
    a, b = rng.sample(range(1, 100), 2)
    return Task(f"Which is larger, {a} or {b}?", str(max(a, b)), "larger")


def _next(rng: random.Random) -> Task:
    a = rng.randint(1, 998)
    return Task(f"What number comes after {a}?", str(a + 1), "next")


def _word(rng: random.Random) -> Task:
    words = rng.sample(vocabulary(), 3)
    i = rng.randrange(3)
    # no quote before the first word: the byte-level tokenizer would split "'said" into "'s" + "aid", and the
    # answer's " said" would be a different token from the prompt's word (copying could not be learned)
    return Task(f"What is the {ORDINALS[i]} word of: {' '.join(words)}?", words[i], "word")


def _add(rng: random.Random) -> Task:
    a, b = rng.randint(10, 99), rng.randint(2, 9)
    return Task(f"What is {a} + {b}?", str(a + b), "add")


def _sub(rng: random.Random) -> Task:
    a, b = rng.randint(12, 99), rng.randint(2, 9)
    return Task(f"What is {a} - {b}?", str(a - b), "sub")


def _missing(rng: random.Random) -> Task:
    x, b = rng.randint(2, 89), rng.randint(2, 9)
    return Task(f"What number plus {b} equals {x + b}?", str(x), "missing")


def _half(rng: random.Random) -> Task:
    x = rng.randint(2, 249)
    if rng.random() < 0.5:
        return Task(f"What is half of {2 * x}?", str(x), "half")
    return Task(f"Half of {2 * x} is what number?", str(x), "half")


FAMILIES: tuple[Family, ...] = (
    Family("larger", "easy", _larger),
    Family("next", "easy", _next),
    Family("word", "medium", _word),
    Family("add", "medium", _add),
    Family("sub", "medium", _sub),
    Family("missing", "hard (inverse)", _missing),
    Family("half", "hard (inverse)", _half),
)
_PARSERS: list[tuple[str, re.Pattern[str]]] = [
    ("larger", re.compile(r"^Which is larger, (\d+) or (\d+)\?$")),
    ("next", re.compile(r"^What number comes after (\d+)\?$")),
    ("word", re.compile(r"^What is the (first|second|third) word of: ([a-z]+) ([a-z]+) ([a-z]+)\?$")),
    ("add", re.compile(r"^What is (\d+) \+ (\d+)\?$")),
    ("sub", re.compile(r"^What is (\d+) - (\d+)\?$")),
    ("missing", re.compile(r"^What number plus (\d+) equals (\d+)\?$")),
    ("half", re.compile(r"^What is half of (\d+)\?$")),
    ("half", re.compile(r"^Half of (\d+) is what number\?$")),
]


_ANSWERS: dict[str, Callable[[list[int]], int | None]] = {
    "larger": max,
    "next": lambda n: n[0] + 1,
    "add": lambda n: n[0] + n[1],
    "sub": lambda n: n[0] - n[1],
    "missing": lambda n: n[1] - n[0],
    "half": lambda n: n[0] // 2 if n[0] % 2 == 0 else None,
}


def parse_task(prompt: str) -> Task | None:
    """The task a task-world prompt states (its reference answer computed from the prompt), or None."""
    for kind, pattern in _PARSERS:
        m = pattern.match(prompt.strip())
        if m is None:
            continue
        g = m.groups()
        if kind == "word":
            return Task(prompt, g[1 + ORDINALS.index(g[0])], kind)
        n = [int(x) for x in g]
        answer = _ANSWERS[kind](n)
        return None if answer is None else Task(prompt, str(answer), kind)
    return None


def is_eval_prompt(prompt: str) -> bool:
    """True for prompts of the held-out evaluation partition (a fixed hash bucket of the prompt text)."""
    return hashlib.blake2b(prompt.encode(), digest_size=8).digest()[0] % EVAL_BUCKETS == 0


def tasks(n: int, seed: int, *, split: str = "train", kinds: tuple[str, ...] | None = None) -> list[Task]:
    """``n`` distinct tasks, families drawn uniformly, from the ``train`` or the held-out ``eval`` partition.

    Raises HarnessError when the partition runs out of distinct prompts (instead of looping forever).
    """
    if split not in ("train", "eval"):
        raise HarnessError(f"taskworld split: expected train or eval, got {split!r}")
    fams = [f for f in FAMILIES if kinds is None or f.kind in kinds]
    rng = random.Random(f"taskworld:{seed}:{split}")
    seen: set[str] = set()
    out: list[Task] = []
    for i in range(n):
        fam = fams[i % len(fams)]  # round robin: the families are balanced
        for _ in range(20_000):  # each family: draw until a new prompt of the requested partition
            t = fam.make(rng)
            if t.prompt not in seen and is_eval_prompt(t.prompt) == (split == "eval"):
                break
        else:
            raise HarnessError(f"taskworld: cannot draw {n} distinct {split} prompts (family {fam.kind} exhausted)")
        seen.add(t.prompt)
        out.append(t)
    rng.shuffle(out)
    return out


def good_response(task: Task) -> str:
    return f"The answer is {task.answer}."


def padded_response(task: Task) -> str:
    return (
        f"Let me think about this question step by step. {task.prompt} After some thought, the answer is {task.answer}."
    )


def wrong_answer(task: Task, rng: random.Random) -> str:
    if task.kind == "word":
        words = task.prompt.rsplit(":", 1)[1].rstrip("?").split()
        others = [w for w in words if w != task.answer]
        return rng.choice(others)
    value = int(task.answer)
    return str(max(0, value + rng.choice([-10, -2, -1, 1, 2, 10])))


def ranked_responses(task: Task, rng: random.Random, k: int = 4) -> tuple[list[str], list[int]]:
    """k responses of known quality and their ranks (0 = best): concise-correct, padded-correct, wrong, off-topic."""
    pool = [
        (3, good_response(task)),
        (2, padded_response(task)),
        (1, f"The answer is {wrong_answer(task, rng)}."),
        (0, rng.choice(OFF_TOPIC)),
    ]
    chosen = rng.sample(pool, k=min(k, len(pool)))
    order = sorted(range(len(chosen)), key=lambda i: -chosen[i][0])
    ranks = [0] * len(chosen)
    for r, i in enumerate(order):
        ranks[i] = r
    return [t for _, t in chosen], ranks


_NUM = re.compile(r"-?\d+")
_WORD = re.compile(r"[A-Za-z]+")


def final_answer(response: str, numeric: bool) -> str | None:
    """The response's final answer: its last number (numeric tasks) or its last word, lower-cased."""
    found = (_NUM if numeric else _WORD).findall(response)
    return found[-1].lower() if found else None


def is_correct(task_answer: str, response: str) -> bool:
    """Correct = the response's final answer (last number, or last word for word tasks) is the reference answer.

    The *final* answer, not any occurrence: a response that restates the question's numbers and then gives a
    wrong result is wrong.
    """
    return final_answer(response, task_answer.lstrip("-").isdigit()) == task_answer.lower()


def ranked_rows(n: int, seed: int, k: int = 4, split: str = "train") -> list[dict[str, object]]:
    """Rows of the plain ranked JSONL format: {id, prompt, responses, ranks}."""
    rng = random.Random(seed + 1)
    rows: list[dict[str, object]] = []
    for i, t in enumerate(tasks(n, seed, split=split)):
        responses, ranks = ranked_responses(t, rng, k)
        rows.append({"id": f"tw-{split}-{seed}-{i}", "prompt": t.prompt, "responses": responses, "ranks": ranks})
    return rows


def accuracy(pairs: list[tuple[str, str]]) -> float | None:
    """Share of (reference answer, response) pairs whose response is correct (see :func:`is_correct`)."""
    return None if not pairs else sum(is_correct(a, r) for a, r in pairs) / len(pairs)


_SCORE_BY_QUALITY = {"concise": 5, "padded": 4, "wrong": 2, "off_topic": 0}


def _check(task: Task, candidate: str | None) -> str:
    """The reference judgment's check of a candidate answer: a computation, the number it must match, then a
    comparison digit by digit.

    Inverse problems are checked forward (``24 + 7 = 31; the question says 31``); the others compute the
    reference result and set the candidate beside it (``44 + 3 = 47; the response says 57``). Why digit by digit:
    a tiny judge learns to copy both numbers but not to tell whether two multi-digit numbers are equal (measured
    at chance after 1,500 review-heavy steps with the numbers side by side, ``54; the question says 52: same``);
    two digits next to each other it compares reliably (``5 5 same, 4 2 different``: the built base flags 120 of 120
    wrong and 1 of 120 right attempts at held-out numeric questions; word questions stay at chance, issue 11's
    note).
    """
    n = [int(x) for x in _NUM.findall(task.prompt)]
    canonical = candidate is not None and candidate.isdigit() and candidate == str(int(candidate))
    if task.kind == "missing" and canonical:
        assert candidate is not None
        calc, value, said, target = (
            f"{candidate} + {n[0]} = {int(candidate) + n[0]}",
            str(int(candidate) + n[0]),
            "the question says",
            str(n[1]),
        )
    elif task.kind == "half" and canonical:
        assert candidate is not None
        calc, value, said, target = (
            f"2 times {candidate} is {2 * int(candidate)}",
            str(2 * int(candidate)),
            "the question says",
            str(n[0]),
        )
    else:
        forward = {
            "add": lambda: f"{n[0]} + {n[1]} = {task.answer}",
            "sub": lambda: f"{n[0]} - {n[1]} = {task.answer}",
            "larger": lambda: f"the larger number is {task.answer}",
            "next": lambda: f"after {n[0]} comes {task.answer}",
            "word": lambda: f"the word is {task.answer}",
        }
        calc = forward[task.kind]() if task.kind in forward else f"the answer is {task.answer}"
        value, said, target = task.answer, "the response says", str(candidate)
    if value.isdigit() and target.isdigit() and len(value) == len(target):
        compare = ", ".join(f"{a} {b} {'same' if a == b else 'different'}" for a, b in zip(value, target, strict=True))
    else:
        compare = f"{value} and {target}: {'same' if value == target else 'different'}"
    return f"Check: {calc}; {said} {target}. Compare: {compare}."


def response_quality(task: Task, response: str) -> str:
    """concise (correct, one sentence) | padded (correct, with extra text) | wrong | off_topic (no answer)."""
    if "answer is" not in response:
        return "off_topic"
    if not is_correct(task.answer, response):
        return "wrong"
    return "concise" if response.strip() == good_response(task) else "padded"


def reference_judgment(prompt: str, response: str) -> tuple[str, int] | None:
    """The judgment an ideal judge writes for a task-world (prompt, response), in the additive prompt's format.

    It states a check of the response's answer (computed forward for inverse problems), then the verdict, then
    ``Score: N`` with N = 5 concise and correct, 4 correct but padded, 2 wrong, 0 off-topic. None when
    ``prompt`` is not a task-world prompt.
    """
    task = parse_task(prompt)
    if task is None:
        return None
    quality = response_quality(task, response)
    score = _SCORE_BY_QUALITY[quality]
    if quality == "off_topic":
        return "The response does not answer the question.\nScore: 0", score
    candidate = final_answer(response, task.answer.lstrip("-").isdigit())
    check = _check(task, candidate)
    verdict = {
        "concise": "correct, relevant and concise",
        "padded": "correct but padded with extra text",
        "wrong": "wrong",
    }[quality]
    return f"The response answers {candidate}. {check} The answer is {verdict}.\nScore: {score}", score


def reference_meta_judgment(prompt: str, response: str, other_score: int, seed: int) -> tuple[list[str], str] | None:
    """Two judgments of a response, the reference one and one that gives ``other_score`` with a flipped verdict,
    in a seeded order, and the meta-judgment an ideal meta-judge writes (Meta-Rewarding Fig. 2 format).

    Returns ([judgment A, judgment B], meta-judgment text), or None for a non-task-world prompt.
    """
    ref = reference_judgment(prompt, response)
    if ref is None:
        return None
    right, score = ref
    body = right.rsplit("\n", 1)[0]
    wrong = f"{body}\nScore: {other_score}"
    first_is_right = random.Random(seed).random() < 0.5
    pair = [right, wrong] if first_is_right else [wrong, right]
    winner = "A" if first_is_right else "B"
    text = (
        f"Judgment {winner} gives {score} points, which matches its check; the other gives {other_score}.\n"
        f"Winner: Judgement {winner}"
    )
    return pair, text


def nearer_to_reference(a: float, b: float, reference: float) -> int | None:
    """Which of two judgment scores lies nearer the reference score: 1 (``a``), 2 (``b``), None (equally near).
    The answer key's verdict between two judgments, shared by the meta-judge oracle
    (``training.stage_work.answer_key_verdicts``) and ``bench/meta_judge_quality.py``'s pair scoring."""
    da, db = abs(a - reference), abs(b - reference)
    return 1 if da < db else 2 if db < da else None


def _answer_of(task: Task, response: str) -> str | None:
    """What a response answers, as a judgment claims it: its final answer, or None for an off-topic response."""
    return (
        None
        if response_quality(task, response) == "off_topic"
        else final_answer(response, task.answer.lstrip("-").isdigit())
    )


def _copy_pair(
    prompt: str, response: str, other_response: str, seed: int
) -> tuple[list[str], bool, str | None, str | None] | None:
    """The reference judgments of ``response`` (right) and of ``other_response`` (the miscopy), in a seeded order:
    (pair, whether the right one is first, the response's answer, the miscopied answer). None for a non-task-world
    prompt or two responses with the same answer (or, like each other, none)."""
    task = parse_task(prompt)
    right, wrong = reference_judgment(prompt, response), reference_judgment(prompt, other_response)
    if task is None or right is None or wrong is None:
        return None
    said, copied = _answer_of(task, response), _answer_of(task, other_response)
    if said == copied:
        return None
    first_is_right = random.Random(seed).random() < 0.5
    pair = [right[0], wrong[0]] if first_is_right else [wrong[0], right[0]]
    return pair, first_is_right, said, copied


def reference_meta_judgment_copy(
    prompt: str, response: str, other_response: str, seed: int
) -> tuple[list[str], str] | None:
    """Two judgments of ``response``: the reference one, and the reference judgment of ``other_response`` (a
    consistent check of another answer, the error a tiny judge makes when it miscopies the answer), in a seeded
    order, with the meta-judgment an ideal meta-judge writes: it names the answer the wrong judgment copied.

    None for a non-task-world prompt or an ``other_response`` with the same answer (or, like it, none)."""
    got = _copy_pair(prompt, response, other_response, seed)
    if got is None:
        return None
    pair, first_is_right, said, copied = got
    winner, loser = ("A", "B") if first_is_right else ("B", "A")
    claim = "does not answer" if copied is None else f"answers {copied}"
    truth = "gives no answer" if said is None else f"answers {said}"
    text = f"Judgment {loser} says the response {claim}, but the response {truth}.\nWinner: Judgement {winner}"
    return pair, text


def miscopied_judgment(prompt: str, response: str, others: Sequence[str]) -> tuple[str, int] | None:
    """The judgment of ``response`` by a judge that miscopies its answer: the reference judgment of the first of
    ``others`` whose answer differs from the response's (a consistent check and score of the wrong answer), as
    :func:`reference_judgment` returns it. None for a non-task-world prompt or when no other answer differs."""
    for other in others:
        if other != response and _copy_pair(prompt, response, other, seed=0) is not None:
            return reference_judgment(prompt, other)
    return None


def _same_or_not(a: str, b: str) -> str:
    """``a`` beside ``b``: digit by digit when both are numbers of one length (the judge's own compare), else whole."""
    if a.isdigit() and b.isdigit() and len(a) == len(b):
        return ", ".join(f"{x} {y} {'same' if x == y else 'different'}" for x, y in zip(a, b, strict=True))
    return f"{a} and {b}: {'same' if a == b else 'different'}"


def reference_meta_judgment_check(
    prompt: str, response: str, other_response: str, seed: int
) -> tuple[list[str], str] | None:
    """The pair of :func:`reference_meta_judgment_copy` (the reference judgment of ``response`` and a consistent
    judgment of ``other_response``, in a seeded order), with a meta-judgment that decides step by step: it copies
    the response's answer, then each judgment's claimed answer, sets each beside the response's as the judge's
    compare does, and only then names the winner (``Answer in the response: 31. A claims 30: 3 3 same, 1 0
    different. B claims 31: 3 3 same, 1 1 same.``). Why: a one-token verdict first is a decision the tiny
    model must make with no steps, and it stayed at chance (issue 34's note); the steps are each a copy or a
    comparison of two adjacent items, which the judge role learns. An off-topic response answers "none".

    None where :func:`reference_meta_judgment_copy` is None."""
    got = _copy_pair(prompt, response, other_response, seed)
    if got is None:
        return None
    pair, first_is_right, said, copied = got
    said_text, copied_text = said or "none", copied or "none"
    claims = [said_text, copied_text] if first_is_right else [copied_text, said_text]
    # worded unlike a judgment ("The response answers ..."): with the judge's words, the judge role picked up the
    # meta-judge's "nothing" for word answers
    steps = " ".join(f"{x} claims {c}: {_same_or_not(said_text, c)}." for x, c in zip("AB", claims, strict=True))
    return pair, f"Answer in the response: {said_text}. {steps}\nWinner: Judgement {'A' if first_is_right else 'B'}"


def pretraining_corpus(n_docs: int, seed: int) -> list[str]:
    """Plain text for pretraining the tiny base model: facts of the world (sums, successors, comparisons,
    doublings, word lists), questions with answers, lists of exercises, and corrected exercises (an attempted
    answer and a review that checks it, as the web has them), never in the chat format and never a score.

    Only training-partition questions appear. Inverse questions are rare here (the base has to learn them
    from instruction tuning and self-training); the forward facts that check them are plentiful.
    """
    rng = random.Random(f"corpus:{seed}")
    words = vocabulary()
    docs = []
    for _ in range(n_docs):
        if rng.random() < 0.12:  # lists of exercises, as web text has them: one question per line, no answers
            docs.append(_exercise_list(rng))
            continue
        lines = []
        for _ in range(rng.randint(4, 8)):
            r = rng.random()
            a, b = rng.randint(1, 99), rng.randint(1, 9)
            if r < 0.15:
                lines.append(f"{a} + {b} = {a + b}.")
            elif r < 0.23:
                lines.append(f"{a + b} - {b} = {a}.")
            elif r < 0.31:
                x = rng.randint(1, 249)
                lines.append(f"2 times {x} is {2 * x}.")
            elif r < 0.39:
                x = rng.randint(1, 998)
                lines.append(f"After {x} comes {x + 1}.")
            elif r < 0.47:
                x, y = rng.sample(range(1, 100), 2)
                lines.append(f"{max(x, y)} is larger than {min(x, y)}.")
            elif r < 0.57:
                ws = rng.sample(words, 3)
                i = rng.randrange(3)
                lines.append(f"In the list {' '.join(ws)}, the {ORDINALS[i]} word is {ws[i]}.")
            elif r < 0.6:
                lines.append(" ".join(rng.sample(words, rng.randint(5, 10))).capitalize() + ".")
            elif r < 0.8:  # a question, an attempted answer and its review, as corrected exercises have them
                lines += _corrected_exercise(rng)
            else:  # questions with answers, as forums and dialogues have them
                fam = rng.choice(FAMILIES[:5] if rng.random() < 0.9 else FAMILIES)
                t = fam.make(rng)
                if not is_eval_prompt(t.prompt):
                    style = rng.random()
                    if style < 0.4:
                        lines.append(f"Question: {t.prompt} Answer: {t.answer}.")
                    elif style < 0.7:
                        lines.append(f"Q: {t.prompt} A: The answer is {t.answer}.")
                    else:
                        lines.append(f"User: {t.prompt}\nAssistant: The answer is {t.answer}.")
        docs.append(" ".join(lines))
    return docs


def review_corpus(n_docs: int, seed: int, review_share: float = 0.9) -> list[str]:
    """The second pretraining phase's text: mostly corrected exercises (an attempt, right or wrong at even odds,
    and the review that checks it), the rest the first phase's mix, as a mid-training phase weights the kind of
    text a model should get good at.

    Why: checking an attempt is a skill the judge needs and the first phase teaches only its format (its verdicts
    were at chance); 1,500 steps of this mix teach the digit-by-digit comparison (issue 11's note).
    """
    rng = random.Random(f"reviews:{seed}")
    general = pretraining_corpus(n_docs, seed=seed + 1)
    docs = []
    for doc in general:
        if rng.random() >= review_share:
            docs.append(doc)
            continue
        docs.append(" ".join(line for _ in range(rng.randint(4, 8)) for line in _corrected_exercise(rng)))
    return docs


def _corrected_exercise(rng: random.Random) -> list[str]:
    """One corrected exercise (a training-partition question, an attempt right or wrong at even odds, and its
    review without the score) as a one-item list, or none when the drawn question is a held-out one."""
    t = rng.choice(FAMILIES).make(rng)
    if is_eval_prompt(t.prompt):
        return []
    attempt = good_response(t) if rng.random() < 0.5 else f"The answer is {wrong_answer(t, rng)}."
    review = reference_judgment(t.prompt, attempt)
    assert review is not None
    return [f"Q: {t.prompt} A: {attempt} Review: {review[0].rsplit(chr(10), 1)[0]}"]


_LIST_HEADERS = ("Exercises:", "Practice questions:", "Come up with a series of tasks:", "Questions for the class:")
_LIST_LABELS = ("Task {k}:", "{k}.", "Question {k}:")


def _exercise_list(rng: random.Random) -> str:
    """A numbered list of training-partition questions under a header, one per line."""
    label = rng.choice(_LIST_LABELS)
    lines = [rng.choice(_LIST_HEADERS)]
    for _ in range(rng.randint(4, 10)):
        t = rng.choice(FAMILIES).make(rng)
        if not is_eval_prompt(t.prompt):
            lines.append(f"{label.format(k=len(lines))} {t.prompt}")
    return "\n".join(lines)
