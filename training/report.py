"""The per-iteration table printed at the end of `harness iterate`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

HEADLINE = [
    "judge.pairwise_accuracy", "judge.spearman", "judge.kendall", "judge.agreement", "judge.judgment_parse_rate",
    "judge.mean_score", "taskworld.accuracy", "taskworld.avg_length", "alpaca_eval.lc_win_rate",
    "alpaca_eval.win_rate", "arena_hard.score", "mt_bench.overall",
]  # fmt: skip


def iteration_table(summary: dict[str, Any], console: Console | None = None) -> Table:
    """Headline metrics per iteration (all metrics are in summary.json and the store)."""
    rows = summary["iterations"]
    present = {k for r in rows for k in r if k != "iteration"}
    metrics = [m for m in HEADLINE if m in present] or sorted(present)[:8]
    # metrics as rows, iterations as columns: stays readable in a narrow terminal
    table = Table(title=f"harness iterate - run {summary['run_id']}")
    table.add_column("metric")
    for r in rows:
        mark = " *" if r["iteration"] == summary.get("best_iteration") else ""
        table.add_column(f"M{r['iteration']}{mark}", justify="right")
    for m in metrics:
        cells = ["-" if r.get(m) is None or r[m] != r[m] else f"{r[m]:.4g}" for r in rows]
        table.add_row(m, *cells)
    (console or Console()).print(table)
    return table
