"""Does the meta-judge pick the better judgment? The judge pairs of a Meta-Rewarding run, against the answer key.

    python bench/meta_judge_quality.py [--run demo/run] [--probe CKPT | --no-probe] [--temperatures 0.8]
                                       [--samples 1,2,4,8] [--synthetic 240]

Each iteration's ``iter_N/judge_pairs.jsonl`` holds the DPO pairs the meta-judge chose for the judge: one prompt
(the judge's prompt, with the question and the response judged) and two judgments, chosen and rejected. The loop
never sees the task world's answers; this bench does, after the fact: for each pair it computes the task world's
reference score of the response judged (``benchmarks.core.world.reference_judgment``) and asks which judgment's
final score is closer to it. A pair is *decided* when one is strictly closer. The share of decided pairs whose
chosen judgment is the closer one is the meta-judge's pair quality: 0.5 is chance, and the judge can learn from its
pairs only where it is above 0.5. Printed per iteration with a 95% Wilson interval and a two-sided binomial test
against 0.5. The default run is the demo's (``make demo`` first).

Then (``--no-probe`` skips it) it asks the meta-judge of ``--probe CKPT`` (the run's M1 by default) afresh about
every pair of iteration 1's judgments of one response whose two scores differ and whose distances to the reference
score differ (not only the pairs the loop selected), in both orders, at each temperature of ``--temperatures`` (the run's meta-judge
prompt and token budget, top-p 0.95): the share of pairs it decides (one judgment wins both orders) for the better
judgment, the share it leaves tied, and its first-position rate; with ``--samples`` verdicts per order (fresh
seeds), summed, to tell a weak signal from luck.

``--synthetic N`` (default 240; 0 skips it) then asks the same meta-judge about planted pairs whose better judgment is known by
construction, per task kind: for each of N fresh training-partition tasks, the reference judgment of a response
against a consistent judgment of another answer (the miscopy a tiny judge makes), once for a wrong response (the
other judgment copies the right answer and says correct) and once for a right one (the other copies a wrong answer);
one verdict per order at the first ``--temperatures``. It tells a meta-judge that cannot check claims from one
that can, where the model's own pairs leave room for neither.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.core import world  # noqa: E402
from benchmarks.core.world import nearer_to_reference, reference_judgment  # noqa: E402
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
    return {1: "closer", 2: "farther", None: "equal"}[nearer_to_reference(chosen, rejected, ref[1])]


def probe(run_dir: Path, checkpoint: str, temperatures: list[float], samples: list[int]) -> None:
    """The meta-judge of ``checkpoint`` on iteration 1's judgment pairs with different scores (module doc)."""
    import tempfile

    from harness.backends import load_model
    from harness.runner import Run
    from harness.store import Store
    from judges.meta import MetaJudge

    manifest = json.loads((run_dir / "iter_1" / "judge_pairs.manifest.json").read_text())
    prompt = manifest["config"]["judge"]["meta_prompt"]  # the run's own meta-judge prompt and token budget
    max_tokens = int(manifest["config"]["iteration"].get("meta_judge_max_tokens", 40))
    items, better = [], []
    for line in (run_dir / "iter_1" / "judgments.jsonl").read_text().splitlines():
        row = json.loads(line)
        for response, texts, scores in zip(row["responses"], row["judgments"], row["scores"], strict=True):
            ref = reference_judgment(row["prompt"], response)
            if ref is None or len(texts) < 2 or None in scores[:2] or scores[0] == scores[1]:
                continue
            d0, d1 = abs(scores[0] - ref[1]), abs(scores[1] - ref[1])
            if d0 != d1:
                items.append((row["prompt"], response, list(texts[:2])))
                better.append(0 if d0 < d1 else 1)
    print(f"probe: the meta-judge of {checkpoint} on {len(items)} pairs of iteration 1's judgments (scores differ)")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.sqlite")
        model = load_model(f"hf:{checkpoint}?batch_size=64", store=store)
        run = Run.start(store, "meta_judge_quality", {})
        for t in temperatures:
            # several independent samples per order (seeds 13, 14, ...): each verdict sampled afresh, the wins summed
            draws = [MetaJudge(model, run, prompt=prompt, temperature=t, top_p=0.95, max_tokens=max_tokens, seed=13 + s)
                     .battles_many(items) for s in range(max(samples))]  # fmt: skip
            for k in samples:
                right = wrong = tied = first = parsed = 0
                for i, good in enumerate(better):
                    wins = [0, 0]
                    for b in (b for d in draws[:k] for b in d[i]):
                        if b.winner is not None:
                            parsed += 1
                            first += b.winner == 1
                            wins[b.first if b.winner == 1 else b.second] += 1
                    if wins[0] == wins[1]:
                        tied += 1
                    elif (wins[0] > wins[1]) == (good == 0):
                        right += 1
                    else:
                        wrong += 1
                decided = right + wrong
                verdict = "none decided"
                if decided:
                    low, high = wilson(right, decided)
                    verdict = f"{right / decided:.3f} [{low:.3f}, {high:.3f}]"
                print(f"  temperature {t:g}, {k} sample(s) per order: better judgment in {right} of {decided} decided "
                      f"= {verdict}; tied {tied} of {len(items)}; first position wins "
                      f"{first / parsed if parsed else float('nan'):.3f} of {parsed} parsed battles")  # fmt: skip
        model.close()


