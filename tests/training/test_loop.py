"""`harness iterate` end to end on the embedded default (shortened), resume after SIGKILL, and bad configs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

HARNESS = [sys.executable, "-m", "harness"]
STAGES = ["prompts", "candidates", "judgments", "actor_pairs", "judge_pairs", "dpo", "eval"]


def short_config(out_dir: Path) -> dict:
    """The demo config, shortened: HF backend, fewer prompts and tokens."""
    cfg = yaml.safe_load((Path(__file__).resolve().parents[2] / "training" / "configs" / "demo.yaml").read_text())
    cfg.update(
        out_dir=str(out_dir), backend="hf",
        sft={"epochs": 3, "learning_rate": 0.003, "batch_size": 16, "use_eft": True},
        eft={"judge_n": 1, "max_prompts": 48, "include_reference_judgments": True},
        prompts={"source": "mixed", "n": 6},
        generation={"k": 4, "temperature": 0.8, "top_p": 0.95, "max_tokens": 24},
        judge={"n": 3, "max_tokens": 48},
        eval={"benchmarks": ["judge", "taskworld"], "judge_n": 1, "limit": 10,
              "options": {"n_resamples": 100, "judge_max_tokens": 48, "max_tokens": 24}},
    )  # fmt: skip
    return cfg


def _write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def _manifest(d: Path, stage: str) -> dict:
    return json.loads((d / f"{stage}.manifest.json").read_text())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("iterate")
    cfg = _write(root / "run.yaml", short_config(root / "run"))
    store = root / "store.sqlite"
    res = subprocess.run([*HARNESS, "iterate", "--config", str(cfg), "--store", str(store)],
                         capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((root / "run" / "summary.json").read_text())
    return root, store, summary["run_id"]


def test_every_stage_writes_data_and_dpo_moves_the_model(finished_run: tuple[Path, Path, str]) -> None:
    root, _, _ = finished_run
    run = root / "run"
    for stage in ("ift", "eft", "sft", "eval"):
        assert _manifest(run / "iter_0", stage)["counts"]["rows"] > 0
    for t in (1, 2):
        d = run / f"iter_{t}"
        for stage in STAGES:
            m = _manifest(d, stage)
            rows = [json.loads(x) for x in (d / f"{stage}.jsonl").read_text().splitlines()]
            assert len(rows) == m["counts"]["rows"], stage
            if stage != "judge_pairs":  # the tiny meta-judge may give no usable battle
                assert rows, f"iteration {t}: stage {stage} is empty"
        pairs = [json.loads(x) for x in (d / "actor_pairs.jsonl").read_text().splitlines()]
        assert all(p["chosen"] != p["rejected"] and p["chosen_score"] > p["rejected_score"] for p in pairs)
        dpo = _manifest(d, "dpo")["counts"]
        assert dpo["margin_after"] > dpo["margin_before"]  # chosen-minus-rejected log-prob margins moved
        # the next iteration generated with the model this one trained
        assert _manifest(d, "candidates")["inputs"] == {"prompts": str(d / "prompts.jsonl")}
        assert _manifest(d, "prompts")["inputs"]["model"] == str(run / f"m{t}")
        assert (run / f"m{t + 1}" / "model.safetensors").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert [it["iteration"] for it in summary["iterations"]] == [1, 2, 3]
    gate = json.loads((run / "iter_2" / "gate.json").read_text())
    assert gate["iteration"] == 3 and gate["reasons"]


def test_gate_command_and_leaderboard(finished_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    _root, store, run_id = finished_run
    ok = subprocess.run([*HARNESS, "gate", "--run", run_id, "--iteration", "3", "--rule", "taskworld.avg_length >= 0",
                         "--store", str(store)], capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0 and json.loads(ok.stdout)["passed"] is True
    stop = subprocess.run([*HARNESS, "gate", "--run", run_id, "--iteration", "3", "--rule",
                           "taskworld.avg_length <= prev * 0", "--store", str(store)], capture_output=True, text=True)  # fmt: skip
    assert stop.returncode == 1 and json.loads(stop.stdout)["passed"] is False
    bad = subprocess.run([*HARNESS, "gate", "--run", run_id, "--iteration", "3", "--rule", "judge.nonsense >= 1",
                          "--store", str(store)], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "unknown metric" in bad.stderr
    out = tmp_path / "lb"
    lb = subprocess.run(
        [*HARNESS, "leaderboard", "--store", str(store), "--out", str(out)], capture_output=True, text=True
    )
    assert lb.returncode == 0, lb.stderr
    page = (out / "leaderboard.html").read_text()
    assert page.count('class="curve"') == 2 and 'class="dist"' in page  # iteration curves from 3 iterations


def test_resume_after_sigkill_in_judging(finished_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, _, _ = finished_run
    cfg = _write(tmp_path / "run.yaml", short_config(tmp_path / "run"))
    store = tmp_path / "store.sqlite"
    args = [*HARNESS, "iterate", "--config", str(cfg), "--store", str(store)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = tmp_path / "run" / "iter_2" / "candidates.manifest.json"
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None and not target.exists():
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be killed"
    time.sleep(1.0)  # into the judging stage of iteration 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "run" / "iter_2" / "judgments.manifest.json").exists()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*.manifest.json")}
    res = subprocess.run(args, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*.manifest.json")}
    for name, mtime in before.items():
        assert after[name] == mtime, f"{name} was redone"
    assert "candidates: done already" in res.stdout and "sft: done already" in res.stdout
    # the final data equals the uninterrupted run's
    for t in (1, 2):
        for stage in ("judgments", "actor_pairs", "judge_pairs"):
            ours = (tmp_path / "run" / f"iter_{t}" / f"{stage}.jsonl").read_text()
            assert ours == (root / "run" / f"iter_{t}" / f"{stage}.jsonl").read_text(), (t, stage)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"sft": {"epochs": 1, "learning_rat": 0.1}}, "sft.learning_rat: unknown key"),
        ({"ift_data": "missing.jsonl"}, "ift_data: seed data missing.jsonl not found"),
        ({"iterations": [{"rho": 1.5}]}, "iterations[0].rho: must lie in [0, 1], got 1.5"),
        ({"gates": ["judge.nonsense >= 0.5"]}, "a gate on an unknown metric 'judge.nonsense'"),
        ({"mode": "self_rewarding"}, "iterations[0].pair_types: judge pairs need mode meta_rewarding"),
        ({"generation": {"k": 1}}, "generation.k: pairs need at least 2"),
        ({"eval": {"benchmarks": ["nope"]}}, "unknown benchmark 'nope'"),
        ({"sft": {"epochs": "three"}}, "sft.epochs: expected a number"),
    ],
)
def test_bad_config(patch: dict, expected: str, tmp_path: Path) -> None:
    cfg = short_config(tmp_path / "run")
    cfg.update(patch)
    path = _write(tmp_path / "run.yaml", cfg)
    res = subprocess.run([*HARNESS, "iterate", "--config", str(path), "--store", str(tmp_path / "s.sqlite")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert expected in res.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "s.sqlite").exists()  # nothing started
