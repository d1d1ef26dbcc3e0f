"""`harness eval --benchmarks judge --judge A --judge B` on the real OASST sample (issue 15): one evaluator row per
judge plus their ensemble, with Krippendorff's alpha, each judge a planted one whose scores the test knows.

The judges are two seeds of tests/planted_server.py: each scores an OASST response by
:func:`unranked_score` (a consensus score with probability Q, else its own draw). The expected numbers are
computed here from those draws and the human ranks, never by the code under test: the prompts, responses and
ranks come from this test's own walk of the OASST trees (:func:`own_ranked`), not from the loader under test.

Those two judges ignore the ranks, so their accuracy is near 0.5 and a loader that read the ranks upside down
would go unseen; a third judge therefore scores a copy of the sample whose responses carry their OASST rank
(``[rank=K]``, tests/planted_server.py's ranked branch: the best response 5 and the others 1 on the prompts it is
faithful on, the reverse elsewhere), whose accuracy is far from 0.5 and would flip under an inversion.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import krippendorff
import numpy as np
import pytest

from tests.planted_server import judge_faithful, unranked_score
from tests.servers import PlantedServer

Q = 0.7


def own_ranked(path: Path) -> list[tuple[str, list[str], list[int]]]:
    """(prompt, responses, OASST ranks) of every prompter message, in the export's depth-first order, that has at
    least two ranked, not deleted assistant replies (the OASST export format: a message's ``replies`` nest
    beneath it; ``rank`` 0 is the best reply; an unranked reply has no ``rank``)."""
    out: list[tuple[str, list[str], list[int]]] = []

    def walk(msg: dict) -> None:
        if msg["role"] == "prompter" and not msg.get("deleted"):
            ranked = [r for r in msg.get("replies", []) if r["role"] == "assistant" and r.get("rank") is not None
                      and not r.get("deleted")]  # fmt: skip
            if len(ranked) >= 2:
                out.append((msg["text"], [r["text"] for r in ranked], [int(r["rank"]) for r in ranked]))
        for reply in msg.get("replies", []):
            walk(reply)

    for line in path.read_text().splitlines():
        walk(json.loads(line)["prompt"])
    return out


def _marked_copy(path: Path, out: Path) -> None:
    """The OASST sample with ``[rank=K] `` (K = OASST rank + 1) before every ranked assistant reply's text."""

    def mark(msg: dict) -> None:
        if msg["role"] == "assistant" and msg.get("rank") is not None:
            msg["text"] = f"[rank={int(msg['rank']) + 1}] {msg['text']}"
        for reply in msg.get("replies", []):
            mark(reply)

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        mark(row["prompt"])
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _accuracy_ties_excluded(ranks: list[list[int]], scores: list[list[float]]) -> tuple[float, int]:
    """Over response pairs of one prompt with different human ranks (0 = best) and different scores: the share
    where the higher score goes to the better-ranked response."""
    right = n = 0
    for rk, sc in zip(ranks, scores, strict=True):
        for i in range(len(rk)):
            for j in range(i + 1, len(rk)):
                if rk[i] != rk[j] and sc[i] != sc[j]:
                    n += 1
                    right += (rk[i] < rk[j]) == (sc[i] > sc[j])
    return right / n, n


def _rows(doc: dict, judge: str) -> dict[str, dict]:
    (ev,) = [e for e in doc["benchmarks"]["judge"]["extra"]["evaluators"] if e["judge"] == judge]
    return {r["metric"]: r for r in ev["metrics"]}


