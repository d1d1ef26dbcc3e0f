"""The per-iteration tables printed at the end of `harness iterate` (at most 100 columns wide).

1. Headline metrics per iteration, each with its 95% CI (metrics as rows, iterations as columns).
2. "Did it get better?": the paired differences between consecutive iterations and against M1, on the same
   held-out items, with their paired-bootstrap 95% CIs (``benchmarks.core.paired``), whatever their sign.
   A difference whose CI excludes 0 is marked ``better`` or ``worse`` by the metric's direction.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.core.paired import verdict


def _headline(present: set[str]) -> list[str]:
    # declared by the benchmarks (benchmarks.core.registry): no second list of metric facts here; `present` adds the
    # headline metrics of parametrised benchmarks (lm_eval:TASK.acc)
    from benchmarks.core.registry import headline_metrics

    return headline_metrics(present=sorted(present))


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _cell(value: Any, low: Any, high: Any) -> str:
    v, lo, hi = _num(value), _num(low), _num(high)
    if v is None:
        return "-"
    ci = f" [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else ""
    return f"{v:.3g}{ci}"


def delta_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (headline metric, comparison): M(t) - M(t-1) for every t >= 2, and M(last) - M1."""
    rows = summary["iterations"]
    out = []
    present = {k for r in rows for k in r}
    for m in [h for h in _headline(present) if f"{h}.delta_prev" in present]:
        comparisons = [(f"M{r['iteration']} - M{r['iteration'] - 1}", r, "delta_prev") for r in rows[1:]]
        if len(rows) > 2:
            comparisons.append((f"M{rows[-1]['iteration']} - M1", rows[-1], "delta_first"))
        for label, r, suffix in comparisons:
            key = f"{m}.{suffix}"
            low, high = _num(r.get(f"{key}.ci_low")), _num(r.get(f"{key}.ci_high"))
            out.append({"metric": m, "comparison": label, "delta": _num(r.get(key)), "ci_low": low, "ci_high": high,
                        "verdict": verdict(m, low, high)})  # fmt: skip
    return out


def _width(metrics: list[str], cells: dict[str, list[str]]) -> int:
    """Columns a one-line-per-metric table needs: the widest text of each column plus rich's borders and padding."""
    n_cols = 1 + max((len(cs) for cs in cells.values()), default=0)
    widest = max((len(c) for cs in cells.values() for c in cs), default=0)
    return max((len(m) for m in metrics), default=0) + (n_cols - 1) * widest + 3 * n_cols + 1


def iteration_table(summary: dict[str, Any], console: Console | None = None) -> Table:
    """Headline metrics per iteration with CIs, then the paired differences (all metrics: summary.json, store)."""
    console = console or Console(width=100)
    rows = summary["iterations"]
    present = {k for r in rows for k in r if k != "iteration"}
    metrics = [m for m in _headline(present) if m in present] or sorted(p for p in present if ".ci_" not in p)[:8]
    cells = {m: [_cell(r.get(m), r.get(f"{m}.ci_low"), r.get(f"{m}.ci_high")) for r in rows] for m in metrics}
    if _width(metrics, cells) > console.width:
        # a value above its CI, so that metric names are never folded (three iterations do not fit on one line)
        cells = {m: [c.replace(" [", "\n[", 1) for c in cs] for m, cs in cells.items()}
    table = Table(title=f"harness iterate - run {summary['run_id']} (95% CIs)")
    table.add_column("metric", overflow="fold")
    for r in rows:
        mark = " *best" if r["iteration"] == summary.get("best_iteration") else ""
        table.add_column(f"M{r['iteration']}{mark}", justify="right")
    for m in metrics:
        table.add_row(m, *cells[m])
    console.print(table)
    deltas = delta_rows(summary)
    if deltas:
        dt = Table(title="Did it get better? Paired differences on the same held-out items (95% CI)")
        for col, justify in (("metric", "left"), ("comparison", "left"), ("delta", "right"), ("95% CI", "right"),
                             ("verdict", "left")):  # fmt: skip
            dt.add_column(col, justify=justify)  # type: ignore[arg-type]
        for d in deltas:
            delta = "-" if d["delta"] is None else f"{d['delta']:+.3f}"
            ci = "-" if d["ci_low"] is None else f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
            style = {"better": "green", "worse": "red"}.get(d["verdict"], "")
            dt.add_row(
                d["metric"], d["comparison"], delta, ci, f"[{style}]{d['verdict']}[/]" if style else d["verdict"]
            )
        console.print(dt)
    return table
