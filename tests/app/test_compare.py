"""`harness compare` on a planted pair: the wins, ties and losses are the planted annotator's draws, counted here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.planted_server import model_wins
from tests.servers import planted_cli_metrics

SEED, P_WIN, N = 5, 0.7, 30


def test_compare_recovers_the_planted_preferences(tiny_model: Path, tmp_path: Path) -> None:
    """A = the planted actor (its answers carry the marker), B = the random tiny model. The planted AlpacaEval
    annotator prefers the marked answer of an instruction with probability 0.7, the same draw in both orders: A wins
    exactly the prompts whose draw says so, loses the others, and never ties."""
    prompts = [f"Describe planted item number {i} in one sentence." for i in range(N)]
    pfile = tmp_path / "p.jsonl"
    pfile.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    m = planted_cli_metrics(
        tmp_path,
        "head_to_head",
        lambda server: [
            "compare",
            "--model",
            server.spec("actor"),
            "--model",
            f"hf:{tiny_model}",
            "--judge",
            server.spec("judge"),
            "--prompts",
            str(pfile),
            "--max-tokens",
            "8",
        ],
        seed=SEED,
        p_win=P_WIN,
    )
    wins = sum(model_wins(SEED, P_WIN, p) for p in prompts)  # the planted draws, not the harness
    assert 0 < wins < N
    assert m["wins"]["value"] == pytest.approx(wins / N) and m["wins"]["n"] == N
    assert m["losses"]["value"] == pytest.approx((N - wins) / N)
    assert m["ties"]["value"] == 0.0
    assert m["b_minus_a"]["value"] == pytest.approx((N - 2 * wins) / N)
    assert m["wins"]["ci_low"] <= m["wins"]["value"] <= m["wins"]["ci_high"]
    assert m["n_unparsed"]["value"] == 0
