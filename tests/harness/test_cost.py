"""The run's cost: an unknown price, or an answer without token counts, makes it null (unknown), never $0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backends import load_model
from harness.runner import Run, generate
from harness.store import Store
from harness.types import Request
from tests.servers import LatencyServer


@pytest.fixture(scope="module")
def servers():  # type: ignore[no-untyped-def]
    with_usage, without = LatencyServer(median=0.01, sigma=0.1), LatencyServer(median=0.01, sigma=0.1, usage=0)
    yield with_usage, without
    with_usage.stop()
    without.stop()


def _run(spec: str, tmp_path: Path) -> tuple[Run, Store]:
    store = Store(tmp_path / "s.sqlite")
    run = Run.start(store, "t", {})
    model = load_model(spec)
    generate(model, [Request.user(f"q{i}", max_tokens=8, n=2) for i in range(3)], run)
    model.close()
    return run, store


def test_a_known_price_is_summed_by_hand(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the server reports 10 prompt tokens and 8 completion tokens per sample: per call (n=2) 10 x $1 + 16 x $2 per 1M
    run, _ = _run(f"{servers[0].spec('m')}?price_in=1&price_out=2", tmp_path)
    assert run.stats.cost_usd == pytest.approx(3 * (10 * 1 + 16 * 2) / 1e6)
    assert run.stats.calls_cost_unknown == 0


def test_an_unknown_price_is_null_with_a_note(servers, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run, store = _run(servers[0].spec("some-local-model"), tmp_path)
    assert run.stats.cost_usd is None and run.stats.calls_cost_unknown == 3
    err = capsys.readouterr().err
    assert "note: some-local-model: no known price, so its cost is null" in err and len(err.strip().splitlines()) == 1
    counters = store.get_run(run.run_id)["counters"]
    assert counters["cost_usd"] is None  # stored as null
    assert json.loads(json.dumps(counters))["cost_usd"] is None


def test_an_answer_without_usage_makes_the_cost_unknown(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, _ = _run(f"{servers[1].spec('m')}?price_in=1&price_out=2", tmp_path)
    assert run.stats.cost_usd is None and run.stats.calls_cost_unknown == 3
