"""The judge-quality benchmark end to end on the real OASST sample and on the task world."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.core.registry import EvalContext, run_benchmark
from harness.runner import Run
from harness.store import Store
from tests.conftest import TINY_JUDGE_PROMPT


def _metrics(doc: dict) -> dict:
    return {m["metric"]: m for m in doc["benchmarks"]["judge"]["metrics"]}


def test_oasst_sample_with_hf_backend(tiny_model: Path, shared: Path, tmp_path: Path) -> None:
    """All 212 prompts (641 replies) of the real OASST sample judged by the tiny model through the CLI."""
    out = tmp_path / "out"
    args = [
        sys.executable, "-m", "app", "eval", "--model", f"hf:{tiny_model}", "--benchmarks", "judge",
        "--data", str(shared / "Open-Assistant" / "en_100_tree.jsonl"), "--option", "judge_max_tokens=8",
        "--option", "n_resamples=100", "--store", str(tmp_path / "s.sqlite"), "--out", str(out),
    ]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads((out / "results.json").read_text())
    m = _metrics(doc)
    assert m["parse_rate"]["n"] == 641 and doc["calls"]["calls_made"] == 641
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 641 and len({s["prompt_id"] for s in samples}) == 212
    # every unparsed judgment is recorded with its text and counted; none becomes a score
    unparsed = [s for s in samples if not any(s["parsed"])]
    assert all(s["score"] is None and s["judgments"] for s in unparsed)
    assert m["judgment_parse_rate"]["value"] == pytest.approx(1 - len(unparsed) / 641)
    assert {"versions", "git_hash", "timings", "config"} <= set(doc)
    again = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "calls made 0, reused 641" in again.stdout


def test_taskworld_judge_scores_with_a_trained_judge(tiny_judge: Path, tmp_path: Path) -> None:
    """A judge that writes Score lines: the metrics are computed, with CIs, and the histogram sums to 1."""
    from harness.backends import load_model

    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    ctx = EvalContext(model_spec=f"hf:{tiny_judge}", store=store, run=run, limit=30,
                      options={"judge_n": 3, "judge_max_tokens": 64, "n_resamples": 200,
                               "judge_prompt": TINY_JUDGE_PROMPT})  # fmt: skip
    ctx._models[ctx.model_spec] = load_model(ctx.model_spec, store=store)
    res = run_benchmark("judge", ctx)
    m = {x.name: x for x in res.metrics}
    # a 30-second SFT of a random model: it must write some parseable Score lines, not all
    assert 0.1 < m["judgment_parse_rate"].value < 1.0
    assert m["pairwise_accuracy"].value is not None and m["pairwise_accuracy"].n > 0
    assert m["pairwise_accuracy"].ci_low <= m["pairwise_accuracy"].value <= m["pairwise_accuracy"].ci_high
    assert sum(m[f"score_frac_{k}"].value or 0 for k in range(6)) == pytest.approx(1.0)
    assert run.stats.calls_made == 120  # 30 prompts x 4 responses, one request of n=3 each


@pytest.mark.vllm
def test_oasst_sample_with_vllm_engine_and_reference_judge(
    vllm_server_b, vllm_engine, shared: Path, tmp_path: Path
) -> None:
    """The in-process vLLM engine judges the OASST sample; a `vllm serve` of a second tiny model is the reference."""
    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    ctx = EvalContext(
        model_spec="vllm:tiny", store=store, run=run, reference_judge_spec=vllm_server_b.spec,
        data={"judge": str(shared / "Open-Assistant" / "en_100_message.jsonl")},
        options={"judge_n": 2, "judge_max_tokens": 8, "n_resamples": 100},
    )  # fmt: skip
    ctx._models["vllm:tiny"] = vllm_engine
    res = run_benchmark("judge", ctx)
    m = {x.name: x for x in res.metrics}
    assert m["parse_rate"].n == 641 and len(res.samples) == 641
    assert all(len(s["judgments"]) == 2 for s in res.samples)
    # the reference judge was really called: both orders of one pair per prompt (212 prompts)
    assert run.stats.calls_made >= 641 + 2 * 212
    assert {"agreement", "agreement_without_ties", "self_chosen_agreement"} <= set(m)
    ctx._models.clear()


def test_score_fractions_round_halves_up(tmp_path: Path) -> None:
    """A judge that always writes "Score: 4.5" puts every judgment in bucket 5 (Python's round would say 4)."""
    from harness.types import Completion
    from tests.judges.scripted import Scripted

    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "eval", {})
    ctx = EvalContext(model_spec="scripted", store=store, run=run, limit=5, options={"n_resamples": 10})
    ctx._models["scripted"] = Scripted(lambda r, i: Completion("Good. Score: 4.5", "stop", 5, 5))
    m = {x.name: x for x in run_benchmark("judge", ctx).metrics}
    assert m["score_frac_5"].value == 1.0 and m["score_frac_4"].value == 0.0
    assert m["judgment_parse_rate"].value == 1.0
