"""`harness leaderboard`: publish stored results as markdown, CSV, JSON and a static HTML page.

Tables are per benchmark family — actor (AlpacaEval 2, Arena-Hard, MT-Bench, head-to-head, task
world) and judge (judge-quality metrics, meta-judge biases) — with one row per (run, iteration,
model), in the shape of the papers' tables (Self-Rewarding Tables 1 and 4; Meta-Rewarding Tables
1-3, 5-7). Every row carries its run id, so every number links back to the run that made it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

from app.leaderboard_html import fmt, render_html
from app.options import store_option
from harness.files import atomic_write_json, atomic_write_text, check_writable
from harness.store import Store
from harness.types import HarnessError


def _family(benchmark: str) -> str:
    # families and column order are declared by the benchmarks (benchmarks.core.registry): no second list here
    from benchmarks.core.registry import family

    return family(benchmark)


def _preferred(columns: set[str]) -> list[str]:
    from benchmarks.core.registry import headline_metrics

    return headline_metrics(present=sorted(columns))


def build_tables(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Group result rows into per-family tables: {family: {"columns": [...], "rows": [...]}}.

    A table row is {"run_id", "iteration", "model", "<bench>.<metric>": {"value", "ci_low", "ci_high", "n"}}.
    """
    grouped: dict[str, dict[tuple[str, Any, str], dict[str, Any]]] = defaultdict(dict)
    columns: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        fam = _family(r["benchmark"])
        key = (r["run_id"], r["iteration"], r["model"])
        row = grouped[fam].setdefault(key, {"run_id": r["run_id"], "iteration": r["iteration"], "model": r["model"]})
        col = f"{r['benchmark']}.{r['metric']}"
        row[col] = {k: r[k] for k in ("value", "ci_low", "ci_high", "n")}
        columns[fam].add(col)
    tables = {}
    for fam, by_key in grouped.items():
        preferred = _preferred(columns[fam])
        cols = [c for c in preferred if c in columns[fam]] + sorted(columns[fam] - set(preferred))
        ordered = sorted(
            by_key.values(), key=lambda r: (r["run_id"], r["iteration"] if r["iteration"] is not None else -1)
        )
        tables[fam] = {"columns": cols, "rows": ordered}
    return tables


def _terminal_columns(family: str, columns: list[str]) -> list[str]:
    """The declared 80-column metrics of a family present in the table; the first also with its .delta_prev."""
    from benchmarks.core.registry import headline_metrics

    cols = [c for c in headline_metrics(terminal=True) if c in columns and _family(c.split(".")[0]) == family]
    if cols and f"{cols[0]}.delta_prev" in columns:
        cols.insert(1, f"{cols[0]}.delta_prev")
    return cols


# at most 8 characters each, so a header never folds mid-word at 80 columns; the table's caption is the legend
_SHORT = {
    "pairwise_accuracy_ties_excluded": "noties", "pairwise_accuracy": "acc", "judge_tie_rate": "ties", "judgment_parse_rate": "parse",
    "parse_rate": "parse", "first_position_all": "pos_A", "all_equal_share": "all_eq", "top_score_share": "top",
    "rank_consistency": "rank_con", "accuracy": "acc", "avg_length": "len", "spearman": "spearman",
    "kendall": "kendall", "win_rate": "win", "lc_win_rate": "lc_win", "score": "score", "overall": "overall",
}  # fmt: skip
_HEADER_MAX = 8


def _short_col(col: str) -> str:
    """An 8-character header: the metric's short name, ``Δ`` before it for the change from the previous iteration."""
    parts = col.split(".")
    delta = parts[-1] == "delta_prev"
    name = parts[-2] if delta and len(parts) > 2 else parts[-1] if len(parts) > 1 else parts[0]
    short = _SHORT.get(name, name)[: _HEADER_MAX - (1 if delta else 0)]
    return f"Δ{short}" if delta else short


def terminal_tables(tables: dict[str, dict[str, Any]], width: int = 80) -> list[Any]:
    """rich Tables of the headline columns only, values without CIs, that fit ``width`` columns.

    Headers are short names (never folded mid-word); the caption is their legend. The model column shows
    ``M<iteration>`` and the run id; the full tables (CIs, every metric) are in the files.
    """
    from rich.table import Table

    out = []
    for fam, table in tables.items():
        cols = _terminal_columns(fam, table["columns"]) or table["columns"][:4]
        legend = "; ".join(f"{_short_col(c)} = {c}" for c in cols)
        t = Table(
            title=f"{fam} (headline columns; every column and CI in the files)", width=width,
            caption=f"{legend}; * = the change's 95% CI excludes 0", caption_justify="left",
        )  # fmt: skip
        t.add_column("model", overflow="fold", max_width=22)
        for c in cols:
            t.add_column(_short_col(c), justify="right", overflow="fold", no_wrap=False, min_width=_HEADER_MAX)
        for row in table["rows"]:
            label = f"M{row['iteration']} {row['run_id'][:8]}" if row["iteration"] is not None else _short(row["model"])
            t.add_row(label, *[fmt(row.get(c), with_ci=False, column=c) for c in cols])
        out.append(t)
    return out


def _short(model: str) -> str:
    """A model label for the 80-column table: an API spec without its URL and options (judge-s1, and an ensemble
    as ensemble(mean: judge-s1 + judge-s2), folded over lines), a checkpoint path by its last 22 characters."""
    short = re.sub(r"@https?://[^\s)+]*|\?[^\s)+]*|\bopenai:", "", model)
    return short if short != model or "/" not in model else model[-22:]


