"""Expected-score judging against sampled scores, on the same candidates: ties, all-equal prompts, actor pairs.

    python bench/expected_scores.py [--model demo/run/m1] [--candidates demo/run/iter_1/candidates.jsonl]
                                    [--prompts 160]

The demo's M1 judges the demo's own iteration-1 candidates (written by ``make demo``) with the demo's judge
settings (the compact additive prompt, temperature 0.3, top-p 0.95, 80 tokens, hf), in three arms on a fresh
store (no call is cached): ``sampled`` with n 2 (the demo's default), ``expected`` with n 2 and with n 1
(``judge.score: expected``: the expectation over the score token's top logprobs). Per arm it prints:

- ``ties``: the share of a prompt's response pairs (both scored) whose mean scores are equal;
- ``all_equal``: the share of prompts (>= 2 scored responses) whose responses all score the same: no actor pair;
- ``pairs``: the actor pairs the loop would take (``training.pairs.select_actor_pair``, rho 0);
- ``key_right``: of those pairs that the task world's answer key can check (``taskworld.reference_judgment``),
  the share whose chosen response the key scores higher than the rejected (chosen better per the key); the key
  is used here only to measure, as in bench/self_improvement.py, never in the loop;
- for the expected arms, the same at a minimum margin of 0.5 and 1.0 between chosen and rejected (``>=0.5``);
- judgments, parse failures, sampled fallbacks (expected arms: a parsed score whose token had no distribution)
  and the wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import taskworld  # noqa: E402
from harness.backends import load_model  # noqa: E402
from harness.runner import Run  # noqa: E402
from harness.store import Store  # noqa: E402
from judges.pointwise import PointwiseJudge, PointwiseScore  # noqa: E402
from training import pairs  # noqa: E402

ARMS = (("sampled", 2), ("expected", 2), ("expected", 1))
# expected scores rarely tie, so a pair may rest on a tiny difference: the same scores with a minimum margin
# between chosen and rejected (a post-filter here, on the same judgments)
MARGINS = (0.0, 0.5, 1.0)


def summarise(cands: list[dict[str, Any]], scored: list[list[PointwiseScore]], margin: float = 0.0) -> dict[str, Any]:
    tie = n_pairs_seen = all_equal = n_prompts = n_pairs = key_checked = key_right = 0
    for c, res in zip(cands, scored, strict=True):
        means = [r.mean for r in res]
        valid = [m for m in means if m is not None]
        if len(valid) >= 2:
            n_prompts += 1
            all_equal += max(valid) == min(valid)
            for a, b in combinations(valid, 2):
                n_pairs_seen += 1
                tie += a == b
        responses = [
            pairs.ScoredResponse(t, r.mean, r.n_valid, r.variance) for t, r in zip(c["responses"], res, strict=True)
        ]
        choice = pairs.select_actor_pair(responses, rho=0.0)
        if isinstance(choice, pairs.Skip) or (res[choice.chosen].mean or 0) - (res[choice.rejected].mean or 0) < margin:
            continue
        n_pairs += 1
        ref_c = taskworld.reference_judgment(c["prompt"], c["responses"][choice.chosen])
        ref_r = taskworld.reference_judgment(c["prompt"], c["responses"][choice.rejected])
        if ref_c is not None and ref_r is not None and ref_c[1] != ref_r[1]:
            key_checked += 1
            key_right += ref_c[1] > ref_r[1]
    return {
        "ties": tie / n_pairs_seen if n_pairs_seen else None,
        "all_equal": all_equal / n_prompts if n_prompts else None,
        "pairs": n_pairs,
        "key_right": key_right / key_checked if key_checked else None,
        "key_checked": key_checked,
        "judgments": sum(len(r.scores) for res in scored for r in res),
        "parse_failures": sum(r.n_failed for res in scored for r in res),
        "sampled_fallback": sum(r.n_sampled_fallback for res in scored for r in res),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "demo" / "run" / "m1"))
    ap.add_argument("--candidates", default=str(ROOT / "demo" / "run" / "iter_1" / "candidates.jsonl"))
    ap.add_argument("--prompts", type=int, default=160, help="the first N prompts of the candidates file")
    args = ap.parse_args()
    if not (Path(args.model) / "config.json").is_file() or not Path(args.candidates).is_file():
        print(f"expected_scores: {args.model} or {args.candidates} missing (run `make demo` first)", file=sys.stderr)
        return 2
    cands = [json.loads(x) for x in Path(args.candidates).read_text().splitlines() if x.strip()][: args.prompts]
    cands = [c for c in cands if len(c["responses"]) >= 2]
    items = [(c["prompt"], r) for c in cands for r in c["responses"]]
    print(f"expected_scores: {args.model} judges {len(items)} responses of {len(cands)} prompts "
          f"(those with >= 2 distinct responses), demo judge settings, hf", flush=True)  # fmt: skip
    header = f"{'arm':<18} {'ties':>6} {'all_eq':>7} {'pairs':>6} {'key_right':>12} {'judgm.':>7} {'failed':>7} " \
             f"{'fallbk':>7} {'wall s':>7}"  # fmt: skip
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for arm, (mode, n) in enumerate(ARMS):
            # a store per arm: sample i of a request is seeded seed + i, so n 1 would reuse n 2's first samples
            store = Store(Path(tmp) / f"store-{arm}.sqlite")
            model = load_model(f"hf:{args.model}?batch_size=64", store=store)
            judge = PointwiseJudge(model, Run.start(store, "bench", {}), prompt="pointwise_additive_compact", n=n,
                                   temperature=0.3, top_p=0.95, max_tokens=80, seed=31, score_mode=mode)  # fmt: skip
            start = time.perf_counter()
            flat = judge.score(items)
            wall = time.perf_counter() - start
            scored, k = [], 0
            for c in cands:
                scored.append(flat[k : k + len(c["responses"])])
                k += len(c["responses"])
            for margin in MARGINS if mode == "expected" else (0.0,):
                s = summarise(cands, scored, margin)
                key = "-" if s["key_right"] is None else f"{s['key_right']:.3f} ({s['key_checked']})"
                name = f"{mode} n={n}" + (f" >={margin:g}" if margin else "")
                print(f"{name:<18} {s['ties']:>6.3f} {s['all_equal']:>7.3f} {s['pairs']:>6d} {key:>12} "
                      f"{s['judgments']:>7d} {s['parse_failures']:>7d} {s['sampled_fallback']:>7d} {wall:>7.1f}",
                      flush=True)  # fmt: skip
            model.close()
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
