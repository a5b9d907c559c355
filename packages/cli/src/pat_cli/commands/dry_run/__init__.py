"""``pat dry-run``: see what a setting would do before a long run."""

import typer

from pat_cli._help import PLAIN, PlainCommand, PlainGroup
from pat_cli.commands.dry_run.filter import filter_

app = typer.Typer(
    name="dry-run",
    help="See what a setting would do before a long run (nothing is trained or logged).",
    epilog="Example: pat dry-run filter 'Loss / *' --task CartPole-v1",
    no_args_is_help=True,
    cls=PlainGroup,
    **PLAIN,
)
app.command("filter", cls=PlainCommand)(filter_)
