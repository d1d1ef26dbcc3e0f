"""CI coverage of the live headline metrics, against planted truths: seeded repetitions of a small planted case.

Each repetition is one `harness eval` (``app.eval.run_eval``, the CLI's own function, in-process to spare 200
interpreter starts) of judge, alpaca_eval, arena_hard and mt_bench against tests/planted_server.py, whose judge
and annotator draw their verdicts afresh per repetition (seed K through the model name ``judge-sK``):

- judge ``pairwise_accuracy``: the judge under test orders a prompt's two responses as the human ranks do with
  q = 0.8 per prompt -> 0.8;
- alpaca_eval ``win_rate``: the annotator prefers the actor's output with p = 0.7 per instruction -> 70;
- arena_hard ``score``: the actor wins a question (both games) with p = 0.7 -> 70; also re-scored from the
  written judgments with ``--bootstrap questions`` (whole questions resampled);
- mt_bench ``overall``: every rating uniform on 1..10 -> 5.5.

The coverage (share of repetitions whose 95% CI holds the planted value) is printed per metric; README quotes it.
Arena-Hard's bootstrap resamples *battles*, and both games of a question are battles of one draw, so its CI is
too narrow by about sqrt(2) when the two games agree: expected coverage P(|Z| < 1.96 / sqrt(2)) = 0.834. The
harness matches show_result there on purpose; the test pins that measured gap instead of hiding it, and shows
that resampling whole questions (``harness score arena_hard --bootstrap questions``, ``--option
arena_hard.bootstrap=questions``) covers 95%.

A measured gap of our own (``KNOWN_GAPS``): the judge's pairwise accuracy, a percentile bootstrap over 30
prompts of a proportion near 0.8, covers 0.915 (the discrete bootstrap distribution's percentiles are too
tight at this size); kept visible here and in the README until a better interval (e.g. BCa) replaces it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from tests.benchmarks.test_alpaca_eval import BASELINE, _outputs_path
from tests.servers import PlantedServer

REPS = int(os.environ.get("HARNESS_CALIBRATION_REPS", "200"))
N = 30  # instructions, questions (both turns graded) per benchmark
P_WIN = 0.7
Q_JUDGE = 0.8
PLANTED = {("judge", "pairwise_accuracy"): Q_JUDGE, ("alpaca_eval", "win_rate"): 100 * P_WIN, ("arena_hard", "score"): 100 * P_WIN,
           ("arena_hard", "score --bootstrap questions"): 100 * P_WIN, ("mt_bench", "overall"): 5.5}  # fmt: skip
# the coverage each CI should reach, and why
# (arena_hard: P(|Z| < 1.96 / sqrt(2)) = erf(1.96 / 2), see the module doc)
EXPECTED = {("judge", "pairwise_accuracy"): 0.95, ("alpaca_eval", "win_rate"): 0.95, ("arena_hard", "score"): math.erf(1.96 / 2),
            ("arena_hard", "score --bootstrap questions"): 0.95, ("mt_bench", "overall"): 0.95}  # fmt: skip


# measured gaps, kept visible: a metric here must stay below its expected coverage by more than the tolerance
# (the test fails once it is fixed, so that README and the issue are updated); see the module doc
KNOWN_GAPS = {("judge", "pairwise_accuracy"): "percentile bootstrap over 30 prompts, proportion near 0.8"}


def coverage_table(shared: Path, tmp: Path, reps: int) -> dict[tuple[str, str], float]:
    from app.eval import run_eval
    from benchmarks.arena_hard import score_arena_hard

    reference = json.loads(_outputs_path(shared, BASELINE).read_text())[:N]
    (tmp / "reference.json").write_text(json.dumps(reference))
    ranked = [{"id": f"p{i}", "prompt": f"question {i}: {r['instruction']}",
               "responses": [f"[rank=1] answer {i}", f"[rank=2] answer {i}"], "ranks": [1, 2]}
              for i, r in enumerate(reference)]  # fmt: skip
    (tmp / "ranked.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ranked))
    server = PlantedServer(p_win=P_WIN, rating1=0, retry_every=0, q_judge=Q_JUDGE)
    hits = dict.fromkeys(PLANTED, 0)
    try:
        for k in range(reps):
            doc = run_eval(
                model_spec=server.spec("actor"), benchmarks=["judge", "alpaca_eval", "arena_hard", "mt_bench"],
                judge_spec=server.spec(f"judge-s{k}") + "?concurrency=16",
                annotator_spec=server.spec(f"judge-s{k}") + "?concurrency=16",
                data={"alpaca_eval_reference": str(tmp / "reference.json"), "judge": str(tmp / "ranked.jsonl")},
                options={"alpaca_eval.lc": "off"}, limit=N,
                store_path=str(tmp / "s.sqlite"), out_dir=str(tmp / "out" / str(k)), quiet=True,
            )  # fmt: skip
            for (bench, metric), planted in PLANTED.items():
                if metric.startswith("score --bootstrap"):  # harness score's function on the files the run wrote
                    extra = doc["benchmarks"][bench]["extra"]
                    judged = tmp / "out" / str(k) / bench / "model_judgment" / extra["judge"]
                    m = score_arena_hard(None, judged, bootstrap="questions")["models"][extra["model"]]
                else:
                    m = next(x for x in doc["benchmarks"][bench]["metrics"] if x["metric"] == metric)
                hits[bench, metric] += m["ci_low"] <= planted <= m["ci_high"]
    finally:
        server.stop()
    return {key: h / reps for key, h in hits.items()}


def test_ci_coverage_of_the_headline_metrics(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table = coverage_table(shared, tmp_path, REPS)
    with capsys.disabled():
        print(f"\ncoverage of the 95% CIs over {REPS} planted repetitions:")
        for (bench, metric), cov in table.items():
            print(
                f"  {bench}.{metric}: {cov:.3f} (planted {PLANTED[bench, metric]}, expected {EXPECTED[bench, metric]:.3f})"
            )
    tol = 0.03 if REPS >= 200 else 3 * math.sqrt(0.05 * 0.95 / REPS)
    for key, cov in table.items():
        if key in KNOWN_GAPS:
            assert cov < EXPECTED[key] - tol, (key, cov, "the known gap is closed: update README and KNOWN_GAPS")
        else:
            assert abs(cov - EXPECTED[key]) <= tol, (key, cov)
