"""AlpacaEval 2 win rates from the real annotations, equal to the published leaderboard CSV."""

from pathlib import Path

import pandas as pd
import pytest

from benchmarks import alpaca_eval
from harness.types import HarnessError

CSV = "alpaca_eval/src/alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
MODELS = ["alpaca-7b", "OpenHermes-2.5-Mistral-7B", "FuseChat-Llama-3.1-8B-Instruct"]


@pytest.mark.parametrize("model", MODELS)
def test_win_rates_equal_the_leaderboard(shared: Path, model: str) -> None:
    board = pd.read_csv(shared / CSV, index_col=0)
    if model not in board.index:
        pytest.skip(f"{model} is not on the leaderboard CSV")
    row = board.loc[model]
    base = shared / "alpaca_eval" / "results" / model
    ours = alpaca_eval.score_alpaca_eval(base / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json",
                                         base / "model_outputs.json")  # fmt: skip
    for col in ("win_rate", "standard_error", "discrete_win_rate"):
        assert ours[col] == pytest.approx(row[col], abs=1e-9), col
    for col in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
        assert ours[col] == int(row[col]), col


def test_avg_length_of_llama3(shared: Path) -> None:
    outputs = alpaca_eval.load_model_outputs(
        shared / "alpaca_eval" / "results" / "Meta-Llama-3-8B-Instruct" / "model_outputs.json"
    )
    assert alpaca_eval.avg_length(outputs) == 1899


def test_draw_conventions() -> None:
    m = alpaca_eval.win_rate_metrics([1.0, 2.0, 1.5, 0.0, 1.75])
    assert m["n_draws"] == 2 and m["n_total"] == 5
    assert m["win_rate"] == pytest.approx(100 * (0 + 1 + 0.5 + 0.5 + 0.75) / 5)
    assert (m["n_wins"], m["n_wins_base"]) == (2, 1)
    assert m["discrete_win_rate"] == pytest.approx(100 * (0 + 1 + 0.5 + 0.5 + 1) / 5)


def test_bad_annotations(tmp_path: Path) -> None:
    p = tmp_path / "annotations.json"
    p.write_text('[{"instruction": "i", "output_1": "a", "output_2": "b"}]')
    with pytest.raises(HarnessError, match=r"annotations.json: item 0: missing field 'preference'"):
        alpaca_eval.load_annotations(p)
    p.write_text("[]")
    with pytest.raises(HarnessError, match="non-empty JSON list"):
        alpaca_eval.load_annotations(p)


def test_recorded_scores_reach_the_leaderboard(shared: Path, tmp_path: Path) -> None:
    """Scored through the harness, recorded, published: the table carries exactly the scored numbers."""
    import json
    import subprocess
    import sys

    store, out = tmp_path / "s.sqlite", tmp_path / "lb"
    scored = {}
    for model in MODELS:
        base = shared / "alpaca_eval" / "results" / model
        res = subprocess.run([sys.executable, "-m", "harness", "score", "alpaca_eval", "--annotations",
                              str(base / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json"), "--outputs",
                              str(base / "model_outputs.json"), "--json", "--record", "--store", str(store)],
                             capture_output=True, text=True)  # fmt: skip
        assert res.returncode == 0, res.stderr
        scored[model] = json.loads(res.stdout)
    lb = subprocess.run([sys.executable, "-m", "harness", "leaderboard", "--store", str(store), "--out", str(out)],
                        capture_output=True, text=True)  # fmt: skip
    assert lb.returncode == 0, lb.stderr
    rows = {r["model"]: r for r in json.loads((out / "actor.json").read_text())["rows"]}
    assert set(rows) == set(MODELS)
    for model, s in scored.items():
        assert rows[model]["alpaca_eval.win_rate"]["value"] == s["win_rate"]
        assert rows[model]["alpaca_eval.avg_length"]["value"] == s["avg_length"]
        assert rows[model]["run_id"] == s["run_id"]
    assert "alpaca_eval.win_rate" in (out / "leaderboard.md").read_text()
