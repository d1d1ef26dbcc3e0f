"""Agreement with a strong (reference) judge, `harness eval --benchmarks judge --reference-judge`, against values
the test derives from a planted judge under test and a planted reference (Meta-Rewarding Sec. 3.4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.planted_server import MARK, judge_faithful, model_wins
from tests.servers import planted_cli_metrics

SEED, P_WIN, Q_JUDGE, N = 13, 0.7, 0.6, 40


def test_reference_agreement_by_hand(tmp_path: Path) -> None:
    """The judge under test scores a prompt's human-best response 5 and the worst 1 when it is faithful (p = 0.6
    per prompt), else the reverse. The reference prefers a response marked [planted] (the human-best one on half
    the prompts) with p = 0.7 per instruction in both orders; on unmarked pairs its two orders disagree: a tie.

    - reference-chosen pairs (best vs worst, kept where the reference is decisive: the marked prompts): the judge
      agrees when faithful == draw;
    - self-chosen pairs (the judge's 5 vs its 1): the reference prefers the judge's choice when faithful == draw on
      marked prompts, and ties on the unmarked ones (0.5 each; dropped without ties)."""
    prompts = [f"Reference question {i}?" for i in range(N)]
    marked = [i % 2 == 0 for i in range(N)]
    rows = [{"id": f"q{i}", "prompt": p, "responses": [f"{MARK} best {i} [rank=1]" if marked[i] else
             f"best {i} [rank=1]", f"worst {i} [rank=2]"], "ranks": [1, 2]} for i, p in enumerate(prompts)]  # fmt: skip
    data = tmp_path / "ranked.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    m = planted_cli_metrics(
        tmp_path,
        "judge",
        lambda server: [
            "eval",
            "--model",
            server.spec("judge"),
            "--benchmarks",
            "judge",
            "--reference-judge",
            server.spec("strong"),
            "--data",
            str(data),
            "--option",
            "judge.n_resamples=200",
        ],
        seed=SEED,
        p_win=P_WIN,
        q_judge=Q_JUDGE,
    )
    agree = [judge_faithful(SEED, Q_JUDGE, p) == model_wins(SEED, P_WIN, p) for p in prompts]  # planted draws
    n_marked = sum(marked)
    same = sum(a for a, mk in zip(agree, marked, strict=True) if mk)
    assert 0 < same < n_marked
    assert m["agreement"]["value"] == pytest.approx(same / n_marked) and m["agreement"]["n"] == n_marked
    assert m["agreement_without_ties"]["value"] == pytest.approx(same / n_marked)
    assert m["self_chosen_agreement"]["value"] == pytest.approx((same + 0.5 * (N - n_marked)) / N)
    assert m["self_chosen_agreement"]["n"] == N
    assert m["self_chosen_agreement_without_ties"]["value"] == pytest.approx(same / n_marked)
    assert m["self_chosen_agreement_without_ties"]["n"] == n_marked
