"""`harness iterate` end to end on the embedded default (shortened), resume after SIGKILL, and bad configs."""

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import lm_eval_task_dir, require

HARNESS = [sys.executable, "-m", "app"]
STAGES = ["prompts", "candidates", "judgments", "actor_pairs", "judge_pairs", "dpo", "eval"]


def short_config(out_dir: Path) -> dict:
    """The demo config, shortened: HF backend, the random tiny model, fewer prompts and tokens. The judge keeps
    the demo's compact prompts: the full additive prompt made the EFT rows 3x longer and SFT 3x slower."""
    cfg = yaml.safe_load((Path(__file__).resolve().parents[2] / "training" / "configs" / "demo.yaml").read_text())
    cfg.update(
        out_dir=str(out_dir), backend="hf", base_model="builtin:tiny-random", backend_options={},
        gates=["taskworld.avg_length <= prev * 2.0"],  # the machinery, not the demo's judge floor
        sft={"epochs": 3, "learning_rate": 0.003, "batch_size": 16, "max_length": cfg["sft"]["max_length"], "use_eft": True},
        eft={"judge_n": 1, "max_prompts": 48, "include_reference_judgments": True},
        prompts={"source": "mixed", "n": 6},
        generation={"k": 4, "temperature": 0.8, "top_p": 0.95, "max_tokens": 24},
        judge={**cfg["judge"], "n": 3},  # the demo's max_tokens: shorter cuts judgments before "Score:"
        eval={"benchmarks": ["judge", "taskworld"], "judge_n": 1, "limit": 10,
              "options": {"n_resamples": 100, "judge_prompt": cfg["judge"]["prompt"],
                          "judge_max_tokens": cfg["judge"]["max_tokens"],
                          "max_tokens": 24}},
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
    # the judge alarms: of M1's and M2's judgments (iterations 1, 2), and the rank consistency from M2 on
    its = summary["iterations"]
    assert all(0 <= its[i]["judge_alarms.all_equal_share"] <= 1 for i in (0, 1))
    assert all(its[i]["judge_alarms.n_pairs"] == _manifest(run / f"iter_{i + 1}", "actor_pairs")["counts"]["rows"]
               for i in (0, 1))  # fmt: skip
    assert "judge_alarms.rank_consistency" not in its[0]
    assert all(-1 <= its[i]["judge_alarms.rank_consistency"] <= 1 for i in (1, 2))
    assert all(0 <= its[i]["judge_alarms.dpo_reward_agreement"] <= 1 for i in (1, 2))
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
    assert f"run-{run_id}.html" in page  # the index links the run's report page
    report = (out / f"run-{run_id}.html").read_text()  # its panels from 3 iterations (tests/app/test_report_page.py)
    assert "id='judge-panels'" in report and "id='actor-panels'" in report and 'id="score-dist"' in report


def test_a_rerun_reads_the_reward_agreement_back_only_for_the_same_weights(
    finished_run: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """judge_alarms.dpo_reward_agreement is kept in iter_T/reward_agreement.json: a rerun of a finished run reads a
    (planted) saved value back, and computes it again once M2's weights are not those it was computed on."""
    import shutil

    root, store, _ = finished_run
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    shutil.copy2(store, tmp_path / "s.sqlite")
    args = [*HARNESS, "iterate", "--config", str(_write(tmp_path / "run.yaml", short_config(run))),
            "--store", str(tmp_path / "s.sqlite")]  # fmt: skip
    saved = run / "iter_1" / "reward_agreement.json"  # M2's, computed after iteration 1's DPO
    doc = json.loads(saved.read_text())
    doc["row"]["value"] = 0.123456  # planted: no real agreement share of these pairs has this value
    saved.write_text(json.dumps(doc))

    def m2_agreement() -> float:
        res = subprocess.run(args, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads((run / "summary.json").read_text())["iterations"][1]["judge_alarms.dpo_reward_agreement"]

    assert m2_agreement() == 0.123456
    (run / "m2" / "model.safetensors").write_bytes((run / "m3" / "model.safetensors").read_bytes())
    assert m2_agreement() != 0.123456
    assert json.loads(saved.read_text())["key"] != doc["key"]


STAGE_LINE = re.compile(r"^  ([a-z_]+) +(done already, skipped|\d+ s) \|")  # one per stage, run or skipped, in order
KILL_POINTS = 10


def _timeline(run_dir: Path) -> list[tuple[str, float]]:
    """(iter_T/stage, seconds) of a finished run, in the order the stages ran."""
    ms = [(json.loads(p.read_text()), p) for p in run_dir.rglob("*.manifest.json")]
    return [(f"{p.parent.name}/{m['stage']}", m["seconds"]) for m, p in sorted(ms, key=lambda x: x[0]["finished_at"])]


def _kill_points(timeline: list[tuple[str, float]]) -> list[tuple[int, float]]:
    """10 seeded points (stage index, seconds into it): iteration 2's judging and 9 random ones before the
    last evaluation (so a kill always finds work left)."""
    rng = random.Random(2026)
    judging = [s for s, _ in timeline].index("iter_2/judgments")
    others = [i for i in range(len(timeline) - 1) if i != judging]
    pool = [i for i in others if timeline[i][1] >= 0.5]
    if len(pool) < KILL_POINTS - 1:  # a fast machine: the longest stages, so each kill still lands mid-stage
        pool = sorted(others, key=lambda i: -timeline[i][1])[: KILL_POINTS - 1]
    chosen = sorted([judging, *rng.sample(pool, KILL_POINTS - 1)])
    return [(i, rng.uniform(0.1, 0.8) * timeline[i][1]) for i in chosen]


def _check_whole(run_dir: Path) -> None:
    """No half-written output: every visible file parses, every manifest's data file has its rows, every
    visible checkpoint directory loads."""
    from safetensors.torch import load_file

    for f in run_dir.rglob("*"):
        if any(part.startswith(".") for part in f.relative_to(run_dir).parts) or not f.is_file():
            continue
        if f.suffix == ".json":
            json.loads(f.read_text())
        elif f.suffix == ".jsonl":
            [json.loads(x) for x in f.read_text().splitlines()]
    for m in run_dir.rglob("*.manifest.json"):
        rows = (m.parent / m.name.replace(".manifest.json", ".jsonl")).read_text().splitlines()
        assert len(rows) == json.loads(m.read_text())["counts"]["rows"], m
    for ckpt in run_dir.glob("m[0-9]*"):
        assert (ckpt / "config.json").exists() and (ckpt / "tokenizer.json").exists(), ckpt
        assert load_file(ckpt / "model.safetensors"), ckpt


def _attempt(args: list[str], point: tuple[int, float] | None) -> tuple[subprocess.Popen, list[str]]:
    """Start `harness iterate`; with a point, SIGKILL it that many seconds into that stage."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    if point is not None:
        stage, offset = point
        deadline = time.time() + 900
        while sum(bool(STAGE_LINE.match(x)) for x in list(lines)) < stage and proc.poll() is None:
            assert time.time() < deadline, "no progress"
            time.sleep(0.02)
        time.sleep(offset)
        assert proc.poll() is None, f"finished before the kill point {point}"
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(timeout=10)
    return proc, lines


def test_sigkill_at_10_points_and_rerun(finished_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """SIGKILL `harness iterate` at 10 seeded points (iteration 2's judging among them), rerunning after each:
    finished stages are never redone, no finished model call is lost or repeated (run record), no file is
    half-written, and the final data, models and results equal the uninterrupted run's."""
    root, ref_store, ref_run = finished_run
    cfg = _write(tmp_path / "run.yaml", short_config(tmp_path / "run"))
    store = tmp_path / "store.sqlite"
    args = [*HARNESS, "iterate", "--config", str(cfg), "--store", str(store)]
    run_dir = tmp_path / "run"
    points = _kill_points(_timeline(root / "run"))
    finished: dict[Path, int] = {}  # manifest -> mtime: a finished stage is never redone
    for point in points:
        proc, _ = _attempt(args, point)
        assert proc.returncode == -signal.SIGKILL
        _check_whole(run_dir)
        with sqlite3.connect(store) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM generations").fetchone()
            assert total == distinct
        for m, mtime in finished.items():
            assert m.stat().st_mtime_ns == mtime, f"{m} was redone"
        finished.update({m: m.stat().st_mtime_ns for m in run_dir.rglob("*.manifest.json")})
        if _timeline(root / "run")[point[0]][0] == "iter_2/judgments":
            assert not (run_dir / "iter_2" / "judgments.manifest.json").exists()
            assert (run_dir / "iter_2" / "candidates.manifest.json").exists()
    proc, lines = _attempt(args, None)
    assert proc.returncode == 0, lines[-20:]
    assert any(x.startswith("resuming run") for x in lines) and re.search(r"  sft +done already", "".join(lines))
    for m, mtime in finished.items():
        assert m.stat().st_mtime_ns == mtime, f"{m} was redone"
    _check_whole(run_dir)

    # the final data equals the uninterrupted run's: every stage file, the training losses, the models
    for ours in sorted(run_dir.rglob("*.jsonl")):
        theirs = root / "run" / ours.relative_to(run_dir)
        if ours.stem in ("sft", "dpo"):  # training history: the losses (runtimes differ)
            assert [h.get("loss") for h in map(json.loads, ours.read_text().splitlines())] == [
                h.get("loss") for h in map(json.loads, theirs.read_text().splitlines())
            ], ours
        else:
            assert ours.read_text() == theirs.read_text(), ours
    for t in (1, 2, 3):
        ckpt = Path("run") / f"m{t}" / "model.safetensors"
        assert (tmp_path / ckpt).read_bytes() == (root / ckpt).read_bytes(), ckpt
    summary, ref_summary = (json.loads((d / "summary.json").read_text()) for d in (run_dir, root / "run"))
    assert summary["iterations"] == ref_summary["iterations"]

    # one run record across all attempts; its calls equal the uninterrupted run's (none lost, none repeated)
    with sqlite3.connect(store) as conn, sqlite3.connect(ref_store) as ref:
        runs = conn.execute("SELECT run_id, status, counters FROM runs").fetchall()
        assert [(r[0], r[1]) for r in runs] == [(summary["run_id"], "finished")]
        ref_counters = json.loads(ref.execute("SELECT counters FROM runs WHERE run_id=?", (ref_run,)).fetchone()[0])
        assert json.loads(runs[0][2])["calls_made"] == ref_counters["calls_made"] > 0
        count = "SELECT COUNT(*), COUNT(DISTINCT key) FROM generations"
        assert conn.execute(count).fetchone() == ref.execute(count).fetchone()
        query = "SELECT iteration, benchmark, metric, value, ci_low, ci_high, n FROM results ORDER BY 1, 2, 3"
        assert conn.execute(query).fetchall() == ref.execute(query).fetchall()


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
        ({"training": {"launcher": "slurm"}}, "training.launcher: expected inprocess or accelerate"),
        (
            {"training": {"accelerate_args": "--multi_gpu"}},
            "training.accelerate_args: expected a list, got '--multi_gpu'",
        ),
        ({"backend_options": ["batch_size", 8]}, "backend_options: expected a mapping"),
        ({"judge": {"meta_prompt": "no_such_prompt"}}, "judge prompt 'no_such_prompt': not a known prompt"),
        ({"sft": {"ift_examples": 0}}, "sft.ift_examples: must be a positive integer"),
        (
            {"eft": {"meta_errors": ["score", "typo"]}},
            "eft.meta_errors: expected a non-empty list of score, copy, check",
        ),
        ({"eft": {"meta_examples_per_prompt": 0}}, "eft.meta_examples_per_prompt: must be >= 1, got 0"),
        ({"eft": {"miscopy_share": 1.0}}, "eft.miscopy_share: must lie in [0, 1), got 1.0"),
        (
            {"eft_data": "x.jsonl", "eft": {"miscopy_share": 0.2}},
            "eft.miscopy_share: needs eft_data: builtin:taskworld",
        ),
        ({"judge": {"random_scores": "yes"}}, "judge.random_scores: expected true/false"),
        ({"judge": {"random_scores": True, "reference_scores": True}}, "judge.random_scores and judge.reference_"),
        (
            {"judge": {"random_meta_verdicts": True, "reference_meta_verdicts": True}},
            "judge.random_meta_verdicts and judge.reference_meta_verdicts: choose at most one",
        ),
        ({"best_metric": "taskworld.avg_length"}, "best_metric: taskworld.avg_length has no better direction"),
        ({"sft": {"epochs": float("inf")}}, "sft.epochs: must be a finite number, got inf"),
        ({"generation": {"max_tokens": 0}}, "generation.max_tokens: must be > 0, got 0"),
        ({"eval": {"benchmarks": ["taskworld"], "limit": -3}}, "eval.limit: must be > 0, got -3"),
        ({"judge": {"temperature": -1}}, "judge.temperature: must be >= 0, got -1"),
        ({"base_model": "no/such/dir"}, "base_model: no/such/dir is not a checkpoint directory"),
        ({"judge": {"specs": ["openai:a@http://127.0.0.1:9/v1"]}}, "judge.specs: an ensemble needs 2 or more"),
        ({"judge": {"specs": ["openai:a", "bogus:b"]}}, "judge.specs[1]: "),
        ({"judge": {"specs": None}}, "judge.specs: expected a list, got None"),
        ({"judge": {"score": "mean"}}, "judge.score: must be one of sampled, expected, got 'mean'"),
        ({"judge": {"specs": ["openai:a", "openai:b"], "ensemble": "median"}}, "judge.ensemble: must be one of"),
        ({"judge": {"spec": "openai:a", "specs": ["openai:a", "openai:b"]}}, "judge: give spec (one judge) or specs"),
        (
            {"eval": {"benchmarks": ["taskworld"], "options": {"judge_n": 3}}},
            "eval.options: --option judge_n: no option 'judge_n' in benchmark taskworld",
        ),
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


def _seed_sft(finished: Path, run_dir: Path) -> None:
    """Copy a finished run's iteration-0 stages (IFT, EFT, SFT) and its M0 and M1 into a new run directory: the
    loop finds their manifests under the same stage configs and skips them ("done already"), as a resumed run
    does, so a test of what comes after SFT does not train M1 again (~80 s here)."""
    import shutil

    for name in ("m0", "m1"):
        shutil.copytree(finished / name, run_dir / name)
    (run_dir / "iter_0").mkdir(parents=True)
    for stage in ("ift", "eft", "sft"):
        for suffix in (".jsonl", ".manifest.json"):
            shutil.copy2(finished / "iter_0" / f"{stage}{suffix}", run_dir / "iter_0" / f"{stage}{suffix}")


def test_a_gate_stops_the_run_and_keeps_the_best_iteration(
    finished_run: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """A gate that M2 cannot pass (a length below zero) stops the loop after M2: the reason is printed,
    iteration 2 never starts, and the best iteration so far is kept and named. The config also names an
    lm-evaluation-harness task (the local tiny_sums, 10 documents): it is evaluated, gated and reported per
    iteration, with its paired difference. It starts from the finished run's M1 (its SFT stages are skipped)."""
    _seed_sft(finished_run[0] / "run", tmp_path / "run")
    cfg = short_config(tmp_path / "run")
    cfg["gates"] = ["taskworld.avg_length < prev * 0",  # vacuous on M1 (no previous value); unreachable on M2
                    "lm_eval:tiny_sums.acc.ci_high >= 0"]  # fmt: skip
    cfg["best_metric"] = "taskworld.accuracy"
    lm_eval_task_dir(tmp_path / "tasks")
    cfg["eval"]["benchmarks"] = [*cfg["eval"]["benchmarks"], "lm_eval:tiny_sums"]
    cfg["eval"]["options"]["lm_eval.include_path"] = "tasks"  # relative to the config's directory
    path = _write(tmp_path / "run.yaml", cfg)
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([*HARNESS, "iterate", "--config", str(path), "--store", str(tmp_path / "s.sqlite")],
                         capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert re.search(r"  sft +done already, skipped", res.stdout)  # M1 came from the finished run
    assert "gate after M2: STOP" in res.stdout
    assert re.search(r"FAIL taskworld\.avg_length < prev \* 0: [\d.]+ >= 0 \(prev = [\d.]+\)", res.stdout)
    assert "stopped by the gate after M2: taskworld.avg_length < prev * 0" in res.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [it["iteration"] for it in summary["iterations"]] == [1, 2]
    assert not (tmp_path / "run" / "iter_2").exists()  # the second iteration never started
    assert summary["stopped_by_gate"] == {"after": "M2", "failed": ["taskworld.avg_length < prev * 0"]}
    acc = [it["taskworld.accuracy"] for it in summary["iterations"]]
    best = 1 + max(range(2), key=lambda i: (acc[i], -i))  # declared higher-is-better; a tie keeps the earlier
    assert summary["best_iteration"] == best and summary["best_model"] == str(tmp_path / "run" / f"m{best}")
    assert (Path(summary["best_model"]) / "model.safetensors").exists()
    assert f"kept the best iteration so far by taskworld.accuracy: M{best}" in res.stdout
    # the lm-eval task, per iteration: rows with CIs, its samples, a paired difference on M2, the gate, the table
    for it in summary["iterations"]:
        assert (
            0 <= it["lm_eval:tiny_sums.acc"] <= 1 and it["lm_eval:tiny_sums.acc.ci_low"] < it["lm_eval:tiny_sums.acc"]
        )
    assert "lm_eval:tiny_sums.acc.delta_prev" in summary["iterations"][1]
    assert re.search(r"PASS lm_eval:tiny_sums\.acc\.ci_high >= 0: ", res.stdout)
    shown = res.stdout + res.stderr
    assert re.search(r"lm_eval:tiny_sums\.acc +│ +[\d.]+ \[[-\d.]+, [\d.]+\] +│ +[\d.]+ \[", shown)  # M1, M2
    assert re.search(r"lm_eval:tiny_sums\.acc +│ M2 - M1 +│ [-+][\d.]+ +│ \[", shown)  # its paired difference
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        rows = conn.execute("SELECT iteration, value, n FROM results WHERE benchmark = 'lm_eval:tiny_sums' AND "
                            "metric = 'acc' ORDER BY iteration").fetchall()  # fmt: skip
        samples = conn.execute("SELECT iteration, sample FROM samples WHERE benchmark = 'lm_eval:tiny_sums'").fetchall()
    assert [(i, n) for i, _, n in rows] == [(1, 10), (2, 10)]
    for i, value, _ in rows:  # each iteration's accuracy is the mean of its own stored per-document logs
        mine = [json.loads(s)["acc"] for it, s in samples if it == i]
        assert len(mine) == 10 and value == pytest.approx(sum(mine) / 10)


@pytest.mark.vllm
def test_one_iteration_on_the_vllm_engine(tmp_path: Path) -> None:
    """The shortened loop on the real vLLM engine: the engine is released before DPO and a new one is loaded on
    the new checkpoint, whose generations (keyed by the checkpoint's weights) score M2."""
    require("vllm")
    cfg = short_config(tmp_path / "run")
    # eager: the engine is started four times here, and torch.compile costs ~18 s of each start on CPU (the
    # session's shared engine, tests/conftest.py, keeps vLLM's compiled default)
    cfg.update(backend="vllm", backend_options={"enforce_eager": True}, iterations=cfg["iterations"][:1])
    path = _write(tmp_path / "run.yaml", cfg)
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    res = subprocess.run([*HARNESS, "iterate", "--config", str(path), "--store", str(tmp_path / "s.sqlite")],
                         capture_output=True, text=True, timeout=1200, env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    run = tmp_path / "run"
    dpo = _manifest(run / "iter_1", "dpo")["counts"]
    assert dpo["engines_released"] >= 1  # M1's engine was closed before training
    assert dpo["margin_after"] > dpo["margin_before"]
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        models = {r[0] for r in conn.execute("SELECT DISTINCT model FROM results WHERE benchmark='taskworld'")}
        identities = {r[0] for r in conn.execute("SELECT DISTINCT model FROM generations")}
    assert models == {str(run / "m1"), str(run / "m2")}
    # M0 (EFT), M1 and M2 each generated through their own engine, keyed by their own weights
    assert len(identities) == 3, identities
    summary = json.loads((run / "summary.json").read_text())
    assert [it["iteration"] for it in summary["iterations"]] == [1, 2]
    assert "taskworld.accuracy.delta_prev" in summary["iterations"][1]


def test_eval_and_iterate_write_the_same_rows(finished_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """`harness eval` on the run's M1 with the run's eval settings writes exactly the rows the loop wrote for M1:
    both go through benchmarks.core.evaluate, so the live paths cannot drift apart."""
    root, ref_store, run_id = finished_run
    cfg = short_config(root / "run")
    ev, opts = cfg["eval"], cfg["eval"]["options"]
    m1 = root / "run" / "m1"
    store, out = tmp_path / "s.sqlite", tmp_path / "out"
    args = [*HARNESS, "eval", "--model", f"hf:{m1}", "--benchmarks", ",".join(ev["benchmarks"]), "--judge-n",
            str(ev["judge_n"]), "--limit", str(ev["limit"]), "--seed", str(cfg.get("seed", 0)), "--store", str(store),
            "--out", str(out), *[a for k, v in opts.items() for a in ("--option", f"{k}={v}")]]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]

    def rows(path: Path, where: str) -> set[tuple]:
        with sqlite3.connect(path) as conn:
            return set(conn.execute(
                "SELECT benchmark, metric, value, ci_low, ci_high, n FROM results WHERE metric NOT LIKE '%.delta_%' "
                f"AND benchmark IN ('judge', 'taskworld') {where}"
            ))  # fmt: skip

    loop_rows = rows(ref_store, f"AND run_id = '{run_id}' AND iteration = 1")
    assert len(loop_rows) > 20 and rows(store, "") == loop_rows
    doc = json.loads((out / "results.json").read_text())
    from benchmarks.core.evaluate import SCHEMA_VERSION
    from benchmarks.core.registry import get

    assert doc["schema_version"] == SCHEMA_VERSION
    assert {b: d["version"] for b, d in doc["benchmarks"].items()} == {b: get(b).version for b in ev["benchmarks"]}


def test_iterate_takes_the_store_from_harness_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As every command: --store, else $HARNESS_STORE, else (iterate only) the run's own store."""
    from training.config import parse_config
    from training.loop import Loop

    cfg = parse_config(short_config(tmp_path / "run"), tmp_path)
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "env.sqlite"))
    loop = Loop(cfg, log=lambda _: None)
    assert loop.store.path == tmp_path / "env.sqlite" and (tmp_path / "env.sqlite").exists()
    loop.store.close()
    monkeypatch.delenv("HARNESS_STORE")
    loop = Loop(parse_config(short_config(tmp_path / "run2"), tmp_path), log=lambda _: None)
    assert loop.store.path == tmp_path / "run2" / "store.sqlite"
    loop.store.close()
