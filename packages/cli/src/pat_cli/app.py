"""The ``pat`` Typer application: wires the command modules together, nothing else.

Command modules are imported only when their command runs (``LazyGroup``), and heavy
libraries (torch, skrl, mlflow, gymnasium, isaaclab) only inside the commands that need
them, so ``pat --help`` stays fast.
"""

from typing import Annotated

import typer

from pat_cli._help import PLAIN
from pat_cli._lazy_group import LazyCommand, LazyGroup


class PatGroup(LazyGroup):
    """pat's commands, in the order ``pat --help`` lists them."""

    lazy_commands = (
        LazyCommand(
            "train",
            "pat_cli.commands.train:train",
            "Train a skrl agent on an Isaac Lab or gymnasium task, every metric going to MLflow.",
        ),
        LazyCommand(
            "tasks",
            "pat_cli.commands.tasks:tasks",
            "List the gymnasium tasks pat ships agent configs for and the Isaac Lab tasks.",
        ),
        LazyCommand(
            "sync",
            "pat_cli.commands.sync:sync",
            "Deliver the metric points a training spooled while MLflow was unreachable.",
        ),
        LazyCommand(
            "inspect",
            "pat_cli.commands.inspect:app",
            "Look at what a run logged, or at what an agent tracks before a long run.",
        ),
        LazyCommand(
            "runs",
            "pat_cli.commands.runs:runs",
            "List the runs of an experiment, newest first, with their latest key metrics.",
        ),
        LazyCommand(
            "compare",
            "pat_cli.commands.compare:compare",
            "Compare runs side by side: per metric key, each run's last and best value.",
        ),
        LazyCommand(
            "eval",
            "pat_cli.commands.eval:eval_",
            "Run a policy logged as an MLflow model on a task and log eval/* metrics.",
        ),
        LazyCommand(
            "model",
            "pat_cli.commands.model:app",
            "Log a trained policy as an MLflow model of its run, and register it.",
        ),
        LazyCommand(
            "dry-run",
            "pat_cli.commands.dry_run:app",
            "See what a setting would do before a long run (nothing is trained or logged).",
        ),
        LazyCommand(
            "setup",
            "pat_cli.commands.setup:app",
            "Install optional parts of the stack (Isaac Lab) into this Python environment.",
        ),
    )


app = typer.Typer(
    name="pat",
    cls=PatGroup,
    help=(
        "pat, the Physical AI Toolchain: train skrl agents on Isaac Lab and gymnasium "
        "with every metric in MLflow, and check what will be logged before a long run."
    ),
    epilog="Example: pat train --task CartPole-v1 --timesteps 2000\n\n"
    "Run `pat COMMAND --help` for the options of a command.",
    no_args_is_help=True,
    **PLAIN,
)


def _print_version(value: bool) -> None:
    if not value:
        return
    from pat_cli._versions import version_table  # importlib.metadata: only when asked

    for name, installed in version_table():
        typer.echo(f"{name} {installed}")
    raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Show the versions of pat's packages and of skrl, mlflow, torch, isaaclab.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """pat, the Physical AI Toolchain."""


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as done:
        from pat_cli import _fast_exit

        # a message (a str code) is printed by Python's own exit
        if _fast_exit.allowed() and (done.code is None or isinstance(done.code, int)):
            _fast_exit.exit_now(done.code or 0)
        raise
