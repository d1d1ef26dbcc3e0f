"""`harness eval`: run benchmarks on a model, print a table, write results JSON + samples JSONL, record in the store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from harness.commands import console, progress_bar, summary_line
from harness.io import atomic_write_json, atomic_write_jsonl, check_writable
from harness.runner import Run
from harness.spec import parse_spec
from harness.store import Store, git_hash, package_versions
from harness.types import HarnessError


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def results_table(results: list[Any]) -> Table:
    table = Table(title="harness eval")
    for col in ("benchmark", "metric", "value", "95% CI", "n"):
        table.add_column(col, justify="right" if col in ("value", "n") else "left")
    for res in results:
        for m in res.metrics:
            ci = "-" if m.ci_low is None else f"[{_fmt(m.ci_low)}, {_fmt(m.ci_high)}]"
            table.add_row(res.benchmark, m.name, _fmt(m.value), ci, "-" if m.n is None else str(m.n))
    return table


def run_eval(
    *,
    model_spec: str,
    benchmarks: list[str],
    judge_spec: str | None = None,
    reference_judge_spec: str | None = None,
    data: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    limit: int | None = None,
    seed: int = 0,
    out_dir: str | None = None,
    store_path: str | None = None,
    iteration: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the named benchmarks; returns the results document that is also written to OUT/results.json."""
    from benchmarks import registry

    for spec in filter(None, (model_spec, judge_spec, reference_judge_spec)):
        parse_spec(spec)
    if not benchmarks:
        raise HarnessError("--benchmarks: give at least one benchmark")
    for name in benchmarks:
        registry.get(name)
    if limit is not None and limit <= 0:
        raise HarnessError(f"--limit must be a positive integer, got {limit}")
    for key, path in (data or {}).items():
        if path and not Path(path).exists():
            raise HarnessError(f"--data {key}={path}: no such file or directory")
    if out_dir:
        check_writable(Path(out_dir) / "results.json")
    probe = registry.EvalContext(
        model_spec=model_spec, store=None, run=None, limit=limit, seed=seed, data=data or {}, options=options or {}
    )  # type: ignore[arg-type]
    for name in benchmarks:
        registry.validate(name, probe)
    store = Store(store_path)
    config = {
        "model": model_spec, "benchmarks": benchmarks, "judge": judge_spec, "reference_judge": reference_judge_spec,
        "data": data or {}, "options": options or {}, "limit": limit, "seed": seed, "iteration": iteration,
    }  # fmt: skip
    run = Run.start(store, "eval", config)
    out = Path(out_dir or Path("runs") / run.run_id)
    ctx = registry.EvalContext(
        model_spec=model_spec, store=store, run=run, judge_spec=judge_spec, reference_judge_spec=reference_judge_spec,
        limit=limit, seed=seed, data=data or {}, options=options or {}, progress=progress_bar,
    )  # fmt: skip
    results = []
    status = "failed"
    started = time.time()
    try:
        for name in benchmarks:
            res = registry.run_benchmark(name, ctx)
            store.put_results(run.run_id, iteration, model_spec, name, [m.to_row() for m in res.metrics])
            store.put_samples(run.run_id, iteration, model_spec, name, res.samples)
            results.append(res)
        status = "finished"
    finally:
        ctx.close()
        run.finish(status)
    doc = {
        "run_id": run.run_id,
        "config": config,
        "versions": package_versions(),
        "git_hash": git_hash(),
        "timings": {"total_s": time.time() - started, **{r.benchmark: r.seconds for r in results}},
        "calls": run.stats.to_dict(),
        "benchmarks": {r.benchmark: {"metrics": [m.to_row() for m in r.metrics], "extra": r.extra} for r in results},
    }
    atomic_write_json(out / "results.json", doc)
    atomic_write_jsonl(out / "samples.jsonl", [{"benchmark": r.benchmark, **s} for r in results for s in r.samples])
    store.close()
    if not quiet:
        console.print(results_table(results))
    click.echo(summary_line("eval", run, f"wrote {out}/results.json"))
    return doc
