"""The static HTML leaderboard: one self-contained file (inline CSS/JS, plots as data-URI PNGs).

Every model name and model text goes through ``html.escape``; the page runs no code that comes
from the data. Plots are made with matplotlib (Agg backend, no display).
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import defaultdict
from typing import Any

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f0f0f0;cursor:pointer}
td.model,td.text{text-align:left}td.text{white-space:pre-wrap;max-width:50em}img{max-width:48em;display:block}
"""
# sort on click: numbers numerically (by the leading value), text lexically; toggles direction
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th){
  th.addEventListener('click',function(){
    var table=th.closest('table'),body=table.tBodies[0],idx=Array.prototype.indexOf.call(th.parentNode.children,th);
    var asc=th.getAttribute('data-dir')!=='asc';th.setAttribute('data-dir',asc?'asc':'desc');
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=a.cells[idx].getAttribute('data-sort'),y=b.cells[idx].getAttribute('data-sort');
      var nx=parseFloat(x),ny=parseFloat(y);
      var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:String(x).localeCompare(String(y));
      return asc?c:-c;});
    rows.forEach(function(r){body.appendChild(r);});
  });
});
"""


def _significant(cell: dict[str, Any]) -> bool:
    lo, hi = cell.get("ci_low"), cell.get("ci_high")
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def fmt(cell: dict[str, Any] | None, with_ci: bool = True, column: str = "") -> str:
    """A cell's value (4 significant digits) with its CI; a paired difference whose CI excludes 0 gets a *."""
    if not cell or cell.get("value") is None:
        return "-"
    delta = ".delta_" in column
    text = f"{cell['value']:+.3g}" if delta else f"{cell['value']:.4g}"
    if with_ci and cell.get("ci_low") is not None:
        text += f" [{cell['ci_low']:.3g}, {cell['ci_high']:.3g}]"
    if delta and _significant(cell):
        text += " *"
    return text


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def curves(rows: list[dict[str, Any]], family_benchmarks: list[str], title: str) -> str | None:
    """One line per (run, metric) over iterations; None when no run has 2+ iterations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in rows:
        if r["iteration"] is not None and r["value"] is not None and r["benchmark"] in family_benchmarks:
            if not r["metric"].startswith("score_frac"):
                series[(r["run_id"], f"{r['benchmark']}.{r['metric']}")].append((r["iteration"], r["value"]))
    series = {k: sorted(v) for k, v in series.items() if len(v) >= 2}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for (run_id, metric), pts in sorted(series.items()):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{metric} ({run_id[-8:]})")
    ax.set_xlabel("iteration (M_t)")
    ax.set_title(title)
    ax.legend(fontsize=6, loc="best")
    return _png(fig)


def score_distribution(rows: list[dict[str, Any]]) -> str | None:
    """Judge-score distribution per iteration (like Meta-Rewarding Fig. 5), from judge.score_frac_<k>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dist: dict[tuple[str, int], dict[int, float]] = defaultdict(dict)
    for r in rows:
        if r["benchmark"] == "judge" and r["metric"].startswith("score_frac_") and r["iteration"] is not None:
            dist[(r["run_id"], r["iteration"])][int(r["metric"].rsplit("_", 1)[1])] = r["value"] or 0.0
    if not dist:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    keys = sorted(dist)
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        xs = sorted(dist[key])
        ax.bar([x + j * width for x in xs], [dist[key][x] for x in xs], width=width, label=f"M{key[1]} ({key[0][-8:]})")
    ax.set_xlabel("judge score")
    ax.set_ylabel("share of judgments")
    ax.set_title("judge-score distribution per iteration")
    ax.legend(fontsize=6)
    return _png(fig)


def _table(table: dict[str, Any], css_id: str) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in ["model", *table["columns"], "run"])
    body = []
    for row in table["rows"]:
        label = row["model"] if row["iteration"] is None else f"M{row['iteration']} ({row['model']})"
        cells = [f'<td class="model" data-sort="{e(label)}">{e(label)}</td>']
        for c in table["columns"]:
            cell = row.get(c) or {}
            value = cell.get("value")
            cells.append(
                f'<td data-sort="{"" if value is None else value}" title="run {e(row["run_id"])}">{e(fmt(cell))}</td>'
            )
        cells.append(
            f'<td data-sort="{e(row["run_id"])}"><a href="#run-{e(row["run_id"])}">{e(row["run_id"])}</a></td>'
        )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="sortable" id="{e(css_id)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def render_html(
    tables: dict[str, Any], runs: list[dict[str, Any]], samples: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> str:
    from benchmarks.registry import declared

    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>harness leaderboard</title>"]
    parts.append(f"<style>{_CSS}</style></head><body><h1>harness leaderboard</h1>")
    for fam, table in tables.items():
        parts.append(f"<h2>{e(fam)}</h2>" + _table(table, f"table-{fam}"))
    for fam, title in (("actor", "actor metrics over iterations"), ("judge", "judge metrics over iterations")):
        img = curves(rows, [b.name for b in declared() if b.family == fam], title)
        if img:
            parts.append(f'<h2>{e(title)}</h2><img class="curve" alt="{e(title)}" src="data:image/png;base64,{img}">')
    img = score_distribution(rows)
    if img:
        parts.append(
            f'<h2>judge-score distribution</h2><img class="dist" alt="score distribution" src="data:image/png;base64,{img}">'
        )
    if samples:
        parts.append(
            "<h2>sample outputs</h2><table class='sortable' id='samples'><thead><tr><th>model</th><th>benchmark</th><th>sample</th></tr></thead><tbody>"
        )
        for s in samples:
            text = s["sample"].get("output") or json.dumps(s["sample"], ensure_ascii=False)[:2000]
            label = s["model"] if s["iteration"] is None else f"M{s['iteration']} ({s['model']})"
            parts.append(
                f'<tr><td class="model" data-sort="{e(label)}">{e(label)}</td><td data-sort="{e(s["benchmark"])}">{e(s["benchmark"])}</td>'
                f'<td class="text" data-sort="">{e(str(text))}</td></tr>'
            )
        parts.append("</tbody></table>")
    parts.append("<h2>runs</h2><ul>")
    for run in runs:
        cfg = json.dumps(run["config"], ensure_ascii=False, default=str)[:500]
        parts.append(
            f'<li id="run-{e(run["run_id"])}"><b>{e(run["run_id"])}</b> {e(run["command"])} ({e(run["status"])}): <code>{e(cfg)}</code></li>'
        )
    parts.append(f"</ul><script>{_JS}</script></body></html>")
    return "".join(parts)
