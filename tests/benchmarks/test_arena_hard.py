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
