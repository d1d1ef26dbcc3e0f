"""Live `harness eval` runs equal `harness score` on the peer-format files they write, and recover planted truths.

The actor and the annotator are tests/planted_server.py, a local OpenAI-compatible server whose verdicts are
planted: each expected value below is computed from the planted draws (``model_wins``, the ratings), never
from the code under test. The LC win rate of the live run is checked against alpaca_eval's own
``get_length_controlled_winrate`` on the annotations the run wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.benchmarks.alpaca_eval.test_scorer import BASELINE, _gamed_frame, _outputs_path
from tests.planted_server import model_wins
from tests.servers import PlantedServer

N = 24
SEED, P_WIN, RATING1, RATING2 = 3, 0.7, 8, 5


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def live(shared: Path, tmp_path_factory: pytest.TempPathFactory):
    """One live eval of the three actor benchmarks against the planted server (Arena-Hard and MT-Bench on their
    built-in data); returns the output dir, the results and the server's request counts."""
    tmp = tmp_path_factory.mktemp("live")
    reference = json.loads(_outputs_path(shared, BASELINE).read_text())
    (tmp / "reference.json").write_text(json.dumps(reference[:N]))
    _gamed_frame(shared, "alpaca-7b").to_csv(tmp / "df_gamed.csv", index=False)
    server = PlantedServer(seed=SEED, p_win=P_WIN, rating1=RATING1, rating2=RATING2, retry_every=3)
    out = tmp / "out"
    try:
        res = _cli(
            "eval", "--model", server.spec("actor"), "--annotator", server.spec("judge"),
            "--benchmarks", "alpaca_eval,arena_hard,mt_bench", "--limit", str(N),
            "--data-for", f"alpaca_eval_reference={tmp / 'reference.json'}",
            "--data-for", f"alpaca_eval_gamed={tmp / 'df_gamed.csv'}",
            "--store", str(tmp / "s.sqlite"), "--out", str(out),
        )  # fmt: skip
        stats = server.stats()
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    metrics = {b: {m["metric"]: m for m in v["metrics"]} for b, v in doc["benchmarks"].items()}
    return {"out": out, "tmp": tmp, "doc": doc, "m": metrics, "stats": stats, "stdout": res.stdout}


