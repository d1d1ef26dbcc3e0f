"""Can a judge tell a right answer from a wrong one of the same format? The demo judge on answer-key pairs.

    python bench/judge_correctness.py [--model CKPT] [--n 200] [--seed 0]

The task world's ranked candidates differ in format as well as correctness (concise, padded, wrong, off-topic), so
``judge.pairwise_accuracy`` on them rewards a judge that has learned only the format. This bench isolates
correctness: ``n`` held-out task-world prompts (their own seed, disjoint from training), each with two responses of
the same format, ``The answer is <right>.`` against ``The answer is <wrong>.`` (``taskworld.wrong_answer``). It
writes them as ``{prompt, chosen, rejected}`` JSONL and runs the live command a user would, ``harness eval
--benchmarks judge --data FILE``, with the demo's judge options (the compact additive prompt, greedy, 80 tokens).
Chance is 0.5; the printed table is the command's own, with bootstrap 95% CIs.

The default model is the demo's M1 (``demo/run/m1``, written by ``make demo``).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import taskworld  # noqa: E402


def pairs(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(f"judge_correctness:{seed}")
    return [
        {"prompt": t.prompt, "chosen": taskworld.good_response(t),
         "rejected": f"The answer is {taskworld.wrong_answer(t, rng)}."}
        for t in taskworld.tasks(n, seed=20_000 + seed, split="eval")
    ]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "demo" / "run" / "m1"), help="a checkpoint directory")
    ap.add_argument("--n", type=int, default=200, help="held-out prompts, one right-vs-wrong pair each")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (Path(args.model) / "config.json").is_file():
        print(f"judge_correctness: {args.model}: not a checkpoint (run `make demo` first)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "right_vs_wrong.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in pairs(args.n, args.seed)))
        cmd = [
            sys.executable, "-m", "app", "eval", "--model", f"hf:{args.model}?batch_size=64", "--benchmarks", "judge",
            "--data", str(data), "--judge-n", "1", "--seed", str(args.seed), "--out", str(Path(tmp) / "out"),
            "--store", str(Path(tmp) / "store.sqlite"), "--option", "judge_prompt=pointwise_additive_compact",
            "--option", "judge_temperature=0.0", "--option", "judge_max_tokens=80",
        ]  # fmt: skip
        print(f"judge_correctness: {args.n} right-vs-wrong pairs of one format, judge {args.model}", flush=True)
        return subprocess.run(cmd, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
