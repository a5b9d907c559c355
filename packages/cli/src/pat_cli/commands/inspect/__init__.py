"""``pat inspect``: look at what was logged (metrics) or what would be (tracking-data)."""

import typer

from pat_cli._help import PLAIN, PlainCommand, PlainGroup
from pat_cli.commands.inspect.metrics import metrics
from pat_cli.commands.inspect.tracking_data import tracking_data

app = typer.Typer(
    name="inspect",
    help="Look at what a run logged, or at what an agent tracks before a long run.",
    epilog="Example: pat inspect metrics --key 'episode_*'",
    no_args_is_help=True,
    cls=PlainGroup,
    **PLAIN,
)
app.command("metrics", cls=PlainCommand)(metrics)
app.command("tracking-data", cls=PlainCommand)(tracking_data)
