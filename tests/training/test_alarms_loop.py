"""A saturated judge in the loop: the alarms fire and a gate on them stops the loop before DPO trains on its pairs.

The iterations' judge is an ensemble (``judge.specs``, majority) of two planted judges, each answering "Score: 5"
to every response (the NeMo-Aligner failure, "always a 5"): an ensemble is an ordinary judge in the loop. The
actor is the tiny model. Every prompt's responses then tie, no actor pair
can be chosen, and ``judge_alarms.all_equal_share`` is 1.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

from tests.servers import PlantedServer
from tests.training.test_loop import short_config

HARNESS = [sys.executable, "-m", "app"]


def test_an_always_5_judge_fires_the_alarms_and_its_gate_stops_the_loop_before_dpo(tmp_path: Path) -> None:
    server = PlantedServer(judge_score=5)
    try:
        cfg = short_config(tmp_path / "run")
        # the judges are planted: M1 only has to answer, so its SFT is a short one without judge (EFT) data
        cfg["sft"].update(epochs=1, use_eft=False, ift_examples=100)
        cfg["prompts"]["n"] = 4
        cfg["generation"]["k"] = 3
        cfg["judge"] = {"n": 2, "max_tokens": 48, "specs": [server.spec("always-5-a"), server.spec("always-5-b")],
                        "ensemble": "majority"}  # fmt: skip
        cfg["iterations"] = [{**cfg["iterations"][0], "pair_types": ["actor"]}]
        cfg["eval"] = {"benchmarks": ["taskworld"], "limit": 5, "options": {"max_tokens": 16}}
        cfg["best_metric"] = "taskworld.accuracy"
        cfg["gates"] = ["taskworld.accuracy >= 0", "judge_alarms.all_equal_share < 0.5"]
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(cfg))
        res = subprocess.run([*HARNESS, "iterate", "--config", str(path), "--store", str(tmp_path / "s.sqlite")],
                             capture_output=True, text=True, timeout=900)  # fmt: skip
        judged = server.stats()["judge"]
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert "gate after M1: continue" in out  # the evaluation's rules pass; the alarm rule waits for the judgments
    assert "alarm gate on M1's judgments: STOP (before DPO)" in out
    assert "FAIL judge_alarms.all_equal_share < 0.5: 1 >= 0.5" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stopped_by_gate"] == {"after": "M1", "failed": ["judge_alarms.all_equal_share < 0.5"]}
    assert summary["iterations"][0]["judge_alarms.all_equal_share"] == 1.0
    assert not (tmp_path / "run" / "m2").exists() and not (tmp_path / "run" / "iter_1" / "dpo.manifest.json").exists()
    judgments = [json.loads(x) for x in (tmp_path / "run" / "iter_1" / "judgments.jsonl").read_text().splitlines()]
    n_responses = sum(len(r["responses"]) for r in judgments)
    # every judgment came from the two planted judges (n = 2 each per response), kept in member order
    assert judged == 2 * 2 * n_responses > 0
    assert all(len(j) == 4 for r in judgments for j in r["judgments"])
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        rows = dict(
            conn.execute("SELECT metric, value FROM results WHERE benchmark = 'judge_alarms' AND iteration = 1")
        )
    assert rows["all_equal_share"] == 1.0 and rows["top_score_share"] == 1.0 and rows["score_entropy"] == 0.0
    assert rows["n_pairs"] == 0.0
