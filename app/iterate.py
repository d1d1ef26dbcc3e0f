"""`harness iterate` and `harness gate`."""

from __future__ import annotations

import json
import sys

import click

from app.options import store_option
from harness.types import HarnessError


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Run config (YAML).")
@click.option("--out-dir", default=None, help="Override the config's out_dir.")
@click.option("--backend", type=click.Choice(["vllm", "hf"]), default=None, help="Override the config's backend.")
@store_option
def iterate(config_path: str, out_dir: str | None, backend: str | None, store_path: str | None) -> None:
    """Run the Self-/Meta-Rewarding loop: SFT, then iterations, each evaluated and gated."""
    from harness.files import check_writable
    from training.config import load_config

    overrides = {k: v for k, v in (("out_dir", out_dir), ("backend", backend)) if v}
    cfg = load_config(config_path, overrides or None)
    check_writable(f"{cfg.out_dir}/summary.json")
    # the loop's imports (torch, transformers) come after the config is checked: a bad config fails in a moment
    from app.console import progress_bar
    from training.loop import Loop
    from training.report import iteration_table

    loop = Loop(cfg, store_path=store_path, log=click.echo, progress=progress_bar)
    summary = loop.iterate()
    iteration_table(summary)
    click.echo(f"best iteration: M{summary['best_iteration']} ({summary['best_model']}); run {summary['run_id']}")


@click.command()
@click.option("--run", "run_id", required=True, help="Run id of a `harness iterate` or `harness eval` run.")
@click.option("--iteration", type=int, required=True, help="Iteration to decide on (M<iteration>).")
@click.option("--rule", "rules", multiple=True, required=True, help='Gate rule, e.g. "judge.pairwise_accuracy >= 0.6".')
@store_option
def gate(run_id: str, iteration: int, rules: tuple[str, ...], store_path: str | None) -> None:
    """Decide continue (exit 0) or stop (exit 1) for an iteration from stored results."""
    from harness.store import Store
    from training.gates import evaluate_gates, flat_metrics, parse_rules

    parsed = parse_rules(list(rules))
    store = Store(store_path, must_exist=True)
    store.get_run(run_id)
    rows = store.get_results([run_id])
    store.close()
    iterations = sorted({r["iteration"] for r in rows if r["iteration"] is not None})
    if iteration not in iterations:
        raise HarnessError(f"--iteration {iteration}: run {run_id} has results for iterations {iterations}")
    history = [flat_metrics(r for r in rows if r["iteration"] == it) for it in iterations if it <= iteration]
    decision = evaluate_gates(parsed, history, len(history) - 1)
    click.echo(
        json.dumps({"run": run_id, "iteration": iteration, "passed": decision.passed, "reasons": decision.reasons})
    )
    sys.exit(0 if decision.passed else 1)


COMMANDS = [iterate, gate]
