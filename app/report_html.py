"""The report page of one `harness iterate` run: "did it get better?" at a glance, one self-contained HTML file.

Plots are plotly figures with plotly.js embedded inline (``plotly.offline.get_plotlyjs``, as alpaca_eval's
leaderboard plots do): no network, hover values, series toggled from the legend. The page holds, top to bottom:

1. "Did it get better?" as a forest plot of the paired differences (M_t - M_t-1, M_last - M1) with their CIs,
   coloured by the same verdicts as the terminal table (``training.report.delta_rows``), and that table;
2. headline metrics as small multiples, one panel per metric with its own scale, judge and actor on separate
   rows: the value per iteration with its 95% CI band, integer iteration ticks, the best iteration marked (a
   star, in the metric's declared direction) and the gate verdict of each iteration in the hover text;
3. the judge panel: score distribution per iteration, the alarms over iterations, judge score against the known
   rank, and the evaluator table of an iteration judged by several judges;
4. a sample browser: per held-out prompt, the answers of two chosen iterations side by side with their
   correctness, filtered by improved / regressed / unchanged and searched by text; and the judge's scores and
   rationales beside each response's known rank;
5. every other metric one click away (``<details>``).

Model text reaches the page only as JSON inside ``<script type="application/json">`` (``<``, ``>`` and ``&``
escaped) and is put into the document with ``textContent``: it is shown as text and never runs.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from typing import Any

VERDICT_COLOURS = {"better": "#2da44e", "worse": "#cf222e", "n.s.": "#8c959f", "up": "#0969da", "down": "#0969da"}
ALARM_PREFIX = "judge_alarms."

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1300px;padding:0 1em;color:#222;overflow-x:hidden}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}table{border-collapse:collapse;margin:.5em 0;max-width:100%}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:right;vertical-align:top}th{background:#f6f8fa}
td.text{text-align:left;white-space:pre-wrap;overflow-wrap:anywhere;max-width:28em}.wide{overflow-x:auto;max-width:100%}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:6px}.panel{min-width:0}.caption{color:#57606a;font-size:.9em}.controls{margin:.5em 0}.controls label{margin-right:1em}
.ok{color:#1a7f37}.bad{color:#cf222e}details{margin:.5em 0}#sample-browser th,#judge-browser th{text-align:left}
td.change{white-space:nowrap;text-align:left}
"""

_BROWSER_JS = """
(function(){
  var data=JSON.parse(document.getElementById('samples-data').textContent);
  var its=data.iterations, body=document.querySelector('#sample-browser tbody');
  var selA=document.getElementById('iter-a'), selB=document.getElementById('iter-b');
  its.forEach(function(it,k){[selA,selB].forEach(function(sel){var o=document.createElement('option');
    o.value=String(it);o.textContent='M'+it;sel.appendChild(o);});});
  selA.value=String(its[0]);selB.value=String(its[its.length-1]);
  function change(p,a,b){var x=p.by[a],y=p.by[b];if(!x||!y)return 'unknown';
    if(x.correct===y.correct)return 'unchanged';return y.correct?'improved':'regressed';}
  function cell(tr,text,cls){var td=document.createElement('td');td.className=cls||'text';td.textContent=text;
    tr.appendChild(td);return td;}
  function mark(r){return r?(r.correct?'\\u2713 ':'\\u2717 ')+r.output:'-';}
  function render(){
    var a=selA.value,b=selB.value,f=document.querySelector('input[name=filter]:checked').value;
    var q=document.getElementById('sample-search').value.toLowerCase();body.textContent='';var shown=0;
    data.actor.forEach(function(p){
      var c=change(p,a,b);if(f!=='all'&&c!==f)return;
      var ra=p.by[a],rb=p.by[b];
      var hay=(p.prompt+' '+(ra?ra.output:'')+' '+(rb?rb.output:'')).toLowerCase();if(q&&hay.indexOf(q)<0)return;
      var tr=document.createElement('tr');tr.setAttribute('data-prompt',p.prompt);tr.setAttribute('data-change',c);
      cell(tr,p.prompt);cell(tr,p.reference);
      cell(tr,mark(ra),'text '+(ra&&ra.correct?'ok':'bad'));cell(tr,mark(rb),'text '+(rb&&rb.correct?'ok':'bad'));
      cell(tr,c,'change');body.appendChild(tr);shown++;});
    document.getElementById('sample-count').textContent=shown+' of '+data.actor.length+' prompts';
  }
  [selA,selB].forEach(function(s){s.addEventListener('change',render);});
  document.querySelectorAll('input[name=filter]').forEach(function(r){r.addEventListener('change',render);});
  document.getElementById('sample-search').addEventListener('input',render);
  render();
  var jbody=document.querySelector('#judge-browser tbody');
  function jrender(){
    var q=document.getElementById('judge-search').value.toLowerCase();jbody.textContent='';
    data.judge.forEach(function(p){
      var hay=(p.prompt+' '+p.response).toLowerCase();if(q&&hay.indexOf(q)<0)return;
      var tr=document.createElement('tr');cell(tr,p.prompt);cell(tr,String(p.rank),'');cell(tr,p.response);
      its.forEach(function(it){var r=p.by[it];cell(tr,r?(r.score===null?'unparsed':String(r.score))+'\\n'+r.rationale:'-');});
      jbody.appendChild(tr);});
  }
  document.getElementById('judge-search').addEventListener('input',jrender);
  jrender();
})();
"""


