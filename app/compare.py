"""`harness compare`: head-to-head of two models on one prompt set, judged in both orders (Self-Rewarding Fig. 3)."""

from __future__ import annotations

from typing import Any

import click

from app.options import SEED, store_option
from harness.types import HarnessError


@click.command()
@click.option("--model", "models", multiple=True, required=True, help="Give exactly two: --model A --model B.")
@click.option("--judge", "judge_spec", required=True, help="Pairwise judge spec (AlpacaEval prompt, both orders).")
@click.option("--prompts", "prompts_path", default=None, help="JSONL of {prompt} (default: built-in task world).")
@click.option("--limit", type=int, default=None)
@click.option("--max-tokens", type=int, default=256, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
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

    from app.console import console, progress_bar, summary_line
    from app.eval import results_table
    from app.generate import parse_prompt_rows
    from benchmarks.core import registry
    from benchmarks.core.evaluate import evaluate
    from benchmarks.core.registry import EvalContext
    from harness.backends import load_model
    from harness.files import check_writable, read_jsonl
    from harness.runner import Run, end_run
    from harness.spec import parse_spec
    from harness.store import Store

    if limit is not None and limit <= 0:
        raise HarnessError(f"--limit must be a positive integer, got {limit}")
    if len(models) != 2:
        raise HarnessError(f"--model: give exactly two models, got {len(models)}")
    for spec in (*models, judge_spec):
        parse_spec(spec)
    if prompts_path:
        parse_prompt_rows(prompts_path, read_jsonl(prompts_path))  # a bad file fails here, before any model loads
    if out_dir:
        check_writable(Path(out_dir) / "results.json")
    options = {"model_b": models[1], "max_tokens": max_tokens}
    registry.check_options(["head_to_head"], options)
    store = Store(store_path)
    # models load before the run record exists: a bad checkpoint leaves no run behind
    loaded: dict[str, Any] = {}
    try:
        for s in dict.fromkeys((*models, judge_spec)):
            loaded[s] = load_model(s, store=store)
    except BaseException:
        for m in loaded.values():
            m.close()
        store.close()
        raise
    config = {"models": list(models), "judge": judge_spec, "prompts": prompts_path, "seed": seed}
    run = Run.start(store, "compare", config)
    # the same path as `harness eval`: one EvalContext, evaluate() records the rows and samples as it finishes
    ctx = EvalContext(
        model_spec=models[0], store=store, run=run, judge_spec=judge_spec, limit=limit, seed=seed,
        data={"head_to_head": prompts_path} if prompts_path else {}, options=options, _models=loaded,
        progress=progress_bar,
    )  # fmt: skip
    status = "failed"
    try:
        registry.validate("head_to_head", ctx)
        report = evaluate(["head_to_head"], ctx, model=f"{models[0]} vs {models[1]}", iteration=None, config=config)
        out = report.write(out_dir or Path("runs") / run.run_id)  # before the record says finished
        status = "finished"
    finally:
        end_run(run, status, ctx.close)
    console.print(results_table(report.results))
    click.echo(summary_line("compare", run, f"wrote {out}"))
    store.close()


COMMANDS = [compare]
