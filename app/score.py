"""`harness score`: score a reference tool's own output files (alpaca_eval, arena-hard-auto, FastChat), optionally
recording the scores in the store for `harness leaderboard`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from app.options import SEED, store_option


def strict_json(result: dict[str, Any]) -> str:
    """``--json`` output that any JSON parser reads: NaN and infinities become null."""
    from harness.files import finite

    return json.dumps(finite(result), indent=2, default=str, allow_nan=False)


def declared_rows(benchmark: str, result: dict[str, Any]) -> dict[str, list[Any]]:
    """The rows the benchmark's declaration makes of its scorer's result (``Benchmark.to_rows``): the same step its
    live run takes, so `harness score --record` and `harness eval` store the same rows of the same files."""
    from benchmarks.core.registry import get

    to_rows = get(benchmark).to_rows
    assert to_rows is not None, benchmark
    return {model: [r.to_row() for r in rows] for model, rows in to_rows(result).items()}


def record_scores(
    store_path: str | None, command: str, config: dict[str, Any], benchmark: str, per_model: dict[str, list[Any]]
) -> str:
    """Record scored reference files as one finished run (rows per model) for `harness leaderboard`."""
    from benchmarks.core.evaluate import record_rows
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

    from rich.console import Console
    from rich.table import Table

    from benchmarks.mt_bench.scorer import score_mt_bench

    result = score_mt_bench(judgments_path, questions_path)
    for model, m in result["models"].items():
        if m["n_out_of_scale"]:
            click.echo(f"warning: {judgments_path}: {m['n_out_of_scale']} rating(s) of {model} outside 1-10, "
                       "kept in the means as FastChat does", err=True)  # fmt: skip
    if record:
        per_model = declared_rows("mt_bench", result)
        config = {"judgments": judgments_path, "questions": questions_path}
        result["run_id"] = record_scores(store_path, "score mt_bench", config, "mt_bench", per_model)
    if as_json:
        click.echo(strict_json(result))
        return
    table = Table(title="MT-Bench (FastChat single-answer grading)")
    for col in ("model", "turn 1", "turn 2", "overall (pooled)", "mean of turns", "valid", "failed", "duplicates",
                "out of 1-10"):  # fmt: skip
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in result["models"].items():
        cells = [m["turn1"], m["turn2"], m["overall"], m["mean_of_turns"]]
        table.add_row(model, *["-" if v is None else f"{v:.4f}" for v in cells],
                      str(m["n_valid"]), str(m["n_failed"]), str(m["n_duplicates"]), str(m["n_out_of_scale"]))  # fmt: skip
    Console().print(table)


def _arena_hard_version(judgment_dirs: tuple[str, ...]) -> str:
    """v2.0 when the first judgment row is keyed by ``uid``, else v0.1."""
    from pathlib import Path

    from benchmarks.arena_hard.v2 import is_v2_row
    from harness.files import read_jsonl

    files = sorted(Path(judgment_dirs[0]).glob("*.jsonl")) if Path(judgment_dirs[0]).is_dir() else []
    rows = read_jsonl(files[0]) if files else []
    return "v2.0" if rows and is_v2_row(rows[0]) else "v0.1"


def _print_v2(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Arena-Hard v2.0, {result['category']} (baseline {result['baseline']}, seed {result['seed']})")
    for col in ("model", "score", "90% interval (upstream's 'CI')", "95% interval", "dropped rows"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in result["models"].items():
        lo90, hi90, lo95, hi95 = (m[k] - m["score"] for k in ("ci90_low", "ci90_high", "ci95_low", "ci95_high"))
        table.add_row(model, f"{m['score']:.1f}", f"({lo90:+.1f}, {hi90:+.1f})", f"({lo95:+.1f}, {hi95:+.1f})",
                      str(m["n_dropped"]))  # fmt: skip
    Console().print(table)
    click.echo(f"rows dropped (a game without a verdict): {result['n_dropped']}")


def _style_control(
    answers_dir: str | None, judgment_dirs: tuple[str, ...], version: str, category: str, baseline: str,
    controls: tuple[str, ...], seed: int, as_json: bool, record: bool,
) -> None:  # fmt: skip
    from rich.console import Console
    from rich.table import Table

    from benchmarks.arena_hard.style import score_style_control
    from harness.types import HarnessError

    if answers_dir is None:
        raise HarnessError(
            "--style-control needs --answers (model_answer/ with the models' and the baseline's answers)"
        )
    if record:
        raise HarnessError("--record: style-controlled scores are not recorded yet; record the plain scores")
    result = score_style_control(
        answers_dir, judgment_dirs, version=version, category=category,
        baseline=None if version == "v2.0" else baseline, controls=controls, seed=seed,
    )  # fmt: skip
    if as_json:
        click.echo(strict_json(result))
        return
    where = f", {result['category']}" if version == "v2.0" else ""
    table = Table(title=f"Arena-Hard {version}{where}, style control ({' + '.join(controls)}; baseline "
                  f"{result['baseline']}, seed {seed})")  # fmt: skip
    for col in ("model", "score (median)", "90% interval (upstream's 'CI')", "95% interval"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in result["models"].items():
        lo90, hi90, lo95, hi95 = (m[k] - m["score"] for k in ("ci90_low", "ci90_high", "ci95_low", "ci95_high"))
        table.add_row(model, f"{m['score']:.1f}", f"({lo90:+.1f}, {hi90:+.1f})", f"({lo95:+.1f}, {hi95:+.1f})")
    Console().print(table)

    def coef(c: dict | None) -> str:
        return "n/a (constant)" if c is None else f"{c['median']:+.3f} [{c['ci90_low']:+.3f}, {c['ci90_high']:+.3f}]"

    coefs = ", ".join(f"{k} {coef(c)}" for k, c in result["coefficients"].items())
    click.echo(f"style coefficients (median, 90% interval; per standard deviation of the feature): {coefs}")


@score.command("arena_hard")
@click.option("--answers", "answers_dir", default=None, help="arena-hard-auto model_answer/ (for avg tokens, v0.1).")
@click.option(
    "--judgments", "judgment_dirs", required=True, multiple=True,
    help="arena-hard-auto model_judgment/<judge>/ (v2.0: repeat to pool several judges, upstream's --judge-names).",
)  # fmt: skip
@click.option("--version", "version", type=click.Choice(["auto", "v0.1", "v2.0"]), default="auto", show_default=True,
              help="Arena-Hard version; auto: v2.0 when the judgment rows are keyed by uid.")  # fmt: skip
@click.option("--category", default="hard_prompt", show_default=True, help="v2.0: the category to score.")
@click.option("--baseline", default="gpt-4-0314", show_default=True, help="v0.1: the baseline model.")
@click.option("--seed", type=SEED, default=None, help="Bootstrap seed [default: the export's, else 42].")
@click.option("--rounds", type=click.IntRange(min=1), default=None,
              help="v0.1: bootstrap rounds [default: the export's, else show_result's 100].")  # fmt: skip
@click.option(
    "--bootstrap", type=click.Choice(["battles", "questions"]), default=None,
    help="v0.1: resample battles (show_result) or whole questions (both games together) for the CI [default: the "
    "setting a harness eval export records beside its judgments, else battles].",
)  # fmt: skip
@click.option(
    "--style-control", is_flag=True,
    help="Style-controlled scores (upstream -f length markdown): needs --answers with the models' and the baseline's "
    "answers.",
)  # fmt: skip
@click.option(
    "--control-features", "controls", multiple=True, type=click.Choice(["length", "markdown"]),
    default=("length", "markdown"), show_default=True, help="With --style-control: the style features controlled for.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--record", is_flag=True, help="Also record the scores in the store (for `harness leaderboard`).")
@store_option
def score_arena_hard_cmd(
    answers_dir: str | None, judgment_dirs: tuple[str, ...], version: str, category: str, baseline: str,
    seed: int | None, rounds: int | None, bootstrap: str | None, style_control: bool, controls: tuple[str, ...], as_json: bool, record: bool,
    store_path: str | None,
) -> None:  # fmt: skip
    """Arena-Hard score per model: v0.1 (win rate vs the baseline, 95% CI, avg tokens) or v2.0 (per category);
    with --style-control, the style-controlled scores and the style coefficients."""

    from rich.console import Console
    from rich.table import Table

    from harness.types import HarnessError

    if version == "auto":
        version = _arena_hard_version(judgment_dirs)
    settings, settings_from = None, "show_result's default"
    if version == "v0.1" and len(judgment_dirs) == 1:
        from benchmarks.arena_hard.scorer import EXPORT_SETTINGS, export_settings

        settings = export_settings(judgment_dirs[0])
        if settings is not None:
            settings_from = str(Path(judgment_dirs[0]) / EXPORT_SETTINGS)
    if bootstrap is None:
        bootstrap = settings["bootstrap"] if settings else "battles"
    else:
        settings_from = "--bootstrap"
    if seed is None:
        seed = int(settings.get("bootstrap_seed", 42)) if settings else 42
    if rounds is None:  # the export's rounds (a live run takes 1000: show_result's 100 under-cover), else upstream's
        rounds = int(settings.get("rounds", 100)) if settings else 100
    if style_control:
        _style_control(answers_dir, judgment_dirs, version, category, baseline, controls, seed, as_json, record)
        return
    if version == "v2.0":
        from benchmarks.arena_hard.v2 import score_arena_hard_v2

        result = score_arena_hard_v2(judgment_dirs, category=category, seed=seed)
        if record:  # as benchmark arena_hard_v2 (its own declaration: v2.0 scores are not v0.1's)
            per_model = declared_rows("arena_hard_v2", result)
            config = {"judgments": list(judgment_dirs), "category": category, "seed": seed}
            result["run_id"] = record_scores(store_path, "score arena_hard", config, "arena_hard_v2", per_model)
        if as_json:
            click.echo(strict_json(result))
        else:
            _print_v2(result)
        return
    from benchmarks.arena_hard.scorer import score_arena_hard

    if len(judgment_dirs) != 1:
        raise HarnessError("--judgments: v0.1 scores one judge directory")
    judgments_dir = judgment_dirs[0]
    result = score_arena_hard(answers_dir, judgments_dir, baseline=baseline, seed=seed, rounds=rounds,
                              bootstrap=bootstrap)  # fmt: skip
    result["bootstrap"], result["bootstrap_from"], result["seed"] = bootstrap, settings_from, seed
    if record:
        per_model = declared_rows("arena_hard", result)
        config = {"answers": answers_dir, "judgments": judgments_dir, "seed": seed, "rounds": rounds,
                  "bootstrap": bootstrap}  # fmt: skip
        result["run_id"] = record_scores(store_path, "score arena_hard", config, "arena_hard", per_model)
    if as_json:
        click.echo(strict_json(result))
        return
    table = Table(title=f"Arena-Hard v0.1 (baseline {baseline}; 95% CI: {bootstrap} bootstrap, {rounds} rounds, "
                        f"seed {seed}, from {settings_from})")  # fmt: skip
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

    from benchmarks.alpaca_eval.scorer import score_alpaca_eval

    result = score_alpaca_eval(annotations_path, outputs_path, gamed=gamed, difficulty=difficulty, lc_from_hub=lc_hub)
    if record:
        per_model = declared_rows("alpaca_eval", result)
        config = {"annotations": annotations_path, "outputs": outputs_path}
        result["run_id"] = record_scores(store_path, "score alpaca_eval", config, "alpaca_eval", per_model)
    if as_json:
        click.echo(strict_json(result))
        return
    for key in ("model", "baseline", "win_rate", "standard_error", "lc_win_rate", "lc_standard_error", "n_wins",
                "n_wins_base", "n_draws", "n_total", "discrete_win_rate", "avg_length"):  # fmt: skip
        if key in result:
            click.echo(f"{key:<18}{result[key]}")


COMMANDS = [score]
