"""The ``harness`` command line.

Every user error is printed as one line on stderr and exits with code 2; no traceback.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import click

from app.options import SEED
from harness.types import HarnessError

EXIT_USAGE = 2

# terminal control sequences (CSI, OSC, other ESC sequences) and the C0/C1 control characters but tab: text from an
# input file quoted in a message (an id, a field) must not move the cursor, retitle the window or hide output
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def printable(text: str) -> str:
    """``text`` without terminal control sequences (each shown as nothing; a newline becomes a space)."""
    return _CONTROL.sub("", text.replace("\n", " ").replace("\r", " "))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="harness")
def cli() -> None:
    """Evaluation-first harness for Self-Rewarding and Meta-Rewarding language models.

    Add --verbose (anywhere) to see the libraries' INFO output (vLLM, transformers, TRL, torch, datasets).
    """


@cli.command("make-tiny")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--seed", type=SEED, default=0, show_default=True)
def make_tiny_cmd(out_dir: str, seed: int) -> None:
    """Build the offline tiny Llama chat model (tokenizer trained on pydoc_data) into OUT_DIR."""
    from harness.files import check_replaceable, check_writable
    from training.tiny import make_tiny

    check_writable(Path(out_dir) / "config.json")
    check_replaceable(out_dir)  # a directory of the user's is never deleted
    path = make_tiny(out_dir, seed=seed)
    click.echo(f"tiny model written to {path}")


def _register_commands() -> None:
    # one module per command (app is the top of the import graph)
    from app import compare, eval, generate, iterate, leaderboard, score

    for mod in (eval, iterate, compare, score, leaderboard, generate):
        for command in mod.COMMANDS:
            cli.add_command(command)


_register_commands()


def _on_signals() -> None:
    """SIGTERM and SIGINT unwind the command like Ctrl-C: every ``finally`` runs, the run record ends as
    ``interrupted`` (never left ``running``), outputs stay whole (atomic writes), and the exit code is 130."""
    from harness.runner import INTERRUPTED, signals_deferred

    def handler(signum: int, _frame: object) -> None:
        INTERRUPTED.set()
        if signals_deferred():  # the run record is being written: Run.finish raises once it is
            return
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the click group and turns every user error into one line + exit 2."""
    from app import quiet

    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args or os.environ.get("HARNESS_VERBOSE") == "1"
    if "--verbose" in args:
        args.remove("--verbose")
    quiet.configure(verbose)
    _on_signals()
    argv = args
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except HarnessError as exc:
        click.echo(f"error: {printable(str(exc))}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {printable(exc.format_message())}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
