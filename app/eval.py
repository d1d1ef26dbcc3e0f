"""`harness eval`: run benchmarks on a model, print a table, write results JSON + samples JSONL, record in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from app.console import console, progress_bar, summary_line
from app.options import SEED, kv_pairs, store_option
from harness.files import check_writable
from harness.runner import Run, end_run
from harness.spec import parse_spec, shown
from harness.store import Store
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


# the evaluator table's columns: (metric of the judge benchmark, header); alpaca_eval's evaluator leaderboard
EVALUATOR_COLUMNS = (
    ("pairwise_accuracy_ties_excluded", "acc"), ("spearman", "rho"), ("best_of_k", "best-k"),
    ("judgment_parse_rate", "parsed"), ("length_bias", "long"), ("prefer_lists", "lists"),
    ("first_position_rate", "1st"), ("order_flip_rate", "flips"), ("score_variance", "var"),
    ("cost_per_1k", "$/1k"),
)  # fmt: skip


def evaluator_table(evaluators: list[dict[str, Any]]) -> tuple[Table, list[str]]:
    """One row per judge (J1, J2, ...) and one for their ensemble (last), values to 2 decimals so that every
    column fits 100 columns (values and CIs in full are in results.json's rows); returns the table and the legend
    lines naming each judge in full."""
    present = {r["metric"] for ev in evaluators for r in ev["metrics"] if r.get("value") is not None}
    cols = [(m, h) for m, h in EVALUATOR_COLUMNS if m in present]
    k = len(evaluators) - 1
    method = evaluators[-1]["judge"].removeprefix("ensemble(").partition(":")[0]
    names = [f"J{j}" for j in range(1, k + 1)] + [f"{method}({'+'.join(f'J{j}' for j in range(1, k + 1))})"]
    table = Table(title="judge: evaluators")
    table.add_column("judge", no_wrap=True, min_width=max(map(len, names)))
    for _, header in cols:
        table.add_column(header, justify="right")
    table.add_column("s/1k", justify="right")
    for name, ev in zip(names, evaluators, strict=True):
        by = {r["metric"]: r.get("value") for r in ev["metrics"]}
        cells = ["-" if by.get(m) is None else f"{by[m]:.2f}" for m, _ in cols]
        secs = ev.get("seconds_per_1k")
        table.add_row(name, *cells, "-" if secs is None else f"{secs:.1f}")
    legend = [f"  {name}: {ev['judge']}" for name, ev in zip(names[:-1], evaluators, strict=False)]
    legend.append("  acc: pairwise accuracy, ties excluded; rho: Spearman; $/1k, s/1k: per 1000 judged responses")
    legend.append("  long / lists / 1st: P(prefer the longer response / the one with a list / the one shown first)")
    return table, legend


def run_eval(
    *,
    model_spec: str,
    benchmarks: list[str],
    judge_spec: str | list[str] | None = None,
    reference_judge_spec: str | None = None,
    annotator_spec: str | None = None,
    data: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    limit: int | None = None,
    seed: int = 0,
    out_dir: str | None = None,
    store_path: str | None = None,
    iteration: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the named benchmarks; returns the results document that is also written to OUT/results.json.

    Everything is checked before a model loads or a file is written: specs, benchmark names, options (typed,
    unknown keys refused), data paths, each benchmark's data (its ``validate``) and the output directory.
    """
    from benchmarks.core import registry
    from benchmarks.core.evaluate import evaluate

    judges = [judge_spec] if isinstance(judge_spec, str) else list(judge_spec or [])
    if len(set(judges)) != len(judges):
        raise HarnessError("--judge: the same judge is given twice")
    if len({shown(j) for j in judges}) != len(judges):  # rows are stored under the printable name
        raise HarnessError("--judge: two judges differ only in option values; give them different names")
    for role, spec in (("--model", model_spec), *(("--judge", j) for j in judges), ("--annotator", annotator_spec),
                       ("--reference-judge", reference_judge_spec)):  # fmt: skip
        if spec is not None:
            try:
                parse_spec(spec)
            except HarnessError as exc:
                raise HarnessError(f"{role}: {exc}") from None
    default_suite = not benchmarks
    if default_suite:
        benchmarks = list(registry.DEFAULT_SUITE)
    for name in benchmarks:  # imports only the named benchmarks' modules (optional parts stay lazy)
        if registry.get(name).run is None:  # an unknown name fails in get(), naming the known ones
            raise HarnessError(
                f"--benchmarks: {name} is not run by harness eval (known: {', '.join(registry.names())})"
            )
    registry.check_options(benchmarks, options or {})
    registry.check_data_keys(benchmarks, {k: v for k, v in (data or {}).items() if v})
    if limit is not None and limit <= 0:
        raise HarnessError(f"--limit must be a positive integer, got {limit}")
    for key, path in (data or {}).items():
        if path and not Path(path).exists():
            raise HarnessError(f"--data {key}={path}: no such file or directory")
    if out_dir:
        check_writable(Path(out_dir) / "results.json")
    # a context without a store or a run: only asked which benchmarks can run, before anything starts
    no_store: Any = None
    probe = registry.EvalContext(
        model_spec=model_spec, store=no_store, run=no_store, limit=limit, seed=seed, data=data or {},
        options=options or {}, annotator_spec=annotator_spec,
    )  # fmt: skip
    unavailable: dict[str, str] = {}
    for name in benchmarks:
        try:
            registry.validate(name, probe)
        except HarnessError as exc:
            if not default_suite:
                raise
            unavailable[name] = str(exc)
    for name, why in unavailable.items():  # before any model call, one line each
        click.echo(f"harness eval: {name} cannot run: {why.removeprefix(f'{name}: ')}", err=True)
    benchmarks = [b for b in benchmarks if b not in unavailable]
    if not benchmarks:
        raise HarnessError("no benchmark of the default suite can run (see above)")
    if len(judges) > 1 and "judge" not in benchmarks:
        raise HarnessError("several --judge form an ensemble, which only the judge benchmark evaluates")
    store = Store(store_path)
    config = {
        "model": model_spec, "benchmarks": benchmarks, "judge": judges[0] if len(judges) == 1 else judges or None, "annotator": annotator_spec,
        "reference_judge": reference_judge_spec, "data": data or {}, "options": options or {}, "limit": limit,
        "seed": seed, "iteration": iteration,
    }  # fmt: skip
    ctx = registry.EvalContext(
        model_spec=model_spec, store=store, run=None,  # type: ignore[arg-type]
        judge_spec=judges[0] if len(judges) == 1 else None, judge_specs=tuple(judges) if len(judges) > 1 else (),
        reference_judge_spec=reference_judge_spec, annotator_spec=annotator_spec, limit=limit, seed=seed,
        data=data or {}, options=options or {}, progress=progress_bar,
    )  # fmt: skip
    # the models under test load before the run record exists: a bad checkpoint leaves no run behind
    roles = {r for name in benchmarks for r in registry.get(name).roles}
    try:
        if "actor" in roles or ("judge" in roles and not judges):
            ctx.actor()
        if "judge" in roles:
            for spec in judges:
                ctx.load(spec)
    except BaseException:
        ctx.close()
        raise
    run = Run.start(store, "eval", config)
    ctx.run = run
    out = Path(out_dir or Path("runs") / run.run_id)
    status = "failed"
    try:
        report = evaluate(benchmarks, ctx, model=model_spec, iteration=iteration, config=config)
        report.write(out)  # before the record says finished: a finished run has its files
        status = "finished"
    finally:
        end_run(run, status, ctx.close)
    store.close()
    if not quiet:
        console.print(results_table(report.results))
        for res in report.results:
            if res.extra.get("evaluators"):
                table, legend = evaluator_table(res.extra["evaluators"])
                console.print(table)
                console.print("\n".join(legend), highlight=False, soft_wrap=True)
                alpha = next((m for m in res.metrics if m.name == "krippendorff_alpha"), None)
                if alpha is not None:
                    ci = "" if alpha.ci_low is None else f" [{_fmt(alpha.ci_low)}, {_fmt(alpha.ci_high)}]"
                    console.print(f"Krippendorff's alpha (ordinal) between the judges: {_fmt(alpha.value)}{ci} "
                                  f"over {alpha.n} responses", highlight=False, soft_wrap=True)  # fmt: skip
    click.echo(summary_line("eval", run, f"wrote {out}/results.json"))
    if unavailable:  # what ran is written and recorded; the exit status says the suite was not whole
        raise HarnessError(
            f"{len(unavailable)} benchmark(s) of the default suite did not run: {', '.join(unavailable)} (see above)"
        )
    return report.to_json()


@click.command("eval")
@click.option("--model", "model_spec", required=True, help="Model under test (spec).")
@click.option(
    "--benchmarks",
    default=None,
    help="Comma-separated benchmark names (default: the suite judge,taskworld,alpaca_eval,arena_hard,mt_bench).",
)
@click.option(
    "--judge",
    "judge_spec",
    multiple=True,
    help="The judge under test of 'judge' (default: the model itself); repeat it for an ensemble "
    "(--option judge.ensemble=mean|majority) with one evaluator row per judge and Krippendorff's alpha.",
)
@click.option(
    "--annotator",
    "annotator_spec",
    default=None,
    help="The strong judge grading alpaca_eval, arena_hard and mt_bench answers (default: openai:gpt-4-1106-preview).",
)
@click.option("--judge-n", type=int, default=None, help="Judgments per response for the pointwise judge.")
@click.option(
    "--reference-judge", "reference_judge_spec", default=None, help="The judge 'judge' measures agreement with."
)
@click.option(
    "--data", "data", default=None, help="Data file for the judge benchmark (OASST trees/messages or ranked JSONL)."
)
@click.option("--data-for", "data_for", multiple=True, help="KEY=PATH data overrides per benchmark (repeatable).")
@click.option("--option", "options", multiple=True, help="KEY=VALUE benchmark options (repeatable).")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N items of each benchmark.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--out", "out_dir", default=None, help="Output directory (default: runs/RUN_ID).")
@click.option("--iteration", type=int, default=None, help="Record results against this iteration.")
@store_option
def eval_cmd(
    model_spec: str,
    benchmarks: str | None,
    judge_spec: tuple[str, ...],
    annotator_spec: str | None,
    judge_n: int | None,
    reference_judge_spec: str | None,
    data: str | None,
    data_for: tuple[str, ...],
    options: tuple[str, ...],
    limit: int | None,
    seed: int,
    out_dir: str | None,
    iteration: int | None,
    store_path: str | None,
) -> None:
    """Evaluate a model on benchmarks: prints a table, writes results.json and samples.jsonl."""
    data_map = kv_pairs(data_for, "--data-for")
    if data:
        data_map["judge"] = data
    opts: dict[str, object] = dict(kv_pairs(options, "--option"))
    if judge_n is not None:
        if judge_n <= 0:
            raise HarnessError(f"--judge-n must be a positive integer, got {judge_n}")
        opts["judge_n"] = judge_n
    run_eval(
        model_spec=model_spec,
        benchmarks=[b.strip() for b in (benchmarks or "").split(",") if b.strip()],
        judge_spec=list(judge_spec),
        reference_judge_spec=reference_judge_spec,
        annotator_spec=annotator_spec,
        data=data_map,
        options=opts,
        limit=limit,
        seed=seed,
        out_dir=out_dir,
        store_path=store_path,
        iteration=iteration,
    )


COMMANDS = [eval_cmd]
