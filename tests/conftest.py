"""Shared fixtures: the ../shared reference data and tiny models; a missing part skips locally, fails under CI=true."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    """A required part is absent: skip on a developer's machine, FAIL under CI=true (no silent skips in CI)."""
    if IN_CI:
        pytest.fail(f"CI=true but {what}", pytrace=False)
    pytest.skip(what)


def require(module: str) -> ModuleType:
    """Import ``module`` or call :func:`missing` with the real import error (not only ModuleNotFoundError)."""
    try:
        return importlib.import_module(module)
    except Exception as exc:
        missing(f"{module} cannot be imported: {type(exc).__name__}: {exc}")
        raise  # unreachable: missing() always raises


def require_executables(*names: str) -> list[str]:
    paths = [shutil.which(n) for n in names]
    absent = [n for n, p in zip(names, paths, strict=True) if p is None]
    if absent:
        missing(f"{', '.join(absent)} not installed (make test-deps)")
    return [str(p) for p in paths]


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared/data beside the checkout; tests using it skip when it is absent."""
    data = SHARED / "data"
    if not data.is_dir():
        missing(f"reference data not found at {data}")
    return data


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline tiny chat model (seed 0), built once per session."""
    from training.tiny import make_tiny

    return make_tiny(tmp_path_factory.mktemp("tiny0"), seed=0)


@pytest.fixture(scope="session")
def tiny_model_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny model (seed 1): a different judge / reference model."""
    from training.tiny import make_tiny

    return make_tiny(tmp_path_factory.mktemp("tiny1"), seed=1)


@pytest.fixture(scope="session")
def vllm_server_b(tiny_model_b: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real `vllm serve` of the second tiny model on 127.0.0.1 (one per session), stopped by PID.

    Its process starts without waiting (``spec`` waits): a test that also takes ``vllm_engine`` names this
    fixture first, so the two engine start-ups overlap."""
    require("vllm")
    from tests.servers import VLLMServer

    server = VLLMServer(tiny_model_b, "tiny-b", tmp_path_factory.mktemp("vllm_serve") / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vllm_engine(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """The in-process vLLM engine on the tiny model, shared by the whole session (startup is ~1 min on CPU)."""
    require("vllm")
    from harness.backends import load_model
    from harness.store import Store

    store = Store(tmp_path_factory.mktemp("vllm_engine") / "hash.sqlite")
    model = load_model(f"vllm:{tiny_model}", store=store)
    yield model
    model.close()
    store.close()


TINY_JUDGE_PROMPT = "pointwise_additive_compact"


@pytest.fixture(scope="session")
def tiny_judge(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model after a short SFT on task-world judgments in the compact additive prompt (the demo's): it
    writes "Score: N" lines. Its rows are a third as long as the full prompt's, so 4 epochs cost less than 3 did
    (and parse 44% of judgments, against 27%)."""
    from benchmarks.core import world as taskworld
    from judges.prompts import load_prompt
    from training.trainers import TrainSettings, sft

    template = load_prompt(TINY_JUDGE_PROMPT)
    rows = []
    for r in taskworld.ranked_rows(48, seed=1):
        for resp in r["responses"]:
            text, _ = taskworld.reference_judgment(r["prompt"], resp)
            msgs = template.to_messages_dicts(instruction=r["prompt"], response=resp)
            rows.append({"messages": [*msgs, {"role": "assistant", "content": text}]})
    out = tmp_path_factory.mktemp("tiny_judge")
    sft(tiny_model, rows, out, TrainSettings(epochs=4, learning_rate=3e-3, batch_size=16, max_length=320))
    return out


LM_EVAL_TASKS = REPO / "tests" / "data" / "lm_eval_tasks"


def lm_eval_task_dir(dest: Path) -> Path:
    """A copy of tests/data/lm_eval_tasks (the local lm-eval task tiny_sums) with its data path made absolute:
    the datasets library resolves a relative ``data_files`` from the working directory."""
    dest.mkdir(parents=True, exist_ok=True)
    text = (LM_EVAL_TASKS / "tiny_sums.yaml").read_text()
    rel = "tests/data/lm_eval_tasks/tiny_sums.jsonl"
    assert rel in text
    (dest / "tiny_sums.yaml").write_text(text.replace(rel, str(LM_EVAL_TASKS / "tiny_sums.jsonl")))
    return dest