def _label(row: dict[str, Any]) -> str:
    return row["model"] if row["iteration"] is None else f"M{row['iteration']} ({row['model']})"


def to_markdown(family: str, table: dict[str, Any]) -> str:
    cols = table["columns"]
    lines = [f"### {family}", "", "| model | " + " | ".join(cols) + " | run |", "|---|" + "---|" * (len(cols) + 1)]
    for row in table["rows"]:
        cells = [fmt(row.get(c), column=c).replace("|", "\\|") for c in cols]
        label = _label(row).replace("|", "\\|")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | [{row['run_id']}](#run-{row['run_id']}) |")
    return "\n".join(lines) + "\n"


def to_csv(table: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    header = ["run_id", "iteration", "model"]
    for c in table["columns"]:
        header += [c, f"{c}.ci_low", f"{c}.ci_high", f"{c}.n"]
    writer.writerow(header)
    for row in table["rows"]:
        out = [row["run_id"], row["iteration"], row["model"]]
        for c in table["columns"]:
            cell = row.get(c) or {}
            out += [cell.get("value"), cell.get("ci_low"), cell.get("ci_high"), cell.get("n")]
        writer.writerow(out)
    return buf.getvalue()


def publish(
    store_path: str | None, out_dir: str | Path, *, runs: list[str] | None = None, formats: list[str] | None = None
) -> dict[str, Any]:
    """Write the tables of the selected runs (all by default) into ``out_dir``; returns the tables."""
    formats = formats or ["md", "csv", "json", "html"]
    unknown = set(formats) - {"md", "csv", "json", "html"}
    if unknown:
        raise HarnessError(f"--format: unknown format(s) {', '.join(sorted(unknown))} (md, csv, json, html)")
    store = Store(store_path, must_exist=True)
    try:
        for run_id in runs or []:
            store.get_run(run_id)  # unknown run -> one-line error
        rows = store.get_results(runs)
        if not rows:
            raise HarnessError(f"store {store.path}: no results{' for the selected runs' if runs else ''}")
        run_docs = [store.get_run(r) for r in sorted({row["run_id"] for row in rows})]
        samples = store.get_samples(runs)
        # a report page for every run with iterations (harness iterate): all of its samples and its gates
        report_runs = sorted({r["run_id"] for r in rows if r["iteration"] is not None}) if "html" in formats else []
        pages: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, dict[str, Any]]]] = {}
        for run_id in report_runs:
            its = sorted({int(r["iteration"]) for r in rows if r["run_id"] == run_id and r["iteration"] is not None})
            gates = {it: json.loads(g) for it in its if (g := store.kv_get(f"gate:{run_id}:{it}")) is not None}
            pages[run_id] = ([r for r in rows if r["run_id"] == run_id], store.get_samples([run_id], None), gates)
    finally:
        store.close()
    tables = build_tables(rows)
    out = Path(out_dir)
    page_names = {run_id: f"run-{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}.html" for run_id in pages}
    targets = (
        (["leaderboard.md"] if "md" in formats else [])
        + [f"{fam}.{fmt_}" for fam in tables for fmt_ in ("csv", "json") if fmt_ in formats]
        + (["leaderboard.html", *page_names.values()] if "html" in formats else [])
    )
    for name in targets:
        check_writable(str(out / name))  # every target first: a blocked one fails before anything is written
    markdown = "\n".join(to_markdown(fam, t) for fam, t in tables.items())
    if "md" in formats:
        atomic_write_text(out / "leaderboard.md", "# Leaderboard\n\n" + markdown)
    for fam, table in tables.items():
        if "csv" in formats:
            atomic_write_text(out / f"{fam}.csv", to_csv(table))
        if "json" in formats:
            atomic_write_json(out / f"{fam}.json", table)
    if "html" in formats:
        from plotly.offline import get_plotlyjs

        from app.leaderboard_html import table_html
        from app.report_html import render_run_page

        plotly_js = get_plotlyjs()
        docs = {d["run_id"]: d for d in run_docs}
        for run_id, (run_rows, run_samples, gates) in pages.items():
            others = "".join(
                f"<h3>{fam}</h3>" + table_html(t, f"all-{fam}") for fam, t in build_tables(run_rows).items()
            )
            page = render_run_page(docs[run_id], run_rows, run_samples, gates, others, plotly_js)
            atomic_write_text(out / page_names[run_id], page)
        atomic_write_text(out / "leaderboard.html", render_html(tables, run_docs, samples, page_names))
    return {"tables": tables, "markdown": markdown}


@click.command()
@click.option("--runs", default=None, help="Comma-separated run ids (default: all runs in the store).")
@click.option(
    "--format", "formats", default="md,csv,json,html", show_default=True, help="Comma-separated: md, csv, json, html."
)
@click.option("--out", "out_dir", default="results", show_default=True, help="Output directory.")
@store_option
def leaderboard(runs: str | None, formats: str, out_dir: str, store_path: str | None) -> None:
    """Publish stored results as leaderboard tables (markdown, CSV, JSON, HTML) into OUT."""
    from rich.console import Console

    from app.leaderboard import publish, terminal_tables
    from harness.files import check_writable

    check_writable(f"{out_dir}/leaderboard.md")
    run_ids = [r.strip() for r in runs.split(",") if r.strip()] if runs else None
    result = publish(store_path, out_dir, runs=run_ids, formats=[f.strip() for f in formats.split(",") if f.strip()])
    console = Console()
    for table in terminal_tables(result["tables"], width=min(console.width, 100)):
        console.print(table)
    click.echo(f"leaderboard: {len(result['tables'])} table(s) written to {out_dir}")


COMMANDS = [leaderboard]
