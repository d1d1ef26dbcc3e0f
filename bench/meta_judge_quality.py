"""Does the meta-judge pick the better judgment? The judge pairs of a Meta-Rewarding run, against the answer key.

    python bench/meta_judge_quality.py [--run demo/run]

Each iteration's ``iter_N/judge_pairs.jsonl`` holds the DPO pairs the meta-judge chose for the judge: one prompt
(the judge's prompt, with the question and the response judged) and two judgments, chosen and rejected. The loop
never sees the task world's answers; this bench does, after the fact: for each pair it computes the task world's
reference score of the response judged (``benchmarks.core.world.reference_judgment``) and asks which judgment's
final score is closer to it. A pair is *decided* when one is strictly closer. The share of decided pairs whose
chosen judgment is the closer one is the meta-judge's pair quality: 0.5 is chance, and the judge can learn from its
pairs only where it is above 0.5. Printed per iteration with a 95% Wilson interval and a two-sided binomial test
against 0.5. The default run is the demo's (``make demo`` first).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.core.world import reference_judgment  # noqa: E402
from judges.parse import parse_score  # noqa: E402


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a share k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def pair_outcome(row: dict) -> str:
    """``closer`` (the chosen judgment's score is nearer the reference score), ``farther``, ``equal``, or
    ``unscored`` (no reference for the response, or a judgment without a score)."""
    content = row["prompt"][-1]["content"]
    question = content.split("User: ", 1)[1].split("\n\n<response>", 1)[0]
    response = content.split("<response>", 1)[1].split("</response>", 1)[0]
    ref = reference_judgment(question, response)
    chosen, rejected = (parse_score(row[k][-1]["content"]) for k in ("chosen", "rejected"))
    if ref is None or chosen is None or rejected is None:
        return "unscored"
    dc, dr = abs(chosen - ref[1]), abs(rejected - ref[1])
    return "closer" if dc < dr else "farther" if dc > dr else "equal"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=str(ROOT / "demo" / "run"), help="a harness iterate output directory")
    args = ap.parse_args()
    files = sorted(Path(args.run).glob("iter_*/judge_pairs.jsonl"))
    if not files:
        print(f"meta_judge_quality: no iter_*/judge_pairs.jsonl under {args.run} (run make demo first)")
        return 1
    from scipy.stats import binomtest

    print("meta-judge pair quality: the chosen judgment's score nearer the answer key's than the rejected one's")
    for path in files:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        counts = {k: 0 for k in ("closer", "farther", "equal", "unscored")}
        for row in rows:
            counts[pair_outcome(row)] += 1
        decided = counts["closer"] + counts["farther"]
        if decided == 0:
            print(f"  {path.parent.name}: {len(rows)} pairs, none decided")
            continue
        low, high = wilson(counts["closer"], decided)
        p = binomtest(counts["closer"], decided, 0.5).pvalue
        print(f"  {path.parent.name}: {len(rows)} pairs; chosen nearer in {counts['closer']} of {decided} decided "
              f"= {counts['closer'] / decided:.3f} [{low:.3f}, {high:.3f}], p = {p:.2f} against 0.5 "
              f"(equal {counts['equal']}, unscored {counts['unscored']})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
