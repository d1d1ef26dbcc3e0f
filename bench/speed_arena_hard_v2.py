"""Arena-Hard v2.0 scoring and style control, whole `harness score arena_hard` commands, in one run.

    python bench/speed_arena_hard_v2.py [--models 55] [--questions 750] [--upstream-rounds 2] [--seed 0]

Synthetic, seeded files (``--models`` models x ``--questions`` questions; each model's answers with
``token_len`` and random markdown; the judge's verdict depends on the model's strength and, to give style
control something to find, on the relative answer length):

- v0.1: arena-hard-auto v0.1 answers (FastChat format) and judgments (baseline gpt-4-0314);
- v2.0: the same judgments keyed by ``uid`` with ``category`` (two thirds hard_prompt, a third
  creative_writing) and answers with ``metadata`` (baselines o3-mini-2025-01-31 and gemini-2.0-flash-001).

Timed, each as a separate ``python -m app score arena_hard ... --json`` process (imports included):
the v0.1 scorer (the reference time), the v2.0 scorer, and ``--style-control`` on v0.1 and on v2.0
(hard_prompt). Target: each v2.0 / style-control command under 5 s. Also printed: upstream's style fit
(torch LBFGS, 50 steps per round, restated in ``tests/benchmarks/arena_hard/style_reference.py``) on the
v2.0 hard_prompt rows: ``--upstream-rounds`` rounds measured and its 100-round time extrapolated, printed as such.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_S = 5.0


def _labels(d: float) -> tuple[str, str]:
    """Game 1 (A = baseline) and game 2 (A = model) labels for a model-minus-baseline margin d."""
    k = int(np.searchsorted([-1.5, -0.4, 0.4, 1.5], d))
    g1 = ("A>>B", "A>B", "A=B", "B>A", "B>>A")[k]
    g2 = ("B>>A", "B>A", "A=B", "A>B", "A>>B")[k]
    return g1, g2


def write_files(root: Path, n_models: int, n_questions: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    category = ["creative_writing" if q % 3 == 2 else "hard_prompt" for q in range(n_questions)]
    v2_base = {"hard_prompt": "o3-mini-2025-01-31", "creative_writing": "gemini-2.0-flash-001"}
    models = [f"model-{m:02d}" for m in range(n_models)]
    lengths = {m: rng.integers(50, 1500, size=n_questions) for m in [*models, "gpt-4-0314", *v2_base.values()]}
    marks = {m: rng.integers(0, 6, size=(n_questions, 3)) for m in lengths}
    for version in ("v0.1", "v2.0"):
        (root / version / "model_answer").mkdir(parents=True)
        (root / version / "model_judgment" / "judge").mkdir(parents=True)
    for m in lengths:
        v1_rows, v2_rows = [], []
        for q in range(n_questions):
            h, li, b = (int(x) for x in marks[m][q])
            text = "# h\n" * h + "- i\n" * li + "**b** " * b + "word " * int(lengths[m][q])
            tokens = int(lengths[m][q])
            turn = {"content": text, "token_len": tokens}
            v1_rows.append({"question_id": f"q{q}", "model_id": m, "choices": [{"index": 0, "turns": [turn]}]})
            meta = {"token_len": tokens, "header_count": {"h1": h}, "list_count": {"unordered": li},
                    "bold_count": {"**": b}}  # fmt: skip
            answer = {"role": "assistant", "content": {"answer": text}}
            v2_rows.append({"uid": f"q{q}", "model": m, "messages": [answer], "metadata": meta})
        (root / "v0.1" / "model_answer" / f"{m}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in v1_rows))
        (root / "v2.0" / "model_answer" / f"{m}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in v2_rows))
    for m in models:
        strength = rng.normal()
        v1_rows, v2_rows = [], []
        for q in range(n_questions):
            for version, base in (("v0.1", "gpt-4-0314"), ("v2.0", v2_base[category[q]])):
                lm, lb = lengths[m][q], lengths[base][q]
                games = []
                for game in (0, 1):
                    label = _labels(strength + 2.0 * (lm - lb) / (lm + lb) + rng.normal())[game]
                    games.append({"score": None if rng.random() < 0.01 else label})
                if version == "v0.1":
                    v1_rows.append({"question_id": f"q{q}", "model": m, "judge": "judge", "games": games})
                else:
                    v2_rows.append({"uid": f"q{q}", "category": category[q], "judge": "judge", "model": m,
                                    "baseline": base, "games": games})  # fmt: skip
        (root / "v0.1" / "model_judgment" / "judge" / f"{m}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in v1_rows)
        )
        (root / "v2.0" / "model_judgment" / "judge" / f"{m}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in v2_rows)
        )


def timed(args: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "app", "score", "arena_hard", *args, "--json"], cwd=ROOT,
                         capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{res.stderr}")
    return took, json.loads(res.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=55)
    ap.add_argument("--questions", type=int, default=750)
    ap.add_argument("--upstream-rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_files(root, args.models, args.questions, args.seed)
        v1 = ["--judgments", str(root / "v0.1" / "model_judgment" / "judge")]
        v2 = ["--judgments", str(root / "v2.0" / "model_judgment" / "judge")]
        runs = {
            "v0.1 (reference time)": [*v1, "--answers", str(root / "v0.1" / "model_answer")],
            "v2.0, hard_prompt": v2,
            "v0.1 --style-control": [*v1, "--answers", str(root / "v0.1" / "model_answer"), "--style-control"],
            "v2.0 --style-control, hard_prompt": [
                *v2,
                "--answers",
                str(root / "v2.0" / "model_answer"),
                "--style-control",
            ],
        }
        times: dict[str, float] = {}
        docs: dict[str, dict] = {}
        for name, argv in runs.items():
            times[name], docs[name] = timed(argv)
        # upstream's style fit on the same v2.0 hard_prompt rows, a few rounds, extrapolated
        from benchmarks.arena_hard import style as st
        from benchmarks.arena_hard import v2 as arena_hard_v2
        from tests.benchmarks.arena_hard.style_reference import style_fit

        rows = [(r.model, r.uid, arena_hard_v2.battle_values(r.labels))
                for r in arena_hard_v2.load_judgments([root / "v2.0" / "model_judgment" / "judge"])
                if r.category == "hard_prompt"]  # fmt: skip
        battles = st.make_style_battles(
            rows, st.load_answer_features(root / "v2.0" / "model_answer"), "o3-mini-2025-01-31"
        )
        t0 = time.perf_counter()
        style_fit(battles, seed=args.seed, rounds=args.upstream_rounds)
        upstream_per_round = (time.perf_counter() - t0) / args.upstream_rounds
    print(f"Arena-Hard scoring: {args.models} models x {args.questions} questions (v2.0: "
          f"{sum(1 for q in range(args.questions) if q % 3 != 2)} hard_prompt), 100 bootstrap rounds, whole commands")  # fmt: skip
    ref = times["v0.1 (reference time)"]
    ok = True
    for name, took in times.items():
        target = "" if name.startswith("v0.1 (") else ("  (< 5 s: met)" if took < LIMIT_S else "  (< 5 s: NOT met)")
        ok &= name.startswith("v0.1 (") or took < LIMIT_S
        print(f"  harness score arena_hard {name:36s} {took:6.2f} s  ({took / ref:4.2f}x the v0.1 scorer){target}")
    sc = docs["v2.0 --style-control, hard_prompt"]
    coef = sc["coefficients"]["token_len"]
    print(f"  v2.0 style control: {sc['n_battles']} battle rows; length coefficient {coef['median']:+.3f} "
          f"[{coef['ci90_low']:+.3f}, {coef['ci90_high']:+.3f}] (the synthetic judge rewards length)")  # fmt: skip
    print(f"  upstream's style fit restated (torch LBFGS per round): {upstream_per_round:.2f} s / round, "
          f"{100 * upstream_per_round:.0f} s for 100 rounds (extrapolated from {args.upstream_rounds} measured); "
          f"the harness command above: {times['v2.0 --style-control, hard_prompt']:.2f} s")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