def synthetic(run_dir: Path, checkpoint: str, n: int, temperature: float) -> None:
    """The meta-judge of ``checkpoint`` on planted claim pairs, per task kind (module doc)."""
    import random
    import tempfile

    from harness.backends import load_model
    from harness.runner import Run
    from harness.store import Store
    from judges.meta import MetaJudge

    manifest = json.loads((run_dir / "iter_1" / "judge_pairs.manifest.json").read_text())
    prompt = manifest["config"]["judge"]["meta_prompt"]
    max_tokens = int(manifest["config"]["iteration"].get("meta_judge_max_tokens", 40))
    rng = random.Random(5)
    items, kinds = [], []
    for task in world.tasks(n, seed=777, split="train"):
        good, wrong = world.good_response(task), f"The answer is {world.wrong_answer(task, rng)}."
        for judged, other in ((wrong, good), (good, wrong)):  # the better judgment is always the first
            right, miscopied = reference_judgment(task.prompt, judged), reference_judgment(task.prompt, other)
            assert right is not None and miscopied is not None
            items.append((task.prompt, judged, [right[0], miscopied[0]]))
            kinds.append(task.kind)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.sqlite")
        model = load_model(f"hf:{checkpoint}?batch_size=64", store=store)
        run = Run.start(store, "meta_judge_quality", {})
        draws = MetaJudge(model, run, prompt=prompt, temperature=temperature, top_p=0.95, max_tokens=max_tokens,
                          seed=13).battles_many(items)  # fmt: skip
        model.close()
    print(f"synthetic: the meta-judge of {checkpoint} on {len(items)} planted claim pairs (temperature "
          f"{temperature:g}, one verdict per order): better judgment / decided, and tied")  # fmt: skip
    table: dict[str, list[int]] = {}
    for kind, battles in zip(kinds, draws, strict=True):
        wins = [0, 0]
        for b in battles:
            if b.winner is not None:
                wins[b.first if b.winner == 1 else b.second] += 1
        cell = table.setdefault(kind, [0, 0, 0])
        cell[0 if wins[0] > wins[1] else 1 if wins[1] > wins[0] else 2] += 1
    table["all"] = [sum(c[i] for c in table.values()) for i in range(3)]
    for kind, (right, wrong, tied) in table.items():
        decided = right + wrong
        share = (
            f"{right / decided:.3f} [{wilson(right, decided)[0]:.3f}, {wilson(right, decided)[1]:.3f}]"
            if decided
            else "-"
        )
        print(f"  {kind:>8}: {right} of {decided} decided = {share}; tied {tied}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=str(ROOT / "demo" / "run"), help="a harness iterate output directory")
    ap.add_argument("--probe", default="", help="the checkpoint whose meta-judge is re-asked (default: the run's M1)")
    ap.add_argument("--no-probe", action="store_true", help="only score the run's own judge pairs")
    ap.add_argument("--temperatures", default="0.8", help="the probe's meta-judge temperatures (0: greedy)")
    ap.add_argument("--samples", default="1,2,4,8", help="the probe's verdicts per order, summed")
    ap.add_argument("--synthetic", type=int, default=240, help="planted claim pairs from this many tasks (0: none)")
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
    if not args.no_probe:
        checkpoint = args.probe or str(Path(args.run) / "m1")
        temperatures = [float(t) for t in args.temperatures.split(",")]
        probe(Path(args.run), checkpoint, temperatures, [int(k) for k in args.samples.split(",")])
        if args.synthetic:
            synthetic(Path(args.run), checkpoint, args.synthetic, temperatures[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
