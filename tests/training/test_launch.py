"""Training stages launched in-process and through `accelerate launch`: the same checkpoint either way."""

from pathlib import Path

import pytest

from harness.types import HarnessError
from training.config import TrainingSection
from training.launch import train
from training.trainers import TrainSettings

ROWS = [
    {"messages": [{"role": "user", "content": f"What is {i} plus {i}?"}, {"role": "assistant", "content": str(2 * i)}]}
    for i in range(32)
]
SETTINGS = TrainSettings(epochs=1, learning_rate=1e-3, batch_size=8, max_length=128, seed=0)


def test_accelerate_launch_trains_the_same_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
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
