"""Arena-Hard scores and CIs against the reference method (per-round logistic regression) on the real fixture."""

from pathlib import Path

import numpy as np
import pytest

from benchmarks import arena_hard
from harness.types import HarnessError
from tests.benchmarks import arena_hard_reference as ref

FIXTURE = "arena-hard-auto/fixture_10q_binaryfiddler"


def test_scores_and_cis_match_the_reference_method(shared: Path) -> None:
    judgments = arena_hard.load_judgment_dir(shared / FIXTURE / "model_judgment" / "gpt-4-1106-preview")
    battle_list = arena_hard.battles(judgments)
    models = ["gpt-4-0314", *sorted({m for m, _ in battle_list})]
    frame = ref.battles_frame(battle_list)
    # point estimates
    ours = arena_hard.bt_mle(arena_hard.win_counts(models, battle_list, np.arange(len(battle_list))[None, :]))[0]
    theirs = ref.compute_mle_elo(frame)
    ours_wr = 100 * arena_hard.win_rate_vs_baseline(ours[None, :])[0]
    for i, m in enumerate(models):
        assert ours_wr[i] == pytest.approx(ref.win_rate(theirs)[m], abs=0.05)
    # bootstrap: the same resampled battle sets through both methods
    idx = np.random.default_rng(42).integers(0, len(battle_list), size=(100, len(battle_list)))
    boot = arena_hard.bt_mle(arena_hard.win_counts(models, battle_list, idx))
    ref_boot = np.array([ref.compute_mle_elo(frame.iloc[row].reset_index(drop=True))[models].to_numpy() for row in idx])
    for q in (2.5, 97.5):
        ours_q = 100 * arena_hard.win_rate_vs_baseline(np.percentile(boot, q, axis=0)[None, :])[0]
        ref_q = 100 * arena_hard.win_rate_vs_baseline(np.percentile(ref_boot, q, axis=0)[None, :])[0]
        assert np.allclose(ours_q, ref_q, atol=0.05)
    result = arena_hard.score_arena_hard(
        shared / FIXTURE / "model_answer", shared / FIXTURE / "model_judgment" / "gpt-4-1106-preview"
    )
    assert set(result["models"]) == set(models[1:])
    for r in result["models"].values():
        assert r["ci_low"] <= r["score"] <= r["ci_high"] and r["avg_tokens"] > 0


def test_battle_weights_and_verdicts() -> None:
    rows = [{"model": "m", "games": [{"score": "A>>B"}, {"score": "A>>B"}]},
            {"model": "m", "games": [{"score": "A=B"}, {"score": None}]}]  # fmt: skip
    assert arena_hard.battles(rows) == [("m", "base")] * 3 + [("m", "model")] * 3 + [("m", "tie")]
    assert arena_hard.extract_verdict("so [[A>B]]") == "A>B"
    assert arena_hard.extract_verdict("[[A>B]] then [[B>A]]") is None
    assert arena_hard.extract_verdict("no verdict") is None


def test_bad_judgment_dir(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no judgment files"):
        arena_hard.load_judgment_dir(tmp_path)
    (tmp_path / "m.jsonl").write_text('{"question_id": "q", "model": "m"}\n')
    with pytest.raises(HarnessError, match=r"m.jsonl:1: missing field 'games'"):
        arena_hard.load_judgment_dir(tmp_path)


def test_score_cli_record_and_leaderboard(shared: Path, tmp_path: Path) -> None:
    """Scored through the harness, recorded, published: the Arena-Hard table carries exactly the scored numbers."""
    import json
    import subprocess
    import sys

    store, out = tmp_path / "s.sqlite", tmp_path / "lb"
    args = [sys.executable, "-m", "harness", "score", "arena_hard", "--answers", str(shared / FIXTURE / "model_answer"),
            "--judgments", str(shared / FIXTURE / "model_judgment" / "gpt-4-1106-preview"), "--json", "--record",
            "--store", str(store)]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout)
    lb = subprocess.run([sys.executable, "-m", "harness", "leaderboard", "--store", str(store), "--out", str(out)],
                        capture_output=True, text=True)  # fmt: skip
    assert lb.returncode == 0, lb.stderr
    rows = json.loads((out / "actor.json").read_text())["rows"]
    assert len(rows) == 6
    for row in rows:
        m = scored["models"][row["model"]]
        assert row["arena_hard.score"] == {"value": m["score"], "ci_low": m["ci_low"], "ci_high": m["ci_high"],
                                           "n": m["n_battles"]}  # fmt: skip
        assert row["arena_hard.avg_tokens"]["value"] == m["avg_tokens"]


@pytest.mark.vllm
def test_arena_hard_end_to_end(vllm_engine, vllm_server_b, shared: Path, tmp_path: Path) -> None:
    """The tiny model answers 2 Arena-Hard questions (vLLM engine); a `vllm serve` tiny model judges two games each."""
    from benchmarks.registry import EvalContext, run_benchmark
    from harness.runner import Run
    from harness.store import Store

    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    ctx = EvalContext(
        model_spec="vllm:tiny", store=store, run=run, judge_spec=vllm_server_b.spec, limit=2,
        data={"arena_hard_dir": str(shared / "arena-hard-auto" / "v0.1_e883410")},
        options={"max_tokens": 16, "judge_max_tokens": 16},
    )  # fmt: skip
    ctx._models["vllm:tiny"] = vllm_engine
    res = run_benchmark("arena_hard", ctx)
    m = {x.name: x for x in res.metrics}
    assert len(res.samples) == 2 and all(len(s["games"]) == 2 for s in res.samples)
    assert m["unparsed_verdicts"].value == sum(g["score"] is None for s in res.samples for g in s["games"])
    assert m["avg_tokens"].value is not None and run.stats.calls_made == 2 + 4
    ctx._models.clear()
