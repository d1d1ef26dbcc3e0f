"""MT-Bench: scores against a pandas restatement of FastChat show_result.py (single mode) and of the
radar-chart notebook, on real GPT-4 judgment files; the rating parser; judge prompts rebuilt exactly as in the
real files' recorded prompts; loaders and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.mt_bench import scorer as mt_bench
from harness.types import HarnessError

FILES = [
    "dreaming-panda_MTBench_gpt-4_single-origin_Llama-3-8B.jsonl",
    "instructlab_eval_gpt-4_single_granite-7b-lab.jsonl",
]
# The radar notebook's list (capitalised there); question 81 + 10 k starts category k.
RADAR_CATEGORIES = ["Writing", "Roleplay", "Reasoning", "Math", "Coding", "Extraction", "STEM", "Humanities"]


def judgments(shared: Path, name: str) -> Path:
    return shared / "FastChat" / "third_party_judgments" / name


def data(shared: Path) -> Path:
    return shared / "FastChat" / "data"


def show_result_reference(path: Path) -> dict[str, dict[str, float]]:
    """FastChat show_result.display_result_single, restated: drop score == -1, then groupby means."""
    df_all = pd.read_json(path, lines=True)
    df = df_all[["model", "score", "turn"]]
    df = df[df["score"] != -1]
    t1 = df[df["turn"] == 1].groupby(["model", "turn"]).mean()
    t2 = df[df["turn"] == 2].groupby(["model", "turn"]).mean()
    avg = df[["model", "score"]].groupby(["model"]).mean()
    return {
        m: {"turn1": t1.loc[(m, 1), "score"], "turn2": t2.loc[(m, 2), "score"], "overall": avg.loc[m, "score"]}
        for m in avg.index
    }


def radar_reference(path: Path) -> dict[str, dict[str, float]]:
    """The radar-chart notebook: category from the question id, rows with score >= 0, mean over both turns."""
    df = pd.read_json(path, lines=True)
    df["category"] = [RADAR_CATEGORIES[(q - 81) // 10].lower() for q in df["question_id"]]
    out: dict[str, dict[str, float]] = {}
    for model in df["model"].unique():
        for cat in df["category"].unique():
            res = df[(df["category"] == cat) & (df["model"] == model) & (df["score"] >= 0)]
            out.setdefault(model, {})[cat] = res["score"].mean()
    return out


@pytest.mark.parametrize("name", FILES)
def test_scores_match_show_result(shared: Path, name: str) -> None:
    path = judgments(shared, name)
    ref = show_result_reference(path)
    result = mt_bench.score_mt_bench(path, data(shared) / "mt_bench" / "question.jsonl")
    json.dumps(result, allow_nan=False)  # JSON-able, no NaN
    ours = result["models"]
    assert set(ours) == set(ref)
    # show_result's "Average" order: best first
    assert list(ours) == sorted(ref, key=lambda m: -ref[m]["overall"])
    df = pd.read_json(path, lines=True)
    for model, r in ref.items():
        # scores are multiples of 0.5: every summation order is exact, so the means agree exactly
        for k in ("turn1", "turn2", "overall"):
            assert ours[model][k] == r[k], (model, k)
        assert ours[model]["mean_of_turns"] == (r["turn1"] + r["turn2"]) / 2
        mine = df[df["model"] == model]
        assert ours[model]["n_failed"] == int((mine["score"] == -1).sum())
        assert ours[model]["n_valid"] == int((mine["score"] != -1).sum())
        assert ours[model]["n_valid_turn2"] == int(((mine["score"] != -1) & (mine["turn"] == 2)).sum())


@pytest.mark.parametrize("name", FILES)
def test_per_category_matches_radar_notebook(shared: Path, name: str) -> None:
    path = judgments(shared, name)
    ref = radar_reference(path)
    by_id = mt_bench.score_mt_bench(path)["models"]  # categories from the question-id blocks
    by_file = mt_bench.score_mt_bench(path, data(shared) / "mt_bench" / "question.jsonl")["models"]
    for model, cats in ref.items():
        assert by_id[model]["category"] == cats
        assert by_file[model]["category"] == cats
        assert list(cats) != [] and len(cats) == 8


def test_instructlab_failures_make_overall_differ_from_mean_of_turns(shared: Path) -> None:
    """120 of 160 ratings failed, mostly on turn 2: the pooled overall leans on turn 1."""
    m = mt_bench.score_mt_bench(judgments(shared, FILES[1]))["models"]["granite-7b-lab"]
    assert (m["n_valid"], m["n_failed"]) == (40, 120)
    assert m["n_valid_turn1"] > m["n_valid_turn2"] > 0
    assert m["overall"] > m["mean_of_turns"]


def test_duplicates_are_counted_and_kept(shared: Path) -> None:
    path = judgments(shared, FILES[0])
    df = pd.read_json(path, lines=True)
    ours = mt_bench.score_mt_bench(path)["models"]
    for model, g in df.groupby("model"):
        assert ours[model]["n_duplicates"] == int(g.duplicated(subset=["question_id", "turn"]).sum())
    assert sum(m["n_duplicates"] for m in ours.values()) == 10
    # show_result keeps every row: with the repeats dropped (last kept) the turn-1 mean would differ
    normal = "Meta-Llama-3-8B-Instruct-Normal"
    valid = df[(df["score"] != -1) & (df["model"] == normal) & (df["turn"] == 1)]
    deduped = valid.drop_duplicates(subset=["question_id"], keep="last")["score"].mean()
    assert ours[normal]["turn1"] == valid["score"].mean() != deduped


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Rating: [[7]]", 7.0), ("[[8.5]]", 8.5), ("I rate it [7].", 7.0), ("Rating: [[10]]", 10.0),
     ("[[10]] and later [[3]]", 10.0), ("[2] but [[5]]", 5.0), ("[[7.]]", 7.0), ("[[ 7 ]] or [x]", None),
     ("Rating: 8/10", None), ("no rating", None), ("$ERROR$", None)],
)  # fmt: skip
def test_parse_rating(text: str, expected: float | None) -> None:
    assert mt_bench.parse_rating(text) == expected


@pytest.mark.parametrize("name", FILES)
def test_parse_rating_reproduces_recorded_scores(shared: Path, name: str) -> None:
    """FastChat parsed these judgments itself: the parser gives the recorded score (None for -1) on every row."""
    rows = [json.loads(line) for line in judgments(shared, name).read_text().splitlines()]
    for r in rows:
        expected = None if r["score"] == -1 else r["score"]
        assert mt_bench.parse_rating(r["judgment"]) == expected, (r["question_id"], r["turn"])
    if name == FILES[1]:  # the `[x]` fallback is exercised by real judgments
        assert any(re.search(r"\[\[\d", r["judgment"]) is None and r["score"] != -1 for r in rows)


def template_regex(template: str) -> re.Pattern[str]:
    """A template as a regex: each {field} a group, repeats as back-references."""
    parts, seen, out = re.split(r"\{(\w+)\}", template), set(), []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        else:
            out.append(f"(?P={part})" if part in seen else f"(?P<{part}>.*)")
            seen.add(part)
    return re.compile("".join(out), re.DOTALL)


@pytest.mark.parametrize("name", FILES)
def test_prompts_rebuild_the_recorded_user_prompts(shared: Path, name: str) -> None:
    """For every real judgment: the prompt chosen for its category and turn is the recorded one, and the user
    message built from question.jsonl, the GPT-4 reference answers and the answer(s) is the recorded prompt."""
    prompts = mt_bench.load_judge_prompts(data(shared) / "judge_prompts.jsonl")
    questions = {q["question_id"]: q for q in mt_bench.load_questions(data(shared) / "mt_bench" / "question.jsonl")}
    refs = mt_bench.load_reference_answers(data(shared) / "mt_bench" / "reference_answer" / "gpt-4.jsonl")
    patterns = {n: template_regex(p["prompt_template"]) for n, p in prompts.items()}
    used = set()
    for r in (json.loads(line) for line in judgments(shared, name).read_text().splitlines()):
        q = questions[r["question_id"]]
        prompt_name = mt_bench.judge_prompt_name(q["category"], r["turn"])
        assert r["judge"][1] == prompt_name
        match = patterns[prompt_name].fullmatch(r["user_prompt"])
        assert match is not None
        answers = [match["answer"]] if r["turn"] == 1 else [match["answer_1"], match["answer_2"]]
        msgs = mt_bench.judge_messages(q, answers, r["turn"], prompts, refs.get(r["question_id"]))
        assert [m.role for m in msgs] == ["system", "user"]
        assert msgs[0].content == prompts[prompt_name]["system_prompt"]
        assert msgs[1].content == r["user_prompt"]
        used.add(prompt_name)
    assert used == {"single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"}


def test_math_turn2_prompt_has_reference_and_both_turns(shared: Path) -> None:
    prompts = mt_bench.load_judge_prompts(data(shared) / "judge_prompts.jsonl")
    questions = {q["question_id"]: q for q in mt_bench.load_questions(data(shared) / "mt_bench" / "question.jsonl")}
    refs = mt_bench.load_reference_answers(data(shared) / "mt_bench" / "reference_answer" / "gpt-4.jsonl")
    math_q = next(q for q in questions.values() if q["category"] == "math")
    ref = refs[math_q["question_id"]]
    msgs = mt_bench.judge_messages(math_q, ["ANSWER-ONE", "ANSWER-TWO"], 2, prompts, ref)
    assert msgs[0].role == "system" and msgs[0].content == prompts["single-math-v1-multi-turn"]["system_prompt"]
    user = msgs[1].content
    order = [math_q["turns"][0], ref[0], math_q["turns"][1], ref[1], "ANSWER-ONE", "ANSWER-TWO"]
    positions = [user.index(part) for part in order]  # all present, reference conversation first
    assert positions == sorted(positions)
    assert user.count(math_q["turns"][1]) == 2  # in the reference conversation and in the assistant's
    with pytest.raises(HarnessError, match=r"needs a reference answer"):
        mt_bench.judge_messages(math_q, ["a", "b"], 2, prompts, None)
    writing = next(q for q in questions.values() if q["category"] == "writing")
    single = mt_bench.judge_messages(writing, ["A1", "A2"], 1, prompts)
    assert single[0].content == "You are a helpful assistant."
    assert single[1].content == prompts["single-v1"]["prompt_template"].format(
        question=writing["turns"][0], answer="A1"
    )
    with pytest.raises(HarnessError, match=r"judge prompts lack 'single-v1-multi-turn'"):
        mt_bench.judge_messages(writing, ["A1", "A2"], 2, {"single-v1": prompts["single-v1"]})


def test_loaders_on_the_real_files(shared: Path) -> None:
    questions = mt_bench.load_questions(data(shared) / "mt_bench" / "question.jsonl")
    assert len(questions) == 80 and all(len(q["turns"]) == 2 for q in questions)
    cats = pd.Series([q["category"] for q in questions]).value_counts()
    assert set(cats.index) == set(mt_bench.MT_BENCH_CATEGORIES) and set(cats) == {10}
    # the question-id blocks used without a question file are the file's categories
    assert all(mt_bench.MT_BENCH_CATEGORIES[(q["question_id"] - 81) // 10] == q["category"] for q in questions)
    refs = mt_bench.load_reference_answers(data(shared) / "mt_bench" / "reference_answer" / "gpt-4.jsonl")
    need_ref = {q["question_id"] for q in questions if q["category"] in mt_bench.NEED_REF_CATS}
    assert set(refs) == need_ref and len(need_ref) == 30 and all(len(t) == 2 for t in refs.values())
    prompts = mt_bench.load_judge_prompts(data(shared) / "judge_prompts.jsonl")
    for n in ("single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"):
        assert prompts[n]["type"] == "single" and prompts[n]["output_format"] == "[[rating]]"
    assert "{ref_answer_2}" in prompts["single-math-v1-multi-turn"]["prompt_template"]
    rows = mt_bench.load_judgments(judgments(shared, FILES[0]))
    assert len(rows) == 330 and rows[0]["judge"] == ["gpt-4", "single-v1"] and rows[0]["score"] == -1


def test_model_answers_later_row_wins(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    rows = [{"question_id": 81, "model_id": "m", "choices": [{"index": 0, "turns": ["a", "b"]}]},
            {"question_id": 82, "model_id": "m", "choices": [{"index": 0, "turns": ["c", "d"]}]},
            {"question_id": 81, "model_id": "m", "choices": [{"index": 0, "turns": ["e", "f"]}]}]  # fmt: skip
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert mt_bench.load_answers(p) == {81: ["e", "f"], 82: ["c", "d"]}


def test_own_judge_rows_take_the_same_scoring_path(tmp_path: Path) -> None:
    items = [(81, 1, "single-v1", "Good. Rating: [[8]]"), (81, 2, "single-v1-multi-turn", "[[6.5]]"),
             (101, 1, "single-math-v1", "wrong [3]"), (101, 2, "single-math-v1-multi-turn", "no rating"),
             (81, 1, "single-v1", "again [[9]]")]  # fmt: skip
    df = mt_bench.judgment_rows("me", "judge", items, user_prompts=["p1", "p2", "p3", "p4", "p5"])
    assert list(df["score"]) == [8.0, 6.5, 3.0, -1.0, 9.0]
    assert df.iloc[2]["judge"] == ["judge", "single-math-v1"] and df.iloc[2]["user_prompt"] == "p3"
    path = tmp_path / "me_single.jsonl"
    df.to_json(path, orient="records", lines=True)
    ref = show_result_reference(path)["me"]
    from_file = mt_bench.score_mt_bench(path)["models"]["me"]
    assert mt_bench.scores(df)["me"] == from_file
    assert (from_file["turn1"], from_file["turn2"], from_file["overall"]) == (
        ref["turn1"], ref["turn2"], ref["overall"]
    )  # fmt: skip
    assert (from_file["n_valid"], from_file["n_failed"], from_file["n_duplicates"]) == (4, 1, 1)
    assert from_file["category"] == {"writing": (8 + 6.5 + 9) / 3, "reasoning": 3.0}
    with pytest.raises(HarnessError, match="5 judgments but 1 user prompts"):
        mt_bench.judgment_rows("me", "judge", items, user_prompts=["p"])


JUDGMENT = {"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "user_prompt": "u", "judgment": "j",
            "score": 5, "turn": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [({"turn": 3}, r"j.jsonl:2: field 'turn' must be 1 or 2"),
     ({"score": None}, r"j.jsonl:2: missing field 'score'"),
     ({"score": "7"}, r"j.jsonl:2: field 'score' must be a finite number"),
     ({"score": True}, r"j.jsonl:2: field 'score' must be a finite number"),
     ({"score": -2}, r"j.jsonl:2: field 'score' must be -1 \(failed\) or >= 0"),
     ({"question_id": "81"}, r"j.jsonl:2: field 'question_id' must be an integer"),
     ({"model": 3}, r"j.jsonl:2: field 'model' must be a string"),
     ({"judge": "gpt-4"}, r"j.jsonl:2: field 'judge' must be a \[judge model, prompt name\] pair"),
     ({"judgment": 7}, r"j.jsonl:2: field 'judgment' must be a string"),
     ({"question_id": 5}, r"j.jsonl:2: question_id 5 is not an MT-Bench question")],
)  # fmt: skip
def test_bad_judgment_files(tmp_path: Path, change: dict[str, object], message: str) -> None:
    bad = {k: v for k, v in {**JUDGMENT, **change}.items() if v is not None}  # None: field left out
    p = tmp_path / "j.jsonl"
    p.write_text(json.dumps(JUDGMENT) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(HarnessError, match=message):
        mt_bench.score_mt_bench(p)


def test_bad_input_files(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(JUDGMENT) + "\n{oops\n")
    with pytest.raises(HarnessError, match=r"x.jsonl:2: malformed JSON"):
        mt_bench.load_judgments(p)
    q = tmp_path / "q.jsonl"
    q.write_text('{"question_id": 81, "category": "writing", "turns": ["a", "b"]}\n' * 2)
    with pytest.raises(HarnessError, match=r"q.jsonl:2: duplicate question_id 81"):
        mt_bench.load_questions(q)
    q.write_text('{"question_id": 81, "category": "writing", "turns": "a"}\n')
    with pytest.raises(HarnessError, match=r"q.jsonl:1: field 'turns' must be a list of strings"):
        mt_bench.load_questions(q)
    q.write_text('{"question_id": 82, "category": "writing", "turns": ["a", "b"]}\n')
    p.write_text(json.dumps(JUDGMENT) + "\n")
    with pytest.raises(HarnessError, match=r"x.jsonl:1: question_id 81 is not in the question file"):
        mt_bench.score_mt_bench(p, q)
    a = tmp_path / "a.jsonl"
    a.write_text('{"question_id": 81, "model_id": "m", "choices": []}\n')
    with pytest.raises(HarnessError, match=r"a.jsonl:1: field 'choices' must be a non-empty list of objects"):
        mt_bench.load_answers(a)
    a.write_text('{"question_id": 81, "model_id": "m", "choices": [{"index": 0}]}\n')
    with pytest.raises(HarnessError, match=r"a.jsonl:1: missing field 'turns'"):
        mt_bench.load_reference_answers(a)
    j = tmp_path / "prompts.jsonl"
    j.write_text('{"name": "single-v1", "type": "single", "system_prompt": "s", "output_format": "[[rating]]"}\n')
    with pytest.raises(HarnessError, match=r"prompts.jsonl:1: missing field 'prompt_template'"):
        mt_bench.load_judge_prompts(j)
    with pytest.raises(HarnessError, match=r"no such file"):
        mt_bench.score_mt_bench(tmp_path / "absent.jsonl")


@pytest.mark.vllm
def test_mt_bench_end_to_end(vllm_server_b, vllm_engine, shared: Path, tmp_path: Path) -> None:
    """The tiny model answers 2 questions (2 turns, vLLM engine); a `vllm serve` tiny model grades them."""
    from benchmarks.core.registry import EvalContext, get, run_benchmark
    from harness.runner import Run
    from harness.store import Store

    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    ctx = EvalContext(
        model_spec="vllm:tiny", store=store, run=run, annotator_spec=vllm_server_b.spec, limit=2,
        data={"mt_bench_dir": str(shared / "FastChat" / "data")}, options={"max_tokens": 16, "judge_max_tokens": 16},
    )  # fmt: skip
    ctx._models["vllm:tiny"] = vllm_engine
    res = run_benchmark("mt_bench", ctx)
    m = {x.name: x for x in res.metrics}
    assert all(get("mt_bench").metric(x) for x in m)  # every emitted metric is declared
    assert len(res.samples) == 4 and {s["turn"] for s in res.samples} == {1, 2}
    # the random judge rarely writes [[x]]: failures are counted, and never become a rating
    assert m["n_unparsed"].value == sum(s["score"] == -1 for s in res.samples)
    assert run.stats.calls_made == 2 + 2 + 4
    ctx._models.clear()


def test_leaderboard_carries_the_scored_numbers(shared: Path, tmp_path: Path) -> None:
    """Scored through the harness, recorded, published: the MT-Bench table holds exactly the scored numbers."""
    import subprocess
    import sys

    path = shared / "FastChat" / "third_party_judgments" / FILES[0]
    store, out = tmp_path / "s.sqlite", tmp_path / "lb"
    res = subprocess.run([sys.executable, "-m", "app", "score", "mt_bench", "--judgments", str(path), "--json",
                          "--record", "--store", str(store)], capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout)
    lb = subprocess.run([sys.executable, "-m", "app", "leaderboard", "--store", str(store), "--out", str(out)],
                        capture_output=True, text=True)  # fmt: skip
    assert lb.returncode == 0, lb.stderr
    table = json.loads((out / "actor.json").read_text())
    for row in table["rows"]:
        model = scored["models"][row["model"]]
        assert row["run_id"] == scored["run_id"]
        for k in ("turn1", "turn2", "overall"):
            assert row[f"mt_bench.{k}"]["value"] == model[k]
    assert len(table["rows"]) == len(scored["models"]) == 2


def test_ratings_outside_the_scale_are_counted_and_named(shared: Path, tmp_path: Path) -> None:
    """FastChat keeps a rating of 0 or 15 in its means; so do we (fidelity), but never silently."""
    import subprocess
    import sys

    real = shared / "FastChat" / "third_party_judgments" / FILES[1]
    zeros = [json.loads(line) for line in real.read_text().splitlines()]
    n_zero = sum(r["score"] == 0 for r in zeros)  # this real file holds two ratings of 0
    models = mt_bench.score_mt_bench(real)["models"]
    assert n_zero == 2 and sum(m["n_out_of_scale"] for m in models.values()) == n_zero
    rows = [{"question_id": 81, "model": "m", "turn": 1, "score": s} for s in (0, 15, 10, 1, -1)]
    path = tmp_path / "j_single.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = subprocess.run([sys.executable, "-m", "app", "score", "mt_bench", "--judgments", str(path), "--json"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)["models"]["m"]
    assert m["n_out_of_scale"] == 2 and m["n_valid"] == 4 and m["turn1"] == (0 + 15 + 10 + 1) / 4
    assert f"{path}: 2 rating(s) of m outside 1-10" in res.stderr


def test_overall_ci_is_clustered_by_question_with_a_t_quantile(tmp_path: Path) -> None:
    """Three questions, both turns rated: mean 38/6; residual sums per question 4/3, -2/3, -2/3; clustered
    se = sqrt(3/2 * (16/9 + 4/9 + 4/9)) / 6 = 1/3; half-width t(0.975, 2 df) * se = 4.302653 / 3 (the t table)."""
    ratings = {81: (8, 6), 82: (5, 7), 83: (9, 3)}
    rows = [{"question_id": q, "model": "m", "judge": ["gpt-4", "single-v1"], "user_prompt": "", "judgment": "",
             "score": r[t - 1], "turn": t} for q, r in ratings.items() for t in (1, 2)]  # fmt: skip
    path = tmp_path / "j.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    m = mt_bench.score_mt_bench(path)["models"]["m"]
    half = 4.302652729911275 / 3
    assert m["overall"] == pytest.approx(38 / 6, abs=1e-12)
    assert (m["overall_ci_low"], m["overall_ci_high"]) == pytest.approx((38 / 6 - half, 38 / 6 + half), abs=1e-9)