def _score_json(*args: str) -> dict:
    res = _cli("score", *args, "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def test_alpaca_eval_live_equals_scored_and_recovers_the_planted_preference(live) -> None:
    out, m = live["out"] / "alpaca_eval", live["m"]["alpaca_eval"]
    assert live["doc"]["benchmarks"]["alpaca_eval"]["files"] == [
        "alpaca_eval/model_outputs.json", "alpaca_eval/annotations.json"]  # fmt: skip
    scored = _score_json("alpaca_eval", "--annotations", str(out / "annotations.json"),
                         "--outputs", str(out / "model_outputs.json"), "--gamed", str(live["tmp"] / "df_gamed.csv"))  # fmt: skip
    for key in ("win_rate", "standard_error", "lc_win_rate", "lc_standard_error", "discrete_win_rate", "avg_length"):
        assert m[key]["value"] == scored[key], key  # exactly: the same scorer on the same rows
    assert m["win_rate"]["ci_low"] == scored["win_rate"] - 1.96 * scored["standard_error"]
    # the planted truth: the annotator prefers the actor's output on exactly these instructions
    ann = json.loads((out / "annotations.json").read_text())
    wins = [model_wins(SEED, P_WIN, a["instruction"]) for a in ann]
    assert len(ann) == N and m["n_unparsed"]["value"] == 0
    assert [a["preference"] for a in ann] == [2.0 if w else 1.0 for w in wins]
    assert m["win_rate"]["value"] == pytest.approx(100 * sum(wins) / N, abs=1e-9)
    assert m["win_rate"]["ci_low"] <= 100 * P_WIN <= m["win_rate"]["ci_high"]


def test_live_lc_equals_alpaca_evals_own_glm(live, monkeypatch: pytest.MonkeyPatch) -> None:
    import sklearn
    from alpaca_eval.metrics import glm_winrate

    gamed_csv = live["tmp"] / "df_gamed.csv"
    monkeypatch.setattr(glm_winrate, "hf_hub_download", lambda **kw: str(gamed_csv))  # its only hub read here
    ann = json.loads((live["out"] / "alpaca_eval" / "annotations.json").read_text())
    with sklearn.config_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = glm_winrate.get_length_controlled_winrate(pd.DataFrame(ann), save_weights_dir=None)
    m = live["m"]["alpaca_eval"]
    assert m["lc_win_rate"]["value"] == pytest.approx(ref["length_controlled_winrate"], abs=1e-6)
    assert m["lc_standard_error"]["value"] == pytest.approx(ref["lc_standard_error"], abs=1e-6)


def test_arena_hard_live_equals_scored_with_retries_and_planted_verdicts(live) -> None:
    out, m, doc = live["out"] / "arena_hard", live["m"]["arena_hard"], live["doc"]["benchmarks"]["arena_hard"]
    model, judge = doc["extra"]["model"], doc["extra"]["judge"]
    assert doc["files"] == [
        f"arena_hard/model_answer/{model}.jsonl",
        f"arena_hard/model_judgment/{judge}/{model}.jsonl",
        f"arena_hard/model_judgment/{judge}/harness_export.json",
    ]
    assert doc["extra"]["bootstrap"] == "questions"  # the live default: whole questions resampled
    scored = _score_json("arena_hard", "--answers", str(out / "model_answer"), "--judgments",
                         str(out / "model_judgment" / judge), "--bootstrap", "questions")["models"][model]  # fmt: skip
    assert (m["score"]["value"], m["score"]["ci_low"], m["score"]["ci_high"]) == (
        scored["score"], scored["ci_low"], scored["ci_high"])  # fmt: skip
    assert m["avg_tokens"]["value"] == scored["avg_tokens"] and m["score"]["n"] == scored["n_battles"]
    rows = [json.loads(line) for line in (out / "model_judgment" / judge / f"{model}.jsonl").read_text().splitlines()]
    assert len(rows) == N and m["n_unparsed"]["value"] == 0
    retried = 0
    for r in rows:
        g1, g2 = r["games"]
        # the planted verdict, seen from each game's order (game 1: baseline is A)
        question = g1["user_prompt"].split("<|User Prompt|>\n", 1)[1].split("\n\n<|The Start of Assistant A")[0]
        wins = model_wins(SEED, P_WIN, question)
        assert (g1["score"], g2["score"]) == (("B>A", "A>B") if wins else ("A>B", "B>A"))
        retried += g1["judgment"].count("\n") == 2  # two attempts joined by newlines, as gen_judgment.py
    assert 0 < retried < N  # the judge_config's number_of_judgment_attempts was used, on some questions only
    assert live["stats"]["arena_hard"] == 2 * N + 2 * retried


def test_mt_bench_live_equals_scored_and_recovers_the_planted_ratings(live) -> None:
    out, m, doc = live["out"] / "mt_bench", live["m"]["mt_bench"], live["doc"]["benchmarks"]["mt_bench"]
    model, judge = doc["extra"]["model"], doc["extra"]["judge"]
    scored = _score_json("mt_bench", "--judgments", str(out / "model_judgment" / f"{judge}_single.jsonl"))
    for key in ("turn1", "turn2", "overall"):
        assert m[key]["value"] == scored["models"][model][key], key
    assert (m["overall"]["ci_low"], m["overall"]["ci_high"]) == (
        scored["models"][model]["overall_ci_low"], scored["models"][model]["overall_ci_high"])  # fmt: skip
    assert (m["turn1"]["value"], m["turn2"]["value"], m["overall"]["value"]) == (RATING1, RATING2,
                                                                                 (RATING1 + RATING2) / 2)  # fmt: skip
    assert m["n_unparsed"]["value"] == 0 and m["n_out_of_scale"]["value"] == 0
    answers = [json.loads(line) for line in (out / "model_answer" / f"{model}.jsonl").read_text().splitlines()]
    assert len(answers) == min(N, 80) and all(len(a["choices"][0]["turns"]) == 2 for a in answers)


def _score_args(bench: str, live: dict) -> list[str]:
    """`harness score BENCH` on the live run's exported peer files (no other flag: the export says the rest)."""
    out, doc = live["out"] / bench, live["doc"]["benchmarks"][bench]
    if bench == "mt_bench":
        return ["--judgments", str(out / "model_judgment" / f"{doc['extra']['judge']}_single.jsonl")]
    if bench == "arena_hard":
        return [
            "--answers",
            str(out / "model_answer"),
            "--judgments",
            str(out / "model_judgment" / doc["extra"]["judge"]),
        ]
    return ["--annotations", str(out / "annotations.json"), "--outputs", str(out / "model_outputs.json"),
            "--gamed", str(live["tmp"] / "df_gamed.csv")]  # fmt: skip


@pytest.mark.parametrize("bench", ["mt_bench", "arena_hard", "alpaca_eval"])
def test_score_record_stores_the_live_rows(live, bench: str) -> None:
    """`harness score BENCH --record` on the live run's exported files stores the rows `harness eval` stored:
    every metric with the same value, CI and n (both go through the declaration's ``to_rows``)."""
    import sqlite3

    store = live["tmp"] / f"scored-{bench}.sqlite"
    res = _cli("score", bench, *_score_args(bench, live), "--record", "--store", str(store))
    assert res.returncode == 0, res.stderr[-2000:]
    query = f"SELECT metric, value, ci_low, ci_high, n FROM results WHERE benchmark='{bench}' ORDER BY metric"
    with sqlite3.connect(live["tmp"] / "s.sqlite") as a, sqlite3.connect(store) as b:
        live_rows, scored_rows = a.execute(query).fetchall(), b.execute(query).fetchall()
    assert scored_rows == live_rows
    want = {"mt_bench": {"turn1", "turn2", "overall", "mean_of_turns", "n_unparsed", "n_out_of_scale"},
            "arena_hard": {"score", "n_unparsed", "avg_tokens"},
            "alpaca_eval": {"win_rate", "standard_error", "lc_win_rate", "discrete_win_rate", "avg_length",
                            "n_unparsed"}}[bench]  # fmt: skip
    assert {r[0] for r in live_rows} >= want


def test_arena_hard_score_with_no_flags_reproduces_the_live_numbers(live) -> None:
    """`harness score arena_hard` with no flags on a live run's export: the live score and CI, and it says which
    bootstrap it used (the export's, read from the settings file beside the judgments)."""
    out, m, doc = live["out"] / "arena_hard", live["m"]["arena_hard"], live["doc"]["benchmarks"]["arena_hard"]
    model, judge = doc["extra"]["model"], doc["extra"]["judge"]
    args = ("arena_hard", "--answers", str(out / "model_answer"), "--judgments", str(out / "model_judgment" / judge))
    scored = _score_json(*args)
    assert (m["score"]["value"], m["score"]["ci_low"], m["score"]["ci_high"]) == (
        scored["models"][model]["score"], scored["models"][model]["ci_low"], scored["models"][model]["ci_high"])  # fmt: skip
    assert scored["bootstrap"] == "questions" and scored["bootstrap_from"].endswith("harness_export.json")
    table = _cli("score", *args)
    assert table.returncode == 0 and "questions bootstrap" in table.stdout
    # a flag still wins over the export, and says so
    battles = _score_json(*args, "--bootstrap", "battles")
    assert battles["bootstrap"] == "battles" and battles["bootstrap_from"] == "--bootstrap"
