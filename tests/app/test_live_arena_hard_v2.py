"""Live `harness eval --benchmarks arena_hard_v2` against the planted server, on the official v2.0 questions and
o3-mini answers: the written files re-score to the live numbers, and the planted verdicts are recovered.

The planted annotator prefers the actor's answer on a question with p = 0.7 (``model_wins``), in whichever position
it is; on every 4th question (``needs_retry``) its first answer has no verdict, and v2.0 makes no second call, so
that row is dropped and counted. Expected values come from those draws, never from the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing
from tests.planted_server import model_wins, needs_retry
from tests.servers import PlantedServer

V2 = Path(__file__).resolve().parents[3] / "shared" / "data" / "arena-hard-auto" / "v2.0_196f6b8"
N, SEED, P_WIN, RETRY = 30, 5, 0.7, 4


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def live(shared: Path, tmp_path_factory: pytest.TempPathFactory):
    if not (V2 / "question.jsonl").is_file():
        missing(str(V2))
    tmp = tmp_path_factory.mktemp("v2")
    server = PlantedServer(seed=SEED, p_win=P_WIN, rating1=8, rating2=5, retry_every=RETRY)
    try:
        res = _cli("eval", "--model", server.spec("actor"), "--annotator", server.spec("judge"),
                   "--benchmarks", "arena_hard_v2", "--limit", str(N), "--data-for", f"arena_hard_v2_dir={V2}",
                   "--store", str(tmp / "s.sqlite"), "--out", str(tmp / "out"))  # fmt: skip
        stats = server.stats()
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads((tmp / "out" / "results.json").read_text())
    return {"tmp": tmp, "out": tmp / "out" / "arena_hard_v2", "doc": doc, "stats": stats}


def test_live_v2_equals_scored_and_recovers_the_planted_verdicts(live) -> None:
    bench = live["doc"]["benchmarks"]["arena_hard_v2"]
    m = {x["metric"]: x for x in bench["metrics"]}
    model, judge = bench["extra"]["model"], bench["extra"]["judge"]  # file stems of the two specs
    assert bench["files"] == [f"arena_hard_v2/model_answer/{model}.jsonl",
                              f"arena_hard_v2/model_judgment/{judge}/{model}.jsonl"]  # fmt: skip
    rows = [
        json.loads(x) for x in (live["out"] / "model_judgment" / judge / f"{model}.jsonl").read_text().split("\n") if x
    ]
    questions = [json.loads(x) for x in (V2 / "question.jsonl").read_text(encoding="utf-8").split("\n") if x]
    prompts = [q["prompt"] for q in questions if q["category"] == "hard_prompt"][:N]
    assert [r["uid"] for r in rows] == [q["uid"] for q in questions if q["category"] == "hard_prompt"][:N]
    # the planted truth: dropped rows, then the actor's wins among the rest (both games agree: [1, 1] or [0, 0])
    dropped = [needs_retry(SEED, RETRY, p) for p in prompts]
    wins = [model_wins(SEED, P_WIN, p) for p, d in zip(prompts, dropped, strict=True) if not d]
    assert 0 < sum(dropped) < N and live["stats"]["arena_hard"] == 2 * N  # one call per game, no retry turn
    assert m["n_dropped"]["value"] == sum(dropped)
    assert m["point_score"]["value"] == pytest.approx(100 * sum(wins) / len(wins), abs=1e-9)
    assert m["score"]["ci_low"] <= 100 * P_WIN <= m["score"]["ci_high"]
    for r, d in zip(rows, dropped, strict=True):
        assert (r["games"][0]["score"] is None) == d and r["baseline"] == "o3-mini-2025-01-31"
        assert r["games"][0]["prompt"][0]["content"].startswith("Please act as an impartial judge")
    # re-scoring the written files with `harness score arena_hard` gives the live numbers exactly
    res = _cli("score", "arena_hard", "--judgments", str(live["out"] / "model_judgment" / judge), "--json")
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout)["models"][model]
    assert (m["score"]["value"], m["score"]["ci_low"], m["score"]["ci_high"]) == (
        scored["score"], scored["ci95_low"], scored["ci95_high"])  # fmt: skip
    assert m["point_score"]["value"] == scored["point_score"] and m["n_dropped"]["value"] == scored["n_dropped"]
    # and style control on them: the actor's answers carry no token_len, so they are counted with tiktoken's
    # o200k_base, as upstream's add_markdown_info.py; where that encoding cannot be loaded (offline, no cache) the
    # command says so in one line, and where it can (network or TIKTOKEN_CACHE_DIR) style control runs
    answers = live["out"].parent / "answers_with_baseline"  # the actor's answers beside the baseline's (upstream's)
    answers.mkdir(exist_ok=True)
    for src in (live["out"] / "model_answer" / f"{model}.jsonl", V2 / "model_answer" / "o3-mini-2025-01-31.jsonl"):
        (answers / src.name).write_bytes(src.read_bytes())
    style = _cli("score", "arena_hard", "--judgments", str(live["out"] / "model_judgment" / judge), "--answers",
                 str(answers), "--style-control", "--json")  # fmt: skip
    if _o200k_loadable():
        assert style.returncode == 0, style.stderr[-2000:]
        assert model in json.loads(style.stdout)["models"]
    else:
        assert style.returncode == 2 and "o200k_base" in style.stderr and len(style.stderr.strip().splitlines()) == 1


def _o200k_loadable() -> bool:
    """Whether tiktoken's o200k_base encoding loads here, in a process of its own with the commands' environment."""
    probe = subprocess.run([sys.executable, "-c", "import tiktoken; tiktoken.encoding_for_model('gpt-4o')"],
                           capture_output=True, timeout=120)  # fmt: skip
    return probe.returncode == 0


def test_creative_writing_without_the_gemini_answers_is_one_line_before_any_call(shared: Path, tmp_path: Path) -> None:
    if not (V2 / "question.jsonl").is_file():
        missing(str(V2))
    server = PlantedServer(seed=SEED, p_win=P_WIN, rating1=8, rating2=5, retry_every=0)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    try:
        common = ["eval", "--model", server.spec("actor"), "--annotator", server.spec("judge"), "--benchmarks",
                  "arena_hard_v2", "--option", "arena_hard_v2.category=creative_writing", "--limit", "3",
                  "--store", str(tmp_path / "s.sqlite")]  # fmt: skip
        local = _cli(*common, "--data-for", f"arena_hard_v2_dir={V2}", "--out", str(tmp_path / "a"), env=env)
        hub = _cli(*common, "--out", str(tmp_path / "b"), env=env)
        stats = server.stats()
    finally:
        server.stop()
    assert local.returncode == 2 and len(local.stderr.strip().splitlines()) == 1
    assert "model_answer/gemini-2.0-flash-001.jsonl: not found" in local.stderr
    assert hub.returncode == 2 and len(hub.stderr.strip().splitlines()) == 1
    assert "data/arena-hard-v2.0/question.jsonl from the lmarena-ai/arena-hard-auto hub dataset" in hub.stderr
    assert "--data-for arena_hard_v2_dir=DIR" in hub.stderr
    assert sum(stats.values()) == 0 and not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prompt_template: '{QUESTION} {OTHER}'\nregex_patterns: ['x']\ntemperature: 0\nmax_tokens: 9\n",
         "field 'prompt_template' has an unknown placeholder"),
        ("prompt_template: '{QUESTION}'\nregex_patterns: ['x']\ntemperature: hot\nmax_tokens: 9\n",
         "field 'temperature' must be a non-negative float"),
        ("prompt_template: '{QUESTION}'\nregex_patterns: ['(']\ntemperature: 0\nmax_tokens: 9\n",
         "field 'regex_patterns' has an invalid regex"),
    ],
)  # fmt: skip
def test_a_bad_v2_judge_config_is_one_line_naming_the_field(tmp_path: Path, text: str, expected: str) -> None:
    from benchmarks.arena_hard.benchmark_v2 import judge_setup
    from harness.types import HarnessError

    path = tmp_path / "arena-hard-v2.0.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=expected) as err:
        judge_setup("hard_prompt", path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