def _json_script(obj: Any) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element (no ``</script>``, no entities)."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def summary_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's per-iteration flat metrics (``training.gates.flat_metrics``), as `harness iterate` keeps them."""
    from training.gates import flat_metrics

    by_it: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["iteration"] is not None:
            by_it[int(r["iteration"])].append(r)
    run_id = rows[0]["run_id"] if rows else ""
    return {"run_id": run_id, "iterations": [{"iteration": it, **flat_metrics(by_it[it])} for it in sorted(by_it)]}


def _num(x: Any) -> float | None:
    return None if x is None or x != x else float(x)


def _panels(summary: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(judge headline metrics, actor headline metrics, alarm metrics) present with a value in this run."""
    from benchmarks.core.registry import family, headline_metrics

    its = summary["iterations"]
    present = {k for r in its for k, v in r.items() if _num(v) is not None}
    names = [m for m in headline_metrics(present=sorted(present)) if m in present]
    judge = [m for m in names if family(m.split(".")[0]) == "judge" and not m.startswith(ALARM_PREFIX)]
    actor = [m for m in names if family(m.split(".")[0]) == "actor"]
    alarms = [m for m in names if m.startswith(ALARM_PREFIX)]
    return judge, actor, alarms


def _gate_text(gates: dict[int, dict[str, Any]], it: int) -> str:
    doc = gates.get(it)
    if not doc:
        return "gate: none recorded"
    verdict = "PASS" if doc.get("passed") else "FAIL"
    return f"gate: {verdict}<br>" + "<br>".join(html.escape(str(r)) for r in doc.get("reasons", []))


def _panel(fig: Any, div_id: str, title: str) -> str:
    fig.update_layout(title={"text": title, "font": {"size": 13}}, height=240, showlegend=False, autosize=True,
                      margin={"l": 45, "r": 10, "t": 36, "b": 28})  # fmt: skip
    html_ = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"responsive": True, "displayModeBar": False}
    )
    return f"<div class='panel'>{html_}</div>"


def _small_multiples(summary: dict[str, Any], metrics: list[str], gates: dict[int, dict[str, Any]], div_id: str) -> str:
    """One small figure per metric, in a grid that wraps with the page's width (each panel its own scale)."""
    import plotly.graph_objects as go

    from benchmarks.core.registry import higher_is_better

    its = summary["iterations"]
    panels = []
    for k, m in enumerate(metrics):
        fig = go.Figure()
        pts = [(r["iteration"], _num(r.get(m)), _num(r.get(f"{m}.ci_low")), _num(r.get(f"{m}.ci_high"))) for r in its]
        pts = [p for p in pts if p[1] is not None]
        xs = [p[0] for p in pts]
        if pts and all(p[2] is not None and p[3] is not None for p in pts):
            fig.add_trace(go.Scatter(x=xs, y=[p[3] for p in pts], mode="lines", line={"width": 0},
                                     hoverinfo="skip"))  # fmt: skip
            fig.add_trace(go.Scatter(x=xs, y=[p[2] for p in pts], mode="lines", line={"width": 0}, fill="tonexty",
                                     fillcolor="rgba(9,105,218,0.15)", name="95% CI", hoverinfo="skip"))  # fmt: skip
        hover = [
            f"M{p[0]}: {p[1]:.4g}" + (f" [{p[2]:.4g}, {p[3]:.4g}]" if p[2] is not None else "")
            + "<br>" + _gate_text(gates, p[0])
            for p in pts
        ]  # fmt: skip
        fig.add_trace(go.Scatter(x=xs, y=[p[1] for p in pts], mode="lines+markers", name=m,
                                 line={"color": "#0969da"}, hovertext=hover, hoverinfo="text"))  # fmt: skip
        direction = higher_is_better(m)
        if direction is not None and pts:
            best = (max if direction else min)(pts, key=lambda p: p[1] or 0.0)
            fig.add_trace(go.Scatter(x=[best[0]], y=[best[1]], mode="markers", name="best",
                                     marker={"symbol": "star", "size": 14, "color": "#bf8700"},
                                     hovertext=[f"best: M{best[0]}"], hoverinfo="text"))  # fmt: skip
        fig.update_xaxes(tickmode="array", tickvals=xs, ticktext=[f"M{x}" for x in xs])
        panels.append(_panel(fig, f"{div_id}-{k}", m))
    return f"<div class='panels' id='{div_id}'>{''.join(panels)}</div>"


def _forest(deltas: list[dict[str, Any]]) -> str:
    """One forest panel per metric: each comparison's paired difference with its CI, coloured by its verdict."""
    import plotly.graph_objects as go

    panels = []
    for k, m in enumerate(dict.fromkeys(d["metric"] for d in deltas)):
        fig = go.Figure()
        ds = [d for d in deltas if d["metric"] == m and d["delta"] is not None]
        for verdict in dict.fromkeys(d["verdict"] for d in ds):
            sel = [d for d in ds if d["verdict"] == verdict]
            fig.add_trace(go.Scatter(
                x=[d["delta"] for d in sel], y=[d["comparison"] for d in sel], mode="markers",
                marker={"color": VERDICT_COLOURS.get(verdict, "#57606a"), "size": 9},
                error_x={"type": "data", "symmetric": False,
                         "array": [(d["ci_high"] - d["delta"]) if d["ci_high"] is not None else 0 for d in sel],
                         "arrayminus": [(d["delta"] - d["ci_low"]) if d["ci_low"] is not None else 0 for d in sel]},
                hovertext=[f"{d['comparison']}: {d['delta']:+.3g} [{d['ci_low']:+.3g}, {d['ci_high']:+.3g}] "
                           f"{verdict}" if d["ci_low"] is not None else f"{d['comparison']}: {d['delta']:+.3g}"
                           for d in sel],
                hoverinfo="text", name=verdict,
            ))  # fmt: skip
        fig.add_vline(x=0, line={"color": "#57606a", "dash": "dot"})
        order = list(dict.fromkeys(d["comparison"] for d in ds))  # the same order in every panel, first at the top
        fig.update_yaxes(categoryorder="array", categoryarray=order[::-1])
        panels.append(_panel(fig, f"forest-{k}", m))
    return f"<div class='panels' id='forest'>{''.join(panels)}</div>"


def _verdict_table(deltas: list[dict[str, Any]]) -> str:
    e = html.escape
    out = ["<div class='wide'><table id='verdicts'><thead><tr><th>metric</th><th>comparison</th><th>delta</th>"
           "<th>95% CI</th><th>verdict</th></tr></thead><tbody>"]  # fmt: skip
    for d in deltas:
        delta = "-" if d["delta"] is None else f"{d['delta']:+.3f}"
        ci = "-" if d["ci_low"] is None else f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
        colour = VERDICT_COLOURS.get(d["verdict"], "#57606a")
        out.append(
            f"<tr data-metric='{e(d['metric'])}' data-comparison='{e(d['comparison'])}' "
            f"data-verdict='{e(d['verdict'])}'><td class='text'>{e(d['metric'])}</td><td>{e(d['comparison'])}</td>"
            f"<td>{delta}</td><td>{ci}</td><td style='color:{colour}'>{e(d['verdict'])}</td></tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _judge_panel(rows: list[dict[str, Any]], summary: dict[str, Any], alarms: list[str],
                 gates: dict[int, dict[str, Any]], judge_samples: list[dict[str, Any]]) -> str:  # fmt: skip
    import plotly.graph_objects as go

    parts = []
    dist: dict[int, dict[int, float]] = defaultdict(dict)
    for r in rows:
        if r["benchmark"] == "judge" and r["metric"].startswith("score_frac_") and r["iteration"] is not None:
            if (frac := _num(r["value"])) is not None:  # a missing fraction is left out, never drawn as 0
                dist[int(r["iteration"])][int(r["metric"].rsplit("_", 1)[1])] = frac
    if dist:
        fig = go.Figure()
        for it in sorted(dist):
            xs = sorted(dist[it])
            fig.add_trace(go.Bar(x=xs, y=[dist[it][x] for x in xs], name=f"M{it}"))
        fig.update_layout(barmode="group", height=300, xaxis_title="judge score", yaxis_title="share of judgments",
                          margin={"l": 50, "r": 10, "t": 30, "b": 40}, title="score distribution per iteration")  # fmt: skip
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id="score-dist",
                                 config={"responsive": True, "displayModeBar": False}))  # fmt: skip
    if alarms:
        parts.append("<h3>alarms over iterations</h3>" + _small_multiples(summary, alarms, gates, "alarms"))
    by_rank: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in judge_samples:
        score, rank = s["sample"].get("score"), s["sample"].get("human_rank")
        if isinstance(score, int | float) and isinstance(rank, int) and s["iteration"] is not None:
            by_rank[int(s["iteration"])][rank].append(float(score))
    if by_rank:
        fig = go.Figure()
        its = sorted(by_rank)
        shown = its if len(its) <= 4 else [its[0], its[len(its) // 2], its[-1]]  # a handful of series at most
        for it in shown:
            ranks = sorted(by_rank[it])
            fig.add_trace(go.Scatter(x=ranks, y=[sum(by_rank[it][k]) / len(by_rank[it][k]) for k in ranks],
                                     mode="lines+markers", name=f"M{it}"))  # fmt: skip
        fig.update_layout(height=300, xaxis_title="known rank (1 = best)", yaxis_title="mean judge score",
                          xaxis={"dtick": 1}, margin={"l": 50, "r": 10, "t": 30, "b": 40},
                          title="judge score against the known rank")  # fmt: skip
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id="score-rank",
                                 config={"responsive": True, "displayModeBar": False}))  # fmt: skip
    return "".join(parts)


