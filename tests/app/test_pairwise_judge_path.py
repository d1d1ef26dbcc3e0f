"""`harness eval --benchmarks judge --option judge.pairwise=true`: the judge under test judged pairwise in both
orders, against a planted pairwise judge whose every verdict the test can derive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.planted_server import MARK, model_wins
from tests.servers import planted_cli_metrics

SEED, P_WIN, N = 11, 0.7, 40


def test_pairwise_path_order_flips_consistent_accuracy_and_first_position(tmp_path: Path) -> None:
    """The planted AlpacaEval-style judge prefers a response marked [planted] with p = 0.7 per instruction (the same
    draw in both orders), and with no marker it picks a position: the second shown when the draw says so, else the
    first. Half the prompts mark their human-best response, half mark none. Per pair, in the best-first frame:

    - marked, draw: both orders prefer the best (consistent, right);  marked, no draw: both prefer the worst;
    - unmarked: the two orders disagree (a flip), the first shown winning both orders when the draw fails.
    """
    prompts = [f"Planted pairwise question {i}?" for i in range(N)]
    marked = [i % 2 == 0 for i in range(N)]
    rows = [{"id": f"q{i}", "prompt": p, "responses": [f"{MARK} best {i}" if marked[i] else f"best {i}", f"worst {i}"],
             "ranks": [1, 2]} for i, p in enumerate(prompts)]  # fmt: skip
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
            "--data",
            str(data),
            "--option",
            "judge.pairwise=true",
            "--option",
            "judge.n_resamples=200",
        ],
        seed=SEED,
        p_win=P_WIN,
    )
    draw = [model_wins(SEED, P_WIN, p) for p in prompts]  # the planted draws, not the harness
    right = sum(mk and d for mk, d in zip(marked, draw, strict=True))
    flips = sum(not mk for mk in marked)
    # orders won by the response shown first: a marked pair one of its two orders; an unmarked pair both orders
    # when the draw fails (the first shown wins), none when it holds
    first = sum(1 if mk else (0 if d else 2) for mk, d in zip(marked, draw, strict=True))
    assert 0 < right < N // 2 and 0 < first
    assert m["order_flip_rate"]["value"] == pytest.approx(flips / N) and m["order_flip_rate"]["n"] == N
    assert m["consistent_accuracy"]["value"] == pytest.approx(right / N)
    assert (
        m["first_position_rate"]["value"] == pytest.approx(first / (2 * N)) and m["first_position_rate"]["n"] == 2 * N
    )
