"""Training stages launched in-process and through `accelerate launch`: the same checkpoint either way."""

from pathlib import Path

import pytest

from harness.types import HarnessError
from training.config import TrainingSection
from training.launch import train
from training.trainers import TrainSettings, _device_args

ROWS = [
    {"messages": [{"role": "user", "content": f"What is {i} plus {i}?"}, {"role": "assistant", "content": str(2 * i)}]}
    for i in range(32)
]
SETTINGS = TrainSettings(epochs=1, learning_rate=1e-3, batch_size=8, max_length=128, seed=0)


def test_cpu_is_asked_for_by_accelerates_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    # on a GPU machine as on this one: `--cpu` (ACCELERATE_USE_CPU) means CPU training, fp32, no checkpointing
    for value in ("True", "1", "yes"):
        monkeypatch.setenv("ACCELERATE_USE_CPU", value)
        args = _device_args()
        assert (args["use_cpu"], args["bf16"], args["gradient_checkpointing"]) == (True, False, False), value


def test_accelerate_launch_trains_the_same_checkpoint(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the launched run has `--cpu`; the in-process run is asked for the CPU the same way, so that on a GPU machine
    # the two compare CPU with CPU (byte for byte) rather than a CUDA bf16 run with a CPU one
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    here = train("sft", tiny_model, ROWS, tmp_path / "inprocess", SETTINGS)
    launched = train(
        "sft", tiny_model, ROWS, tmp_path / "accelerate", SETTINGS,
        TrainingSection(launcher="accelerate", accelerate_args=["--cpu", "--num_processes", "1"]),
    )  # fmt: skip
    assert [h.get("loss") for h in launched] == [h.get("loss") for h in here] and len(here) > 1
    weights = [(tmp_path / d / "model.safetensors").read_bytes() for d in ("inprocess", "accelerate")]
    assert weights[0] == weights[1] != (tiny_model / "model.safetensors").read_bytes()
    assert (tmp_path / "accelerate" / "tokenizer.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accelerate", "inprocess"]  # no scratch left behind


def test_a_failed_launch_is_one_error_and_no_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
    bad = TrainingSection(launcher="accelerate", accelerate_args=["--no-such-flag"])
    with pytest.raises(HarnessError, match=r"sft: accelerate launch failed \(exit \d+\)"):
        train("sft", tiny_model, ROWS, tmp_path / "out", SETTINGS, bad)
    assert list(tmp_path.iterdir()) == []
