"""`harness eval --benchmarks arena_hard`: the model answers the Arena-Hard questions; the annotator judges each
answer against the baseline's in two games (positions swapped) exactly as arena-hard-auto's ``gen_judgment.py``
(v0.1, e883410): ``judge_config.yaml``'s system prompt, every ``prompt_template`` as a user message, its
``temperature`` and ``max_tokens``, and up to ``number_of_judgment_attempts`` turns ("continue your judgment
and finish by outputting a final verdict label") while ``regex_pattern`` finds no verdict; the judgment text is
the attempts joined by newlines.

The run writes ``OUT/arena_hard/model_answer/MODEL.jsonl`` and ``OUT/arena_hard/model_judgment/JUDGE/MODEL.jsonl``
in arena-hard-auto's format (``token_len`` is the backend's completion token count) and scores them with the
scorer of `harness score arena_hard` (``benchmarks.arena_hard.scorer.score_judgments``: show_result's battles,
Bradley-Terry fit and seeded bootstrap, seed 42 as show_result), so re-scoring the files gives the same numbers
(with the run's ``--bootstrap``, recorded in its results). The interval resamples whole questions by default:
show_result's battle resampling (``--option arena_hard.bootstrap=battles``) treats the two games of one answer as
independent and its 95% CI covers about 78% of the time on 30 questions with show_result's 100 rounds. The live
default takes 1000 bootstrap rounds (show_result's 100 alone under-cover), recorded with the export.

Data: built in (:data:`BUILTIN_DIR`, arena-hard-auto e883410's v0.1 questions, gpt-4-0314 answers and
judge_config.yaml; Apache-2.0, see benchmarks/PROVENANCE.md), or ``--data-for arena_hard_dir=DIR`` holding
``judge_config.yaml``, ``question.jsonl`` and ``model_answer/BASELINE.jsonl`` in the same layout.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.arena_hard import scorer as arena_hard
from benchmarks.core.registry import Benchmark, BenchmarkResult, EvalContext, Metric, declare
from harness.runner import Run, generate
from harness.spec import file_stem
from harness.types import HarnessError, Message, MetricValue, Model, Request

BUILTIN_DIR = Path(__file__).resolve().parent / "data" / "v0.1"
CONTINUE = "continue your judgment and finish by outputting a final verdict label"


@dataclass(frozen=True)
class ArenaHardParams:
    """Options of the arena_hard benchmark (``--option KEY=VALUE``)."""

    max_tokens: int = 4096  # per greedy answer
    judge_max_tokens: int = 0  # per annotator judgment; 0: judge_config.yaml's max_tokens
    # bootstrap rounds of the score's CI; show_result's default is 100, whose 2.5th and 97.5th percentiles of 100
    # draws make the interval narrow (the question bootstrap then covered 0.930 of 1000 planted repetitions on 30
    # questions), so the live default takes 1000 (0.947; README, bench/calibration.py)
    rounds: int = 1000
    bootstrap_seed: int = 42  # show_result's seed
    # "questions" resamples whole questions (both games of one answer together), whose 95% CI covers 95% of the
    # time (tests/app/test_calibration.py); "battles" is show_result's, which covers about 78% with its 100 rounds
    # on 30 questions (README)
    bootstrap: str = "questions"


METRICS = (
    Metric("score", "win rate x 100 against the baseline from the Bradley-Terry fit of both games per question",
           True, headline=True, terminal=True, reference="arena-hard-auto show_result.py (v0.1)"),
    Metric("avg_tokens", "int(mean completion tokens of the model's answers)", None,
           reference="arena-hard-auto show_result.py (v0.1)"),
    Metric("n_unparsed", "games whose verdict did not parse (excluded, never defaulted)", False),
)  # fmt: skip


def _root(ctx: EvalContext) -> Path:
    return ctx.data_path("arena_hard_dir") or BUILTIN_DIR


def _load(ctx: EvalContext) -> tuple[arena_hard.JudgeConfig, list[dict[str, Any]], dict[str | int, str]]:
    root = _root(ctx)
    config = arena_hard.load_judge_config(root / "judge_config.yaml")
    questions = arena_hard.load_questions(root / "question.jsonl")
    path = root / "model_answer" / f"{config.baseline_model}.jsonl"
    if not path.is_file():
        raise HarnessError(f"{path}: the baseline's answers (judge_config.yaml baseline_model) not found")
    rows = arena_hard.load_model_answers(root / "model_answer")[config.baseline_model]
    baseline = {qid: r["choices"][0]["turns"][0]["content"] for qid, r in rows.items()}
    return config, questions, baseline


def validate(ctx: EvalContext) -> None:
    _load(ctx)
    mode = ctx.params("arena_hard").bootstrap
    if mode not in arena_hard.BOOTSTRAPS:
        raise HarnessError(
            f"--option arena_hard.bootstrap={mode!r}: expected one of {', '.join(arena_hard.BOOTSTRAPS)}"
        )


def judge_games(
    judge: Model, config: arena_hard.JudgeConfig, convs: list[list[dict[str, str]]], run: Run, max_tokens: int
) -> list[dict[str, Any]]:
    """gen_judgment.py's judging loop for many games at once: ``{"user_prompt", "judgment", "score"}`` per game.

    Attempt k sends the games still without a verdict (``get_score``'s try_again), each with its earlier
    answers and the continue message appended, as arena-hard-auto does.
    """
    convs = [list(c) for c in convs]
    texts = [""] * len(convs)
    labels: list[str | None] = [None] * len(convs)
    pending = list(range(len(convs)))
    for attempt in range(config.number_of_judgment_attempts):
        reqs = [
            Request.chat([Message(m["role"], m["content"]) for m in convs[i]], temperature=config.temperature,
                         max_tokens=max_tokens)
            for i in pending
        ]  # fmt: skip
        outs = generate(judge, reqs, run)
        still = []
        for i, out in zip(pending, outs, strict=True):
            new = out[0].text
            texts[i] += "\n" + new
            labels[i], again = arena_hard.get_score(texts[i], config.regex)
            convs[i].append({"role": "assistant", "content": new})
            if again and attempt + 1 < config.number_of_judgment_attempts:
                convs[i].append({"role": "user", "content": CONTINUE})
                still.append(i)
        pending = still
        if not pending:
            break
    return [{"user_prompt": c[1]["content"], "judgment": t, "score": label}
            for c, t, label in zip(convs, texts, labels, strict=True)]  # fmt: skip


def run_arena_hard(ctx: EvalContext) -> BenchmarkResult:
    config, questions, baseline = _load(ctx)
    questions = [q for q in questions if q["question_id"] in baseline][: ctx.limit or None]
    actor = ctx.actor()
    opts: ArenaHardParams = ctx.params("arena_hard")
    answers = generate(actor, [Request.user(q["turns"][0]["content"], temperature=0.0, max_tokens=opts.max_tokens)
                               for q in questions], ctx.run)  # fmt: skip
    model = file_stem(ctx.model_spec)
    judge_name = file_stem(ctx.annotator_name)
    convs = []
    for q, a in zip(questions, answers, strict=True):
        convs += arena_hard.game_messages(config, q["turns"][0]["content"], a[0].text, baseline[q["question_id"]])
    games = judge_games(ctx.annotator(), config, convs, ctx.run, opts.judge_max_tokens or config.max_tokens)
    now = time.time()
    answer_rows = [
        {"question_id": q["question_id"], "answer_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{q['question_id']}").hex,
         "model_id": model,
         "choices": [{"index": 0, "turns": [{"content": a[0].text, "token_len": a[0].completion_tokens}]}],
         "tstamp": now}
        for q, a in zip(questions, answers, strict=True)
    ]  # fmt: skip
    judgment_rows = [
        {"question_id": q["question_id"], "model": model, "judge": judge_name, "games": games[2 * k : 2 * k + 2]}
        for k, q in enumerate(questions)
    ]
    # the scorer of `harness score arena_hard`, on exactly the rows written to the peer-format files
    judgments = [arena_hard.judgment_from_row(r, f"judgment row {k + 1}") for k, r in enumerate(judgment_rows)]
    tokens = arena_hard.average_tokens({model: {r["question_id"]: r for r in answer_rows}}) if answer_rows else {}
    unparsed = sum(g["score"] is None for g in games)
    extra: dict[str, Any] = {"model": model, "judge": judge_name, "baseline": config.baseline_model,
                             "bootstrap": opts.bootstrap, "bootstrap_seed": opts.bootstrap_seed}  # fmt: skip
    try:
        scored = arena_hard.score_judgments(judgments, baseline=config.baseline_model, seed=opts.bootstrap_seed,
                                            rounds=opts.rounds, avg_tokens=tokens, bootstrap=opts.bootstrap)  # fmt: skip
    except HarnessError as exc:  # no usable verdict at all: the score is undefined, the judgments are kept
        row, extra["unscored"] = None, str(exc)
    else:
        row = scored["models"].get(model)
        extra["n_battles"] = scored["n_battles"]
    if row is None:  # no score; the counts are the judgments' own
        metrics = [MetricValue("score", None, n=0), MetricValue("n_unparsed", float(unparsed), n=len(games)),
                   MetricValue("avg_tokens", None if model not in tokens else float(tokens[model]), n=len(answers))]  # fmt: skip
    else:  # the rows `harness score arena_hard --record` stores of the same files
        metrics = arena_hard.to_rows(scored)[model]
    samples = [{**r, "answer": a[0].text} for r, a in zip(judgment_rows, answers, strict=True)]
    files: dict[str, Any] = {
        f"model_answer/{model}.jsonl": answer_rows,
        f"model_judgment/{judge_name}/{model}.jsonl": judgment_rows,
        # the settings the numbers depend on, beside the judgments (a .json: upstream's show_result reads only
        # *.jsonl): `harness score arena_hard` with no flags reads them and reproduces the live score and CI
        f"model_judgment/{judge_name}/{arena_hard.EXPORT_SETTINGS}": {
            "written_by": "harness eval", "baseline": config.baseline_model, "bootstrap": opts.bootstrap,
            "bootstrap_seed": opts.bootstrap_seed, "rounds": opts.rounds,
        },
    }  # fmt: skip
    return BenchmarkResult("arena_hard", metrics, samples, extra, files=files)


BENCHMARK = declare(
    Benchmark(
        "arena_hard", "0.1", "actor", METRICS, roles=("actor", "annotator"), params=ArenaHardParams,
        data_keys=("arena_hard_dir",),
        run=run_arena_hard, validate=validate, to_rows=arena_hard.to_rows,
    )
)  # fmt: skip
