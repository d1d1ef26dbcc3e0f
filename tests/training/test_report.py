"""The per-iteration table of `harness iterate` at 100 columns: metric names whole, every value and CI shown."""

from __future__ import annotations

import io

from rich.console import Console

from training.report import iteration_table

METRICS = ("judge.pairwise_accuracy_ties_excluded", "taskworld.accuracy")


def _summary(n_iterations: int) -> dict:
    rows = []
    for t in range(1, n_iterations + 1):
        row: dict = {"iteration": t}
        for k, m in enumerate(METRICS):
            v = 0.5 + 0.1 * k + 0.01 * t
            row |= {m: v, f"{m}.ci_low": v - 0.031, f"{m}.ci_high": v + 0.029}
        rows.append(row)
    return {"run_id": "r1", "iterations": rows, "best_iteration": n_iterations}


def _render(n_iterations: int) -> list[str]:
    buf = io.StringIO()
    iteration_table(_summary(n_iterations), Console(file=buf, width=100, color_system=None))
    return buf.getvalue().splitlines()


def test_three_iterations_fit_in_100_columns_without_folding_a_metric_name() -> None:
    lines = _render(3)
    assert max(len(line) for line in lines) <= 100
    text = "\n".join(lines)
    for m in METRICS:
        assert m in text  # not folded over two lines
    # M3's accuracy and its CI, under the name (written by hand from _summary: 0.6 + 0.03 = 0.63)
    assert "0.63" in text and "[0.599, 0.659]" in text


def test_two_iterations_keep_a_value_and_its_ci_on_one_line() -> None:
    text = "\n".join(_render(2))
    assert "0.62 [0.589, 0.649]" in text
