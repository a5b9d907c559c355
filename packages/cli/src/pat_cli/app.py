"""The ``pat`` Typer application: wires the command modules together, nothing else.

Heavy libraries (torch, skrl, mlflow, gymnasium, isaaclab) are imported only inside
the commands that need them, so ``pat --help`` stays fast.
"""

from typing import Annotated

import typer

from pat_cli._versions import version_table
from pat_cli.commands import dry_run, inspect, setup
from pat_cli.commands.sync import sync
from pat_cli.commands.tasks import tasks
from pat_cli.commands.train import train

app = typer.Typer(
    name="pat",
    help=(
        "pat, the Physical AI Toolchain: train skrl agents on Isaac Lab and gymnasium "
        "with every metric in MLflow, and check what will be logged before a long run."
    ),
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if not value:
        return
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


app.command("train")(train)
app.command("tasks")(tasks)
app.command("sync")(sync)
app.add_typer(inspect.app, name="inspect")
app.add_typer(dry_run.app, name="dry-run")
app.add_typer(setup.app, name="setup")


def main() -> None:
    """Console-script entry point."""
    app()
