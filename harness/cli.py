"""The ``harness`` command line.

Every user error is printed as one line on stderr and exits with code 2; no traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from harness.cli_common import positive, store_option
from harness.types import HarnessError

EXIT_USAGE = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="harness")
def cli() -> None:
    """Evaluation-first harness for Self-Rewarding and Meta-Rewarding language models.

    Add --verbose (anywhere) to see the libraries' INFO output (vLLM, transformers, TRL, torch, datasets).
    """


@cli.command("make-tiny")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
def make_tiny_cmd(out_dir: str, seed: int) -> None:
    """Build the offline tiny Llama chat model (tokenizer trained on pydoc_data) into OUT_DIR."""
    from harness.io import check_writable
    from harness.tiny import make_tiny

    check_writable(Path(out_dir) / "config.json")
    path = make_tiny(out_dir, seed=seed)
    click.echo(f"tiny model written to {path}")


@cli.command()
@click.option("--model", "model_spec", required=True, help="Model spec, e.g. hf:PATH, vllm:PATH, openai:NAME@URL.")
@click.option(
    "--prompts",
    "prompts_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="JSONL of {id?, prompt | messages}.",
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Output JSONL.")
@click.option("-n", "n", type=int, default=1, show_default=True, callback=positive("-n"), help="Samples per prompt.")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--top-p", type=float, default=0.9, show_default=True)
@click.option("--max-tokens", type=int, default=256, show_default=True, callback=positive("--max-tokens"))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--logprobs", type=int, default=None, help="Top-k logprobs per token.")
@click.option(
    "--chunk-size", type=int, default=64, show_default=True, callback=positive("--chunk-size"),
    help="Requests per model call batch; each batch is committed to the store as it returns.",
)  # fmt: skip
@store_option
def generate(
    model_spec: str,
    prompts_path: str,
    out_path: str,
    n: int,
    temperature: float,
    top_p: float,
    max_tokens: int,
    seed: int,
    logprobs: int | None,
    chunk_size: int,
    store_path: str | None,
) -> None:
    """Generate completions for a JSONL prompt file (resumable through the store)."""
    from harness.commands import run_generate

    run_generate(
        model_spec=model_spec,
        prompts_path=prompts_path,
        out_path=out_path,
        params={
            "n": n,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "seed": seed,
            "logprobs": logprobs,
        },
        store_path=store_path,
        chunk_size=chunk_size,
    )


def _register_commands() -> None:
    # the later layers' commands live in their own modules (CLI is the top of the import graph)
    from harness import cli_eval, cli_train

    for mod in (cli_eval, cli_train):
        for command in mod.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the click group and turns every user error into one line + exit 2."""
    from harness import quiet

    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args or os.environ.get("HARNESS_VERBOSE") == "1"
    if "--verbose" in args:
        args.remove("--verbose")
    quiet.configure(verbose)
    argv = args
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