def test_two_planted_judges_and_their_ensemble_on_the_oasst_sample(shared: Path, tmp_path: Path) -> None:
    data = shared / "Open-Assistant" / "en_100_tree.jsonl"
    prompts = own_ranked(data)
    _marked_copy(data, tmp_path / "marked.jsonl")
    server = PlantedServer(q_judge=Q)
    try:
        specs = [server.spec(f"judge-s{k}") + "?concurrency=16" for k in (1, 2)]
        labels = [f"openai:judge-s{k}@{server.base_url}?concurrency=..." for k in (1, 2)]
        common = ["--benchmarks", "judge", "--data", str(data), "--option", "judge_n=1",
                  "--option", "n_resamples=200", "--store", str(tmp_path / "s.sqlite")]  # fmt: skip
        args = [sys.executable, "-m", "app", "eval", "--model", specs[0], "--judge", specs[0], "--judge", specs[1],
                *common, "--out", str(tmp_path / "both")]  # fmt: skip
        res = subprocess.run(args, capture_output=True, text=True, timeout=600, env={"COLUMNS": "100", **_env()})
        assert res.returncode == 0, res.stderr[-2000:]
        alone = subprocess.run(
            [sys.executable, "-m", "app", "eval", "--model", specs[0], "--judge", specs[0], *common,
             "--out", str(tmp_path / "alone")],
            capture_output=True, text=True, timeout=600, env=_env(),
        )  # fmt: skip
        assert alone.returncode == 0, alone.stderr[-2000:]
        calls = server.stats()
        spec3 = server.spec("judge-s3") + "?concurrency=16"
        ranked = subprocess.run(
            [sys.executable, "-m", "app", "eval", "--model", spec3, "--judge", spec3, *common[:2],
             "--data", str(tmp_path / "marked.jsonl"), *common[4:], "--out", str(tmp_path / "ranked")],
            capture_output=True, text=True, timeout=600, env=_env(),
        )  # fmt: skip
        assert ranked.returncode == 0, ranked.stderr[-2000:]
    finally:
        server.stop()
    n_resp = sum(len(responses) for _, responses, _ in prompts)
    assert n_resp == 641 and calls["judge"] == 2 * n_resp  # the single-judge run reused judge 1's judgments
    assert "calls made 0" in alone.stdout

    # the printed evaluator table: one row per judge and the ensemble, then alpha
    out = res.stderr  # the tables are on stderr (app/console.py), the one-line summary on stdout
    assert "judge: evaluators" in out and "Krippendorff's alpha (ordinal) between the judges" in out
    table = out[out.index("judge: evaluators") :]
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["J1", "J2", "mean(J1+J2)"]
    assert f"J1: {labels[0]}" in table and f"J2: {labels[1]}" in table  # the legend, specs as shown()
    assert max(len(line) for line in out.splitlines()) <= 100

    doc = json.loads((tmp_path / "both" / "results.json").read_text())
    ranks = [rk for _, _, rk in prompts]
    planted = [[[float(unranked_score(k, Q, prompt, r)) for r in responses] for prompt, responses, _ in prompts]
               for k in (1, 2)]  # fmt: skip
    # each judge's row: the planted scores' accuracy, and exactly what the judge scores alone
    single = {m["metric"]: m for m in json.loads((tmp_path / "alone" / "results.json").read_text())
              ["benchmarks"]["judge"]["metrics"]}  # fmt: skip
    for label, scores in zip(labels, planted, strict=True):
        rows = _rows(doc, label)
        acc, n = _accuracy_ties_excluded(ranks, scores)
        assert rows["pairwise_accuracy_ties_excluded"]["value"] == pytest.approx(acc, abs=1e-12)
        assert rows["pairwise_accuracy_ties_excluded"]["n"] == n
        # the planted judges are served models with no known price: their cost is unknown (null), never $0
        assert rows["judgment_parse_rate"]["value"] == 1.0 and rows["cost_per_1k"]["value"] is None
    for name, row in _rows(doc, labels[0]).items():
        assert single[name] == row, name
    # the ensemble (mean of the two scores) is the benchmark's own result
    ens_scores = [[(a + b) / 2 for a, b in zip(pa, pb, strict=True)] for pa, pb in zip(*planted, strict=True)]
    acc, n = _accuracy_ties_excluded(ranks, ens_scores)
    main = {m["metric"]: m for m in doc["benchmarks"]["judge"]["metrics"]}
    assert main["pairwise_accuracy_ties_excluded"]["value"] == pytest.approx(acc, abs=1e-12)
    assert main["pairwise_accuracy_ties_excluded"]["n"] == n
    ens_label = f"ensemble(mean: {labels[0]} + {labels[1]})"
    assert _rows(doc, ens_label)["pairwise_accuracy_ties_excluded"] == main["pairwise_accuracy_ties_excluded"]
    # alpha between the judges over the 641 responses
    flat = np.array([[s for p in judge for s in p] for judge in planted], dtype=float)
    alpha = krippendorff.alpha(reliability_data=flat, level_of_measurement="ordinal")
    assert main["krippendorff_alpha"]["value"] == pytest.approx(alpha, abs=1e-12)
    assert main["krippendorff_alpha"]["n"] == 641
    lo, hi = main["krippendorff_alpha"]["ci_low"], main["krippendorff_alpha"]["ci_high"]
    assert lo < alpha < hi and 0.3 < alpha  # the planted consensus (Q = 0.7) shows as agreement
    # the rank-aware judge: its accuracy from the test's own ranks, far from what upside-down ranks would give
    faithful = [judge_faithful(3, Q, prompt) for prompt, _, _ in prompts]
    scores3 = [[5.0 if (rk == 0) == f else 1.0 for rk in rks] for (_, _, rks), f in zip(prompts, faithful, strict=True)]
    acc3, n3 = _accuracy_ties_excluded(ranks, scores3)
    inverted, _ = _accuracy_ties_excluded([[-r for r in rk] for rk in ranks], scores3)
    got3 = {m["metric"]: m for m in json.loads((tmp_path / "ranked" / "results.json").read_text())
            ["benchmarks"]["judge"]["metrics"]}  # fmt: skip
    assert got3["pairwise_accuracy_ties_excluded"]["value"] == pytest.approx(acc3, abs=1e-12)
    assert got3["pairwise_accuracy_ties_excluded"]["n"] == n3
    assert abs(acc3 - inverted) > 0.2 and acc3 > 0.6  # the test sees an inversion: about Q against 1 - Q
    # the store: one judge-family row per judge and one for the ensemble (the leaderboard's evaluator table)
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        query = "SELECT DISTINCT model FROM results WHERE benchmark = 'judge' AND run_id = ?"
        models = {m for (m,) in conn.execute(query, (doc["run_id"],))}
    assert models == {*labels, ens_label}  # the model under test was not judged: no judge row of its own
    # the leaderboard's judge family: one row per judge and the ensemble, named readably at 80 columns
    lb = subprocess.run([sys.executable, "-m", "app", "leaderboard", "--store", str(tmp_path / "s.sqlite"), "--out",
                         str(tmp_path / "lb")], capture_output=True, text=True, timeout=300, env=_env())  # fmt: skip
    assert lb.returncode == 0, lb.stderr[-2000:]
    shown_lb = lb.stdout + lb.stderr
    assert "│ judge-s1 " in shown_lb and "│ judge-s2 " in shown_lb and "│ ensemble(mean: " in shown_lb  # (folded)
    assert max(len(line) for line in shown_lb.splitlines() if line[:1] in "┏┃┡│└") <= 80
    csv_rows = (tmp_path / "lb" / "judge.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 3 + 1 + 1  # and the single-judge run's row, and the rank-aware judge's


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "COLUMNS"}
