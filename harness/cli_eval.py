"""`harness eval`, `harness score` and `harness compare`."""

from __future__ import annotations

import click

from harness.cli_common import kv_pairs, store_option
from harness.types import HarnessError


@click.command("eval")
@click.option("--model", "model_spec", required=True, help="Model under test (spec).")
@click.option("--benchmarks", required=True, help="Comma-separated: judge, alpaca_eval, arena_hard, mt_bench.")
@click.option(
    "--judge", "judge_spec", default=None, help="The judge under test of 'judge' (default: the model itself)."
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
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", default=None, help="Output directory (default: runs/RUN_ID).")
@click.option("--iteration", type=int, default=None, help="Record results against this iteration.")
@store_option
def eval_cmd(
    model_spec: str,
    benchmarks: str,
    judge_spec: str | None,
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
    from harness.eval_cmd import run_eval

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
        benchmarks=[b.strip() for b in benchmarks.split(",") if b.strip()],
        judge_spec=judge_spec,
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

    from harness.io import check_writable
    from harness.leaderboard import publish, terminal_tables

    check_writable(f"{out_dir}/leaderboard.md")
    run_ids = [r.strip() for r in runs.split(",") if r.strip()] if runs else None
    result = publish(store_path, out_dir, runs=run_ids, formats=[f.strip() for f in formats.split(",") if f.strip()])
    console = Console()
    for table in terminal_tables(result["tables"], width=min(console.width, 100)):
        console.print(table)
    click.echo(f"leaderboard: {len(result['tables'])} table(s) written to {out_dir}")


COMMANDS = [eval_cmd, leaderboard]


@click.command()
@click.option("--model", "models", multiple=True, required=True, help="Give exactly two: --model A --model B.")
@click.option("--judge", "judge_spec", required=True, help="Pairwise judge spec (AlpacaEval prompt, both orders).")
@click.option("--prompts", "prompts_path", default=None, help="JSONL of {prompt} (default: built-in task world).")
@click.option("--limit", type=int, default=None)
@click.option("--max-tokens", type=int, default=256, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", default=None, help="Output directory (default: runs/RUN_ID).")
@store_option
def compare(
    models: tuple[str, ...],
    judge_spec: str,
    prompts_path: str | None,
    limit: int | None,
    max_tokens: int,
    seed: int,
    out_dir: str | None,
    store_path: str | None,
) -> None:
    """Head-to-head: wins / ties / losses of model A against model B, judged in both orders."""
    from pathlib import Path

    from benchmarks import taskworld
    from benchmarks.evaluate import EvalReport, record_result
    from benchmarks.head_to_head import head_to_head
    from benchmarks.registry import BenchmarkResult
    from harness.backends import load_model
    from harness.commands import console, parse_prompt_rows, summary_line
    from harness.eval_cmd import results_table
    from harness.io import read_jsonl
    from harness.runner import Run
    from harness.spec import parse_spec
    from harness.store import Store

    if len(models) != 2:
        raise HarnessError(f"--model: give exactly two models, got {len(models)}")
    for spec in (*models, judge_spec):
        parse_spec(spec)
    if prompts_path:
        prompts = [msgs[-1].content for _, msgs in parse_prompt_rows(prompts_path, read_jsonl(prompts_path))]
    else:
        prompts = [t.prompt for t in taskworld.tasks(300, seed=30_000 + seed, split="eval")]  # held-out
    prompts = prompts[:limit] if limit else prompts
    store = Store(store_path)
    config = {"models": list(models), "judge": judge_spec, "prompts": prompts_path, "seed": seed}
    run = Run.start(store, "compare", config)
    loaded = {s: load_model(s, store=store) for s in dict.fromkeys((*models, judge_spec))}
    label = f"{models[0]} vs {models[1]}"
    report = EvalReport(run.run_id, label, None, config)
    status = "failed"
    try:
        metrics, samples = head_to_head(
            loaded[models[0]], loaded[models[1]], loaded[judge_spec], run, prompts, max_tokens=max_tokens, seed=seed
        )
        result = BenchmarkResult("head_to_head", metrics, samples)
        record_result(store, run.run_id, None, label, result)
        report.results.append(result)
        status = "finished"
    finally:
        for m in loaded.values():
            m.close()
        run.finish(status)
    report.calls = run.stats.to_dict()
    out = report.write(out_dir or Path("runs") / run.run_id)
    console.print(results_table(report.results))
    click.echo(summary_line("compare", run, f"wrote {out}"))
    store.close()


COMMANDS.append(compare)


def record_scores(
    store_path: str | None, command: str, config: dict[str, object], benchmark: str, per_model: dict[str, list[dict]]
) -> str:
    """Record scored reference files as one finished run (rows per model) for `harness leaderboard`."""
    from benchmarks.evaluate import record_rows
    from harness.store import Store

    store = Store(store_path)
    run_id = store.start_run(command, config)
    for model, rows in per_model.items():
        record_rows(store, run_id, None, model, benchmark, rows)
    store.update_run(run_id, {}, status="finished")
    store.close()
    return run_id


@click.group()
def score() -> None:
    """Score a reference tool's own output files without re-running anything."""


@score.command("mt_bench")
@click.option("--judgments", "judgments_path", required=True, help="FastChat model_judgment/*_single.jsonl.")
@click.option("--questions", "questions_path", default=None, help="FastChat question.jsonl (per-category means).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--record", is_flag=True, help="Also record the scores in the store (for `harness leaderboard`).")
@store_option
def score_mt_bench_cmd(
    judgments_path: str, questions_path: str | None, as_json: bool, record: bool, store_path: str | None
) -> None:
    """MT-Bench turn 1 / turn 2 / overall per model, as FastChat show_result.py computes them."""
    import json

    from rich.console import Console
    from rich.table import Table

    from benchmarks.mt_bench import score_mt_bench

    result = score_mt_bench(judgments_path, questions_path)
    if record:
        keys = ("turn1", "turn2", "overall", "mean_of_turns")
        per_model = {
            model: [{"metric": k, "value": m[k], "n": m["n_valid"]} for k in keys]
            for model, m in result["models"].items()
        }
        config = {"judgments": judgments_path, "questions": questions_path}
        result["run_id"] = record_scores(store_path, "score mt_bench", config, "mt_bench", per_model)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    table = Table(title="MT-Bench (FastChat single-answer grading)")
    for col in ("model", "turn 1", "turn 2", "overall (pooled)", "mean of turns", "valid", "failed", "duplicates"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in result["models"].items():
        cells = [m["turn1"], m["turn2"], m["overall"], m["mean_of_turns"]]
        table.add_row(model, *["-" if v is None else f"{v:.4f}" for v in cells],
                      str(m["n_valid"]), str(m["n_failed"]), str(m["n_duplicates"]))  # fmt: skip
    Console().print(table)


@score.command("arena_hard")
@click.option("--answers", "answers_dir", default=None, help="arena-hard-auto model_answer/ (for avg tokens).")
@click.option("--judgments", "judgments_dir", required=True, help="arena-hard-auto model_judgment/<judge>/.")
@click.option("--baseline", default="gpt-4-0314", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--record", is_flag=True, help="Also record the scores in the store (for `harness leaderboard`).")
@store_option
def score_arena_hard_cmd(
    answers_dir: str | None, judgments_dir: str, baseline: str, seed: int, as_json: bool, record: bool,
    store_path: str | None,
) -> None:  # fmt: skip
    """Arena-Hard v0.1 score (win rate vs the baseline), 95% CI and average tokens per model."""
    import json

    from rich.console import Console
    from rich.table import Table

    from benchmarks.arena_hard import score_arena_hard

    result = score_arena_hard(answers_dir, judgments_dir, baseline=baseline, seed=seed)
    if record:
        per_model = {
            model: [{"metric": "score", "value": m["score"], "ci_low": m["ci_low"], "ci_high": m["ci_high"],
                     "n": m["n_battles"]}, {"metric": "avg_tokens", "value": m["avg_tokens"]}]
            for model, m in result["models"].items()
            if model != baseline  # its score is 50 by construction
        }  # fmt: skip
        config = {"answers": answers_dir, "judgments": judgments_dir, "seed": seed}
        result["run_id"] = record_scores(store_path, "score arena_hard", config, "arena_hard", per_model)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"Arena-Hard v0.1 (baseline {baseline})")
    for col in ("model", "score", "95% CI", "avg tokens"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in sorted(result["models"].items(), key=lambda kv: -kv[1]["score"]):
        if m.get("ci_low") is None:
            continue
        tokens = "-" if m["avg_tokens"] is None else f"{m['avg_tokens']:.0f}"
        table.add_row(
            model, f"{m['score']:.1f}", f"({m['ci_low'] - m['score']:+.1f}, {m['ci_high'] - m['score']:+.1f})", tokens
        )
    Console().print(table)


@score.command("alpaca_eval")
@click.option("--annotations", "annotations_path", required=True, help="alpaca_eval annotations.json.")
@click.option("--outputs", "outputs_path", default=None, help="alpaca_eval model_outputs.json (for avg_length).")
@click.option("--gamed", default=None, help="df_gamed.csv of the LC GLM (local copy of the hub file).")
@click.option("--difficulty", default=None, help="instruction_difficulty.csv of the LC GLM (local copy).")
@click.option("--lc-hub", is_flag=True, help="Read the LC inputs from the tatsu-lab/alpaca_eval hub dataset.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--record", is_flag=True, help="Also record the scores in the store (for `harness leaderboard`).")
@store_option
def score_alpaca_eval_cmd(
    annotations_path: str, outputs_path: str | None, gamed: str | None, difficulty: str | None, lc_hub: bool,
    as_json: bool, record: bool, store_path: str | None,
) -> None:  # fmt: skip
    """AlpacaEval 2 win rate, SE, counts, discrete win rate, avg length, and the LC win rate when its inputs are given."""
    import json

    from benchmarks.alpaca_eval import metric_values, score_alpaca_eval

    result = score_alpaca_eval(annotations_path, outputs_path, gamed=gamed, difficulty=difficulty, lc_from_hub=lc_hub)
    if record:
        per_model = {str(result.get("model", annotations_path)): [m.to_row() for m in metric_values(result)]}
        config = {"annotations": annotations_path, "outputs": outputs_path}
        result["run_id"] = record_scores(store_path, "score alpaca_eval", config, "alpaca_eval", per_model)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    for key in ("model", "baseline", "win_rate", "standard_error", "lc_win_rate", "lc_standard_error", "n_wins",
                "n_wins_base", "n_draws", "n_total", "discrete_win_rate", "avg_length"):  # fmt: skip
        if key in result:
            click.echo(f"{key:<18}{result[key]}")


COMMANDS.append(score)
