"""Arena-Hard v2.0 scoring on a synthetic judgment set in v2.0's format: two categories, two judges, null verdicts.

Expected point scores and dropped counts are worked out by hand below (one line per row); the bootstrap is
checked against a restatement of upstream show_result.py's pandas code run after ``np.random.seed(seed)``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.arena_hard import v2
from harness.types import HarnessError


def _game(label: str | None) -> dict:
    return {"score": label, "judgment": f"... [[{label}]]", "prompt": []}


# (judge, model, uid, category, game 1 label, game 2 label); game 1: A = baseline, B = model; game 2 swapped.
ROWS = [
    ("j1", "m1", "u1", "hard_prompt", "A<B", "A>B"),  # model wins both: [1, 1]
    ("j1", "m1", "u2", "hard_prompt", "B>>A", "A=B"),  # game 2 tie 0.5, game 1 strong model win x3: [0.5, 1, 1, 1]
    ("j1", "m1", "u3", "hard_prompt", None, "A>B"),  # game 1 without a verdict: dropped
    ("j1", "m1", "u4", "hard_prompt", "A>B", "NULLGAME"),  # game 2 missing (failed call): dropped
    ("j2", "m1", "u1", "hard_prompt", "B=A", "A<<B"),  # game 2 strong loss x3, game 1 tie: [0, 0, 0, 0.5]
    ("j1", "org/m2", "u1", "hard_prompt", "A>>B", "B<A"),  # game 2 win, game 1 strong baseline win x3: [1, 0, 0, 0]
    ("j1", "org/m2", "u2", "hard_prompt", "A=B", "B>A"),  # game 2 loss, game 1 tie: [0, 0.5]
    ("j1", "m1", "u9", "creative_writing", "A<B", "A>B"),  # another category: [1, 1]
]
# each row's battle values by hand, in upstream's order (game 2's value, then one minus game 1's; a strong verdict
# three times); None: the row is dropped
BATTLES = [[1, 1], [0.5, 1, 1, 1], None, None, [0, 0, 0, 0.5], [1, 0, 0, 0], [0, 0.5], [1, 1]]
# by hand: m1 hard_prompt = (2 + 3.5 + 0.5) / 10 battles = 60 %, 2 rows dropped; m2 = 1.5 / 6 = 25 %, none dropped
EXPECTED = {"m1": (60.0, 10, 2), "m2": (25.0, 6, 0)}


@pytest.fixture()
def judged(tmp_path: Path) -> list[Path]:
    dirs = {j: tmp_path / "model_judgment" / j for j in ("j1", "j2")}
    lines: dict[Path, list[str]] = {}
    for judge, model, uid, cat, g1, g2 in ROWS:
        games = [_game(g1), None if g2 == "NULLGAME" else _game(g2)]
        row = {"uid": uid, "category": cat, "judge": judge, "model": model, "baseline": v2.BASELINES[cat],
               "games": games}  # fmt: skip
        path = dirs[judge] / f"{model.split('/')[-1]}.jsonl"
        lines.setdefault(path, []).append(json.dumps(row))
    for path, rows in lines.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n")
    return [dirs["j1"], dirs["j2"]]


def _upstream_bootstrap(category: str, seed: int, rounds: int) -> pd.DataFrame:
    """show_result.py's non-style path restated with pandas on the hand-written :data:`BATTLES` (models named
    without their path, as upstream): explode the battle values, then per round
    ``groupby("model").sample(frac=1.0, replace=True).groupby("model").mean()`` after np.random.seed(seed)."""
    recs = [{"model": model.split("/")[-1], "scores": values}
            for (_, model, _, cat, _, _), values in zip(ROWS, BATTLES, strict=True) if cat == category and values]  # fmt: skip
    df = pd.DataFrame(recs).explode("scores")
    df["scores"] = df["scores"].astype(float)
    np.random.seed(seed)
    boots = [df.groupby("model").sample(frac=1.0, replace=True).groupby("model")["scores"].mean()
             for _ in range(rounds)]  # fmt: skip
    return pd.DataFrame(boots) * 100


def test_point_scores_and_dropped_rows_are_the_hand_counts(judged: list[Path]) -> None:
    res = v2.score_arena_hard_v2(judged, category="hard_prompt")
    assert res["baseline"] == "o3-mini-2025-01-31" and res["judges"] == ["j1", "j2"] and res["n_dropped"] == 2
    for model, (score, n, dropped) in EXPECTED.items():
        m = res["models"][model]
        assert (m["point_score"], m["n_battles"], m["n_dropped"]) == (score, n, dropped)
    assert res["models"]["o3-mini-2025-01-31"]["score"] == 50.0
    cw = v2.score_arena_hard_v2(judged, category="creative_writing")
    assert cw["baseline"] == "gemini-2.0-flash-001" and cw["models"]["m1"]["point_score"] == 100.0


def test_bootstrap_equals_upstreams_pandas_stream_and_is_reproducible(judged: list[Path]) -> None:
    rows = v2.load_judgments(judged)
    ours = v2.score_rows(rows, category="hard_prompt", seed=7, rounds=100)
    ref = _upstream_bootstrap("hard_prompt", seed=7, rounds=100)
    for model in ("m1", "m2"):
        m = ours["models"][model]
        assert m["score"] == pytest.approx(ref[model].mean(), abs=1e-12)  # upstream prints the mean of the rounds
        assert m["ci90_low"] == pytest.approx(ref[model].quantile(0.05), abs=1e-12)
        assert m["ci90_high"] == pytest.approx(ref[model].quantile(0.95), abs=1e-12)
        assert m["ci95_low"] <= m["ci90_low"] <= m["score"] <= m["ci90_high"] <= m["ci95_high"]
    assert v2.score_rows(rows, seed=7) == v2.score_rows(rows, seed=7)  # seeded: run to run the same
    assert v2.score_rows(rows, seed=8)["models"]["m1"]["score"] != ours["models"]["m1"]["score"]


def test_verdict_parsing_is_upper_cased_last_match() -> None:
    assert v2.parse_verdict("first [[a>b]] then, finally, [[b>>a]]") == "B>>A"
    assert v2.parse_verdict("only single brackets [A=B] here") == "A=B"
    assert v2.parse_verdict("[[B<A]] and [A<<B]") == "B<A"  # the first pattern that matches wins
    assert v2.parse_verdict("no verdict") is None


def test_cli_detects_v2_and_names_a_bad_label(judged: list[Path], tmp_path: Path) -> None:
    args = [sys.executable, "-m", "app", "score", "arena_hard", "--judgments", str(judged[0]), "--judgments",
            str(judged[1])]  # fmt: skip
    res = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["version"] == "v2.0" and doc["models"]["m1"]["point_score"] == 60.0
    table = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert "Arena-Hard v2.0, hard_prompt" in table.stdout and "90%" in table.stdout
    assert "rows dropped (a game without a verdict): 2" in table.stdout
    bad = judged[0] / "m1.jsonl"
    bad.write_text(bad.read_text().replace('"score": "A<B"', '"score": "A>>>B"', 1))
    res = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and f"{bad}:1: field 'games[0].score': unknown verdict label 'A>>>B'" in res.stderr
    with pytest.raises(HarnessError, match="unknown category 'coding-x'"):
        v2.score_rows(v2.load_judgments(judged[1:]), category="coding-x")


def test_recorded_v2_scores_reach_the_leaderboard(judged: list[Path], tmp_path: Path) -> None:
    """--record stores v2.0 scores as benchmark arena_hard_v2 (not v0.1's arena_hard), with the 95% interval."""
    store, out = tmp_path / "s.sqlite", tmp_path / "lb"
    args = [sys.executable, "-m", "app", "score", "arena_hard", "--judgments", str(judged[0]), "--judgments",
            str(judged[1]), "--json", "--record", "--store", str(store)]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout)["models"]
    lb = subprocess.run([sys.executable, "-m", "app", "leaderboard", "--store", str(store), "--out", str(out)],
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert lb.returncode == 0, lb.stderr
    rows = {r["model"]: r for r in json.loads((out / "actor.json").read_text())["rows"]}
    assert set(rows) == {"m1", "m2"}
    for model, row in rows.items():
        m = scored[model]
        assert row["arena_hard_v2.score"] == {"value": m["score"], "ci_low": m["ci95_low"], "ci_high": m["ci95_high"],
                                              "n": m["n_battles"]}  # fmt: skip
        assert row["arena_hard_v2.n_dropped"]["value"] == EXPECTED[model][2]