def evaluator_table_html(rows: list[dict[str, Any]]) -> str:
    """alpaca_eval's evaluator table, per iteration that was judged by several judges (``harness eval --judge A
    --judge B``: each judge's and the ensemble's rows are stored under their names): one row per judge, the
    terminal table's columns (``app.eval.EVALUATOR_COLUMNS``), values to 2 decimals, "-" where unknown."""
    from app.eval import EVALUATOR_COLUMNS

    by: dict[int, dict[str, dict[str, float | None]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r["benchmark"] == "judge" and r["iteration"] is not None and "." not in r["metric"]:
            by[int(r["iteration"])][str(r["model"])][r["metric"]] = _num(r["value"])
    several = {it: judges for it, judges in by.items() if len(judges) >= 2}
    if not several:
        return ""
    present = {m for judges in several.values() for vals in judges.values() for m, v in vals.items() if v is not None}
    cols = [(m, h) for m, h in EVALUATOR_COLUMNS if m in present]
    head = "".join(f"<th title='{html.escape(m)}'>{html.escape(h)}</th>" for m, h in cols)
    body = "".join(
        f"<tr><td>M{it}</td><td>{html.escape(judge)}</td>"
        + "".join(f"<td>{'-' if vals.get(m) is None else f'{vals[m]:.2f}'}</td>" for m, _ in cols) + "</tr>"
        for it in sorted(several) for judge, vals in several[it].items()
    )  # fmt: skip
    return (
        "<h3>evaluators (several judges)</h3><p class='caption'>acc: pairwise accuracy, ties excluded; rho: "
        "Spearman; long / lists / 1st: P(prefer the longer response / the one with a list / the one shown first); "
        "$/1k: cost per 1000 judged responses.</p><div class='wide'><table id='evaluators'><thead><tr><th>iteration"
        f"</th><th>judge</th>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def browser_data(samples: list[dict[str, Any]], iterations: list[int]) -> dict[str, Any]:
    """Per held-out prompt, each iteration's answer and correctness (taskworld) and, per judged response, each
    iteration's score and rationale beside its known rank (judge)."""
    actor: dict[str, dict[str, Any]] = {}
    judge: dict[tuple[str, str], dict[str, Any]] = {}
    for s in samples:
        it, doc = s["iteration"], s["sample"]
        if it is None:
            continue
        if s["benchmark"] == "taskworld" and "prompt" in doc:
            p = actor.setdefault(doc["prompt"], {"prompt": str(doc["prompt"]), "reference": str(doc.get("reference", "")),
                                                  "by": {}})  # fmt: skip
            p["by"][str(it)] = {"output": str(doc.get("output", "")), "correct": bool(doc.get("correct"))}
        elif s["benchmark"] == "judge" and "response" in doc:
            key = (str(doc.get("prompt_id", "")), str(doc["response"]))
            j = judge.setdefault(key, {"prompt": key[0], "response": key[1], "rank": doc.get("human_rank"), "by": {}})
            score = doc.get("score")
            j["by"][str(it)] = {
                "score": score if isinstance(score, int | float) else None,
                "rationale": "\n---\n".join(str(x) for x in doc.get("judgments", [])),
            }
    return {"iterations": iterations, "actor": list(actor.values()), "judge": list(judge.values())}


def _browser(data: dict[str, Any]) -> str:
    its = data["iterations"]
    judge_cols = "".join(f"<th>M{it} score / rationale</th>" for it in its)
    return (
        "<h2 id='samples'>Samples</h2><p class='caption'>Each held-out prompt's answers from two iterations, side by "
        "side (\u2713 correct, \u2717 wrong against the known answer).</p><div class='controls'>"
        "<label>A <select id='iter-a'></select></label><label>B <select id='iter-b'></select></label>"
        + "".join(
            f"<label><input type='radio' name='filter' id='filter-{v}' value='{v}'{' checked' if v == 'all' else ''}>"
            f"{v}</label>"
            for v in ("all", "improved", "regressed", "unchanged")
        )
        + "<input id='sample-search' type='search' placeholder='search text'> <span id='sample-count'></span></div>"
        "<div class='wide'><table id='sample-browser'><thead><tr><th>prompt</th><th>known answer</th><th>A</th>"
        "<th>B</th><th>change</th></tr></thead><tbody></tbody></table></div>"
        "<h3>The judge's scores against the known rank</h3><div class='controls'>"
        "<input id='judge-search' type='search' placeholder='search text'></div>"
        f"<div class='wide'><table id='judge-browser'><thead><tr><th>prompt</th><th>known rank</th><th>response</th>"
        f"{judge_cols}</tr></thead><tbody></tbody></table></div>"
        f"<script type='application/json' id='samples-data'>{_json_script(data)}</script>"
    )


def render_run_page(
    run: dict[str, Any], rows: list[dict[str, Any]], samples: list[dict[str, Any]], gates: dict[int, dict[str, Any]],
    other_metrics_html: str, plotly_js: str,
) -> str:  # fmt: skip
    """The report page of one run (its result rows, samples and gate decisions)."""
    from training.report import delta_rows

    e = html.escape
    summary = summary_of(rows)
    its = [r["iteration"] for r in summary["iterations"]]
    judge, actor, alarms = _panels(summary)
    deltas = delta_rows(summary)
    gate_line = ", ".join(
        f"M{it} {'PASS' if gates[it].get('passed') else 'FAIL'}" if it in gates else f"M{it} (no gate)" for it in its
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>run {e(run['run_id'])}</title>",
        f"<meta name='viewport' content='width=device-width'><style>{_CSS}</style>",
        f"<script>{plotly_js}</script></head><body>",
        f"<p><a href='leaderboard.html'>all runs</a></p><h1>run {e(run['run_id'])}</h1>",
        f"<p class='caption'>{e(run['command'])} ({e(run['status'])}), iterations {', '.join(f'M{i}' for i in its)}; "
        f"gates: {e(gate_line)} (hover a point for each gate's rules and values). Bands: 95% CIs; \u2605: the "
        "best iteration of each metric in its declared direction.</p>",
    ]
    if deltas:  # the question the page answers comes first
        parts.append(
            "<h2>Did it get better?</h2><p class='caption'>Paired differences on the same held-out items, 95% CI; "
            "green better, red worse, grey n.s., blue up/down (a metric without a direction), as in the terminal "
            "table.</p>" + _forest(deltas) + "<details><summary>the same as a table</summary>"
            + _verdict_table(deltas) + "</details>"
        )  # fmt: skip
    if judge:
        parts.append("<h2>Judge</h2>" + _small_multiples(summary, judge, gates, "judge-panels"))
    if actor:
        parts.append("<h2>Actor</h2>" + _small_multiples(summary, actor, gates, "actor-panels"))
    judge_samples = [s for s in samples if s["benchmark"] == "judge"]
    panel = _judge_panel(rows, summary, alarms, gates, judge_samples) + evaluator_table_html(rows)
    if panel:
        parts.append("<h2>Judge panel</h2>" + panel)
    parts.append(_browser(browser_data(samples, its)))
    parts.append(f"<h2>Every metric</h2><details><summary>all metrics of this run</summary>{other_metrics_html}"
                 "</details>")  # fmt: skip
    parts.append(f"<script>{_BROWSER_JS}</script></body></html>")
    return "".join(parts)
