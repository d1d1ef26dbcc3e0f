"""The embedded task world: small tasks whose answer quality is computable.

Arithmetic, unit conversion and string manipulation prompts, each with an exact reference
answer, so that (a) ranked "human-like" data can be built without humans (correct and concise
> correct but padded > wrong > off-topic), and (b) an actor's answers can be scored exactly.
Everything is generated from a seed; nothing is downloaded. Used by the demo config, the
`taskworld` actor benchmark and the tests of the training loop.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from benchmarks.registry import BenchmarkResult, EvalContext, benchmark
from harness.runner import generate
from harness.stats import metric_with_ci
from harness.types import Request

UNITS = [
    ("kilometres", "metres", 1000),
    ("kilograms", "grams", 1000),
    ("hours", "minutes", 60),
    ("metres", "centimetres", 100),
]
WORDS = ["harness", "judge", "reward", "python", "model", "meta", "score", "actor", "token", "prompt", "table", "curve"]
OFF_TOPIC = ["I like turtles.", "The weather is nice today.", "Please ask me something else.", "Python is a snake."]


@dataclass(frozen=True)
class Task:
    prompt: str
    answer: str
    kind: str


def make_task(rng: random.Random) -> Task:
    kind = rng.choice(["add", "sub", "mul", "convert", "reverse", "upper", "count"])
    if kind in ("add", "sub", "mul"):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        if kind == "mul":
            a, b = rng.randint(2, 12), rng.randint(2, 12)
        op, value = {"add": ("+", a + b), "sub": ("-", a - b), "mul": ("*", a * b)}[kind]
        return Task(f"What is {a} {op} {b}?", str(value), kind)
    if kind == "convert":
        src, dst, factor = rng.choice(UNITS)
        x = rng.randint(1, 20)
        return Task(f"Convert {x} {src} to {dst}.", str(x * factor), kind)
    word = rng.choice(WORDS)
    if kind == "reverse":
        return Task(f"Reverse the string '{word}'.", word[::-1], kind)
    if kind == "upper":
        return Task(f"Write '{word}' in capital letters.", word.upper(), kind)
    letter = rng.choice(sorted(set(word)))
    return Task(f"How many times does the letter '{letter}' appear in '{word}'?", str(word.count(letter)), kind)


def wrong_answer(task: Task, rng: random.Random) -> str:
    if task.answer.lstrip("-").isdigit():
        return str(int(task.answer) + rng.choice([-3, -2, -1, 1, 2, 10]))
    return task.answer[1:] + task.answer[0] if len(task.answer) > 1 else task.answer + "x"


def good_response(task: Task) -> str:
    return f"The answer is {task.answer}."


def ranked_responses(task: Task, rng: random.Random, k: int = 4) -> tuple[list[str], list[int]]:
    """k responses of known quality and their ranks (0 = best): concise-correct, padded-correct, wrong, off-topic."""
    pool = [
        (3, good_response(task)),
        (2, f"Let me think step by step about this. {task.prompt} The result is {task.answer}, I believe."),
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


def is_correct(task_answer: str, response: str) -> bool:
    """Correct = the reference answer appears as a whole token (number or word) in the response."""
    if task_answer.lstrip("-").isdigit():
        return task_answer in _NUM.findall(response)
    return re.search(rf"(?<![A-Za-z]){re.escape(task_answer)}(?![A-Za-z])", response) is not None


def tasks(n: int, seed: int) -> list[Task]:
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Task] = []
    while len(out) < n:
        t = make_task(rng)
        if t.prompt not in seen:
            seen.add(t.prompt)
            out.append(t)
    return out


def ranked_rows(n: int, seed: int, k: int = 4) -> list[dict[str, object]]:
    """Rows of the plain ranked JSONL format: {id, prompt, responses, ranks}."""
    rng = random.Random(seed + 1)
    rows = []
    for i, t in enumerate(tasks(n, seed)):
        responses, ranks = ranked_responses(t, rng, k)
        rows.append({"id": f"tw-{seed}-{i}", "prompt": t.prompt, "responses": responses, "ranks": ranks})
    return rows


def accuracy(pairs: list[tuple[str, str]]) -> float | None:
    """Share of (reference answer, response) pairs whose response is correct (see :func:`is_correct`)."""
    return None if not pairs else sum(is_correct(a, r) for a, r in pairs) / len(pairs)


@benchmark("taskworld")
def run_taskworld(ctx: EvalContext) -> BenchmarkResult:
    """Actor accuracy on held-out task-world prompts (seed 10_000 + ctx.seed), greedy decoding."""
    n = ctx.limit or int(ctx.options.get("taskworld_n", 100))
    items = tasks(n, seed=10_000 + ctx.seed)
    reqs = [Request.user(t.prompt, temperature=0.0, max_tokens=int(ctx.options.get("max_tokens", 64))) for t in items]
    actor = ctx.actor()  # load before the progress bar: a load error stays one line
    with ctx.progress("taskworld: generate", len(reqs)) as advance:
        outs = generate(actor, reqs, ctx.run, on_progress=advance)
    pairs = [(t.answer, o[0].text) for t, o in zip(items, outs, strict=True)]
    lengths = [len(o[0].text) for o in outs]
    metrics = [
        metric_with_ci("accuracy", pairs, accuracy, seed=ctx.seed),
        metric_with_ci("avg_length", lengths, lambda xs: sum(xs) / len(xs) if xs else None, seed=ctx.seed),
    ]
    samples = [
        {"prompt": t.prompt, "reference": t.answer, "output": o[0].text, "correct": is_correct(t.answer, o[0].text)}
        for t, o in zip(items, outs, strict=True)
    ]
    return BenchmarkResult("taskworld", metrics, samples)


_RANK_SCORES = {0: 5, 1: 4, 2: 2, 3: 0}
_RANK_WORDS = {
    0: "The response is relevant, addresses the question completely and gives the correct answer concisely.",
    1: "The response is relevant and reaches the correct answer, but it is padded and less direct.",
    2: "The response addresses the question but the answer is wrong.",
    3: "The response does not address the question at all.",
}


def reference_judgment(rank: int) -> tuple[str, int]:
    """A rule-written judgment in the additive prompt's format for a task-world response of a given rank.

    The task world knows each response's quality, so it can write the judgment an ideal judge
    would: the score follows the known ranking (5, 4, 2, 0 for ranks 0..3).
    """
    score = _RANK_SCORES.get(rank, 0)
    return f"{_RANK_WORDS.get(rank, _RANK_WORDS[3])}\nScore: {score}", score


def reference_meta_judgment(rank: int, other_score: int, seed: int) -> tuple[list[str], str]:
    """Two judgments of a response of known rank, one with the right score and one with ``other_score``,
    in a seeded order, and the meta-judgment an ideal meta-judge writes (Meta-Rewarding Fig. 2 format).

    Returns ([judgment A, judgment B], meta-judgment text).
    """
    right, score = reference_judgment(rank)
    wrong = f"{_RANK_WORDS.get(rank, _RANK_WORDS[3]).split('.')[0]}.\nScore: {other_score}"
    first_is_right = random.Random(seed).random() < 0.5
    pair = [right, wrong] if first_is_right else [wrong, right]
    winner = "A" if first_is_right else "B"
    text = (
        f"Judgment {winner} gives {score} points, which matches the rubric for this response; "
        f"the other judgment gives {other_score}.\nWinner: Judgement {winner}"
    )
    return pair, text
