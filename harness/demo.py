"""`make demo`: the main job on the embedded default (tiny offline model, built-in prompts).

Builds the tiny model under ./demo/tiny (once), then runs `harness generate` on a few built-in
prompts with the vLLM engine when it is installed (HF transformers otherwise).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from harness.cli import main as cli_main

PROMPTS = [
    "What is 17 + 25?",
    "Convert 3 kilometres to metres.",
    "Reverse the string 'harness'.",
    "Write a haiku about evaluation.",
    "Give one tip for writing clear Python.",
]


def main() -> None:
    root = Path("demo")
    tiny = root / "tiny"
    if not (tiny / "model.safetensors").exists():
        from harness.tiny import make_tiny

        make_tiny(tiny, seed=0)
    prompts = root / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"demo-{i}", "prompt": p}) + "\n" for i, p in enumerate(PROMPTS)))
    backend = "vllm" if importlib.util.find_spec("vllm") else "hf"
    cli_main(
        [
            "generate", "--model", f"{backend}:{tiny}", "--prompts", str(prompts), "--out", str(root / "outputs.jsonl"),
            "-n", "2", "--max-tokens", "32", "--seed", "0", "--store", str(root / "store.sqlite"),
        ]
    )  # fmt: skip


if __name__ == "__main__":
    main()
