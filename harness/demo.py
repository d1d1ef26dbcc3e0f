"""`make demo`: the main job on the embedded default.

Runs `harness iterate` with ``training/configs/demo.yaml``: the tiny offline model on the task world,
SFT then 2 iterations of Meta-Rewarding with the evaluation and the gate after each, and the
per-iteration table at the end. The vLLM engine generates when it is installed (HF otherwise).
Outputs go to ./demo/run, the store to ./demo/store.sqlite.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from harness.cli import main as cli_main

CONFIG = Path(__file__).resolve().parent.parent / "training" / "configs" / "demo.yaml"


def main() -> None:
    args = ["iterate", "--config", str(CONFIG), "--store", "demo/store.sqlite", "--out-dir", "demo/run"]
    if importlib.util.find_spec("vllm") is None:
        print("vllm is not installed: the demo generates with HF transformers", file=sys.stderr)
        args += ["--backend", "hf"]
    cli_main(args)


if __name__ == "__main__":
    main()
