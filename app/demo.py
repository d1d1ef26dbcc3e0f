"""`make demo`: the main job on the embedded default.

Runs `harness iterate` with ``training/configs/demo.yaml``: the pretrained tiny base (built once by
``make setup``, see ``training.tiny``) on the task world, SFT then 2 iterations of Meta-Rewarding on the model's
own prompts, responses, judgments and meta-judgments, with the evaluation (300 held-out prompts per metric),
the paired differences and the gate after each, and the per-iteration tables at the end. The HF backend
generates (on 2 CPU cores it beats the vLLM engine's start-up for a model this small). Outputs go to
./demo/run, the store to ./demo/store.sqlite. Pass --verbose to see the libraries' INFO output.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.cli import main as cli_main

CONFIG = Path(__file__).resolve().parent.parent / "training" / "configs" / "demo.yaml"


def main() -> None:
    args = ["iterate", "--config", str(CONFIG), "--store", "demo/store.sqlite", "--out-dir", "demo/run"]
    start = time.monotonic()
    try:
        cli_main([*args, *sys.argv[1:]])
    finally:
        print(f"demo: {time.monotonic() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
