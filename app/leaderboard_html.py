"""The static HTML leaderboard index: one self-contained file (inline CSS/JS) with every run's tables and links to
the report page of each iterate run (:mod:`app.report_html`, where the plots are).

Every model name and model text goes through ``html.escape``; the page runs no code that comes from the data.
"""

from __future__ import annotations

import html
import json
from typing import Any

from benchmarks.core.paired import excludes_zero

# a wide table scrolls inside its own box (.wide): the page itself never overflows to the right (issue 31)
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;overflow-wrap:anywhere}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;overflow-wrap:normal;white-space:nowrap}th{background:#f0f0f0;cursor:pointer}
td.model,td.text{text-align:left}td.text{white-space:pre-wrap;overflow-wrap:anywhere;max-width:50em}
.wide{overflow-x:auto;max-width:100%}img{max-width:100%;display:block}
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


def fmt(cell: dict[str, Any] | None, with_ci: bool = True, column: str = "") -> str:
    """A cell's value (4 significant digits) with its CI; a paired difference whose CI excludes 0 gets a *."""
    if not cell or cell.get("value") is None:
        return "-"
    delta = ".delta_" in column
    text = f"{cell['value']:+.3g}" if delta else f"{cell['value']:.4g}"
    if with_ci and cell.get("ci_low") is not None:
        text += f" [{cell['ci_low']:.3g}, {cell['ci_high']:.3g}]"
    if delta and excludes_zero(cell.get("ci_low"), cell.get("ci_high")):
        text += " *"
    return text


def table_html(table: dict[str, Any], css_id: str, columns: list[str] | None = None) -> str:
    """A sortable table of a family's rows (``columns``, default every column; values with their CIs), in a box
    that scrolls sideways when it is wider than the page."""
    e = html.escape
    columns = table["columns"] if columns is None else columns
    head = "".join(f"<th>{e(c)}</th>" for c in ["model", *columns, "run"])
    body = []
    for row in table["rows"]:
        label = row["model"] if row["iteration"] is None else f"M{row['iteration']} ({row['model']})"
        cells = [f'<td class="model" data-sort="{e(label)}">{e(label)}</td>']
        for c in columns:
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
        f'<div class="wide"><table class="sortable" id="{e(css_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(
    tables: dict[str, Any],
    runs: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    run_pages: dict[str, str] | None = None,
) -> str:
    """The index across runs: per family, the headline metrics of every run, the other metrics one click away
    (a closed ``<details>``); links to each iterate run's report page; a few samples."""
    from benchmarks.core.registry import headline_metrics

    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>harness leaderboard</title>"]
    parts.append(f"<style>{_CSS}</style></head><body><h1>harness leaderboard</h1>")
    for fam, table in tables.items():
        headline = set(headline_metrics(present=table["columns"]))
        shown = [c for c in table["columns"] if c in headline] or table["columns"]
        parts.append(f"<h2>{e(fam)}</h2>" + table_html(table, f"table-{fam}", shown))
        if len(shown) < len(table["columns"]):
            parts.append(
                f"<details><summary>all {len(table['columns'])} {e(fam)} metrics</summary>"
                + table_html(table, f"all-{fam}")
                + "</details>"
            )
    if run_pages:
        parts.append("<h2>run reports</h2><ul id='run-pages'>")
        for run_id, href in run_pages.items():
            parts.append(f"<li><a href='{e(href)}'>{e(run_id)}</a></li>")
        parts.append("</ul>")
    if samples:
        parts.append(
            "<h2>sample outputs</h2><div class='wide'><table class='sortable' id='samples'><thead><tr><th>model</th>"
            "<th>benchmark</th><th>sample</th></tr></thead><tbody>"
        )
        for s in samples:
            # the model's text as text: an actor's output, a judged response; a JSON dump only for other shapes
            text = (
                s["sample"].get("output")
                or s["sample"].get("response")
                or json.dumps(s["sample"], ensure_ascii=False)[:2000]
            )
            label = s["model"] if s["iteration"] is None else f"M{s['iteration']} ({s['model']})"
            parts.append(
                f'<tr><td class="model" data-sort="{e(label)}">{e(label)}</td><td data-sort="{e(s["benchmark"])}">{e(s["benchmark"])}</td>'
                f'<td class="text" data-sort="">{e(str(text))}</td></tr>'
            )
        parts.append("</tbody></table></div>")
    parts.append("<h2>runs</h2><ul>")
    for run in runs:
        cfg = json.dumps(run["config"], ensure_ascii=False, default=str)[:500]
        parts.append(
            f'<li id="run-{e(run["run_id"])}"><b>{e(run["run_id"])}</b> {e(run["command"])} ({e(run["status"])}): <code>{e(cfg)}</code></li>'
        )
    parts.append(f"</ul><script>{_JS}</script></body></html>")
    return "".join(parts)
