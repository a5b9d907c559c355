"""``pat dry-run``: see what a setting would do before a long run."""

import typer

from pat_cli.commands.dry_run.filter import filter_

app = typer.Typer(
    name="dry-run",
    help="See what a setting would do before a long run (nothing is trained or logged).",
    no_args_is_help=True,
)
app.command("filter")(filter_)
