"""Where a training stage runs: in this process (the default), or under ``accelerate launch`` (several GPUs).

With ``training.launcher: accelerate`` the stage's rows and settings are written beside the checkpoint and

    python -m accelerate.commands.launch ACCELERATE_ARGS -m training.launch KIND BASE ROWS OUT SETTINGS

trains: every process runs the same TRL trainer (DDP, or FSDP / DeepSpeed per the accelerate config given in
``accelerate_args``) and the main process writes the checkpoint (``training.trainers``). Generation engines are
released before training either way, so the GPUs are free for the launched processes.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.files import atomic_write_json, atomic_write_jsonl, read_json, read_jsonl
from harness.types import HarnessError
from training.config import TrainingSection
from training.trainers import TrainSettings, dpo, sft

TRAINERS = {"sft": sft, "dpo": dpo}


def train(
    kind: str,
    base: Path,
    rows: list[dict[str, Any]],
    out_dir: Path,
    settings: TrainSettings,
    section: TrainingSection | None = None,
) -> list[dict[str, Any]]:
    """Train ``kind`` (sft | dpo) from ``base`` on ``rows`` into ``out_dir``; returns the loss history."""
    if kind not in TRAINERS:
        raise HarnessError(f"training: unknown kind {kind!r} (known: {', '.join(TRAINERS)})")
    section = section or TrainingSection()
    if section.launcher == "inprocess":
        return TRAINERS[kind](base, rows, out_dir, settings)
    inputs = out_dir.parent / f".{out_dir.name}.launch"
    atomic_write_jsonl(inputs / "rows.jsonl", rows)
    atomic_write_json(inputs / "settings.json", dataclasses.asdict(settings))
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", *section.accelerate_args,
        "-m", "training.launch", kind, str(base), str(inputs / "rows.jsonl"), str(out_dir),
        str(inputs / "settings.json"),
    ]  # fmt: skip
    # the children import this project from wherever the parent found it
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(inputs, ignore_errors=True)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise HarnessError(f"{kind}: accelerate launch failed (exit {res.returncode}): {last}")
    return list(read_json(out_dir / f"{kind}_history.json"))


def main(argv: list[str]) -> int:
    """Entry point of each launched process: KIND BASE ROWS OUT SETTINGS."""
    if len(argv) != 5:
        print("usage: python -m training.launch KIND BASE ROWS.jsonl OUT SETTINGS.json", file=sys.stderr)
        return 2
    kind, base, rows_path, out_dir, settings_path = argv
    rows = read_jsonl(rows_path)
    for r in rows:
        r.pop("__line__", None)
    settings = TrainSettings(**read_json(settings_path))
    TRAINERS[kind](Path(base), rows, Path(out_dir), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
