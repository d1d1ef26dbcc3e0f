"""MT-Bench scoring against a restatement of FastChat show_result.py (single mode), parsers and prompts."""

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmarks import mt_bench
from harness.types import HarnessError

FILES = [
    "dreaming-panda_MTBench_gpt-4_single-origin_Llama-3-8B.jsonl",
    "instructlab_eval_gpt-4_single_granite-7b-lab.jsonl",
]


def show_result_reference(path: Path) -> dict[str, tuple[float, float, float]]:
    """FastChat show_result.display_result_single, restated: drop score == -1, then groupby means."""
    df_all = pd.read_json(path, lines=True)
    df = df_all[["model", "score", "turn"]]
    df = df[df["score"] != -1]
    t1 = df[df["turn"] == 1].groupby(["model", "turn"]).mean()
    t2 = df[df["turn"] == 2].groupby(["model", "turn"]).mean()
    avg = df[["model", "score"]].groupby(["model"]).mean()
    return {m: (t1.loc[(m, 1), "score"], t2.loc[(m, 2), "score"], avg.loc[m, "score"]) for m in avg.index}


@pytest.mark.parametrize("name", FILES)
def test_scores_match_show_result(shared: Path, name: str) -> None:
    path = shared / "FastChat" / "third_party_judgments" / name
    ref = show_result_reference(path)
    ours = mt_bench.score_mt_bench(path, shared / "FastChat" / "data" / "mt_bench" / "question.jsonl")["models"]
    assert set(ours) == set(ref)
    for model, (t1, t2, overall) in ref.items():
        assert ours[model]["turn1"] == pytest.approx(t1, abs=1e-12)
        assert ours[model]["turn2"] == pytest.approx(t2, abs=1e-12)
        assert ours[model]["overall"] == pytest.approx(overall, abs=1e-12)
        assert ours[model]["mean_of_turns"] == pytest.approx((t1 + t2) / 2)
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    failed = sum(r["score"] == -1 for r in raw)
    assert sum(m["n_failed"] for m in ours.values()) == failed
    assert sum(m["n_valid"] for m in ours.values()) == len(raw) - failed


def test_duplicates_are_counted_and_kept(shared: Path) -> None:
    path = shared / "FastChat" / "third_party_judgments" / FILES[0]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    keys = [(r["model"], r["question_id"], r["turn"]) for r in rows]
    ours = mt_bench.score_mt_bench(path)["models"]
    assert sum(m["n_duplicates"] for m in ours.values()) == len(keys) - len(set(keys)) > 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Rating: [[7]]", 7.0), ("[[8.5]]", 8.5), ("I rate it [7].", 7.0), ("[[10]] and later [[3]]", 10.0),
     ("[[2]] but [5]", 2.0), ("no rating", None)],
)  # fmt: skip
def test_parse_rating(text: str, expected: float | None) -> None:
    assert mt_bench.parse_rating(text) == expected


def test_math_turn2_prompt_has_reference_and_both_turns(shared: Path) -> None:
    data = shared / "FastChat" / "data"
    prompts = mt_bench.load_judge_prompts(data / "judge_prompts.jsonl")
    questions = {q["question_id"]: q for q in mt_bench.load_questions(data / "mt_bench" / "question.jsonl")}
    refs = mt_bench.load_reference_answers(data / "mt_bench" / "reference_answer" / "gpt-4.jsonl")
    math_q = next(q for q in questions.values() if q["category"] == "math")
    msgs = mt_bench.judge_messages(math_q, ["ANSWER-ONE", "ANSWER-TWO"], 2, prompts, refs[math_q["question_id"]])
    assert msgs[0].role == "system" and msgs[0].content == prompts["single-math-v1-multi-turn"]["system_prompt"]
    user = msgs[1].content
    for part in (*math_q["turns"], "ANSWER-ONE", "ANSWER-TWO", *refs[math_q["question_id"]]):
        assert part in user
    writing = next(q for q in questions.values() if q["category"] == "writing")
    single = mt_bench.judge_messages(writing, ["A1", "A2"], 1, prompts)
    assert single[1].content == prompts["single-v1"]["prompt_template"].format(
        question=writing["turns"][0], answer="A1"
    )


def test_bad_judgment_files(tmp_path: Path) -> None:
    p = tmp_path / "j.jsonl"
    p.write_text('{"question_id": 81, "model": "m", "score": 5, "turn": 3}\n')
    with pytest.raises(HarnessError, match=r"j.jsonl:1: field 'turn' must be 1 or 2"):
        mt_bench.load_judgments(p)
    p.write_text('{"question_id": 81, "model": "m", "turn": 1}\n')
    with pytest.raises(HarnessError, match=r"j.jsonl:1: missing field 'score'"):
        mt_bench.load_judgments(p)


@pytest.mark.vllm
def test_mt_bench_end_to_end(vllm_engine, vllm_server_b, shared: Path, tmp_path: Path) -> None:
    """The tiny model answers 2 questions (2 turns, vLLM engine); a `vllm serve` tiny model grades them."""
    from benchmarks.registry import EvalContext, run_benchmark
    from harness.runner import Run
    from harness.store import Store

    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    ctx = EvalContext(
        model_spec="vllm:tiny", store=store, run=run, judge_spec=vllm_server_b.spec, limit=2,
        data={"mt_bench_dir": str(shared / "FastChat" / "data")}, options={"max_tokens": 16, "judge_max_tokens": 16},
    )  # fmt: skip
    ctx._models["vllm:tiny"] = vllm_engine
    res = run_benchmark("mt_bench", ctx)
    m = {x.name: x for x in res.metrics}
    assert len(res.samples) == 4 and {s["turn"] for s in res.samples} == {1, 2}
    # the random judge rarely writes [[x]]: failures are counted, and never become a rating
    assert m["n_failed"].value == sum(s["score"] == -1 for s in res.samples)
    assert run.stats.calls_made == 2 + 2 + 4
    ctx._models.clear()


def test_leaderboard_carries_the_scored_numbers(shared: Path, tmp_path: Path) -> None:
    """Scored through the harness, recorded, published: the MT-Bench table holds exactly the scored numbers."""
    import subprocess
    import sys

    path = shared / "FastChat" / "third_party_judgments" / FILES[0]
    store, out = tmp_path / "s.sqlite", tmp_path / "lb"
    res = subprocess.run([sys.executable, "-m", "harness", "score", "mt_bench", "--judgments", str(path), "--json",
                          "--record", "--store", str(store)], capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout)
    lb = subprocess.run([sys.executable, "-m", "harness", "leaderboard", "--store", str(store), "--out", str(out)],
                        capture_output=True, text=True)  # fmt: skip
    assert lb.returncode == 0, lb.stderr
    table = json.loads((out / "actor.json").read_text())
    for row in table["rows"]:
        model = scored["models"][row["model"]]
        assert row["run_id"] == scored["run_id"]
        for k in ("turn1", "turn2", "overall"):
            assert row[f"mt_bench.{k}"]["value"] == model[k]
    assert len(table["rows"]) == len(scored["models"]) == 2
