"""One help style for every ``pat`` command: click's plain layout, as ``pat --help`` has.

Typer's Rich renderer shows a ``<bool>`` type beside every flag (``--system-metrics <bool>``
reads as if it took a value), keeps a docstring's line breaks in the middle of sentences
and costs Rich's import; click's plain formatter shows flags bare and re-wraps each
paragraph at word boundaries to the terminal's width. Every ``typer.Typer`` of pat is made
with :data:`PLAIN` settings and its commands and groups are :class:`PlainCommand` and
:class:`PlainGroup`, so the style cannot differ between commands.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import typer
from typer._click import HelpFormatter
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typer._click import Command, Context

# Keyword arguments of every ``typer.Typer`` pat makes: no Rich help, no Rich error panels.
PLAIN: dict[str, Any] = {
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


# click's wrapper breaks words at hyphens ("pat-" / "env-metrics", "Isaac-" / "Cartpole-v0"):
# hyphens are swapped for non-breaking ones while the text is wrapped, then put back.
_HYPHEN, _KEPT = "-", "\u2011"


class PlainFormatter(HelpFormatter):
    """click's help formatter, wrapping only at spaces."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(_keep(prog), _keep(args), prefix)

    def write_text(self, text: str) -> None:
        super().write_text(_keep(text))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        super().write_dl([(_keep(a), _keep(b)) for a, b in rows], col_max, col_spacing)

    def getvalue(self) -> str:
        return super().getvalue().replace(_KEPT, _HYPHEN)


def _keep(text: str) -> str:
    return text.replace(_HYPHEN, _KEPT)


class PlainContext(typer.Context):
    """A context whose help is written by :class:`PlainFormatter`."""

    formatter_class = PlainFormatter


class PlainCommand(TyperCommand):
    """A command with pat's help style."""

    context_class = PlainContext


def summary(command: Command) -> str:
    """The first paragraph of a command's help on one line (what a group lists it with)."""
    first = inspect.cleandoc(command.help or "").partition("\f")[0].split("\n\n")[0]
    return " ".join(first.split())


class PlainGroup(TyperGroup):
    """A command group with pat's help style.

    Its help lists each command with its whole first paragraph (click cuts it at about 45
    characters, mid-sentence), and called bare it prints its help to stdout and exits 2, as
    ``pat`` itself does.
    """

    context_class = PlainContext

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, self.summary(name, ctx)) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def summary(self, name: str, ctx: Context) -> str:
        """The one-line help of the command ``name``."""
        command = self.get_command(ctx, name)
        return summary(command) if command is not None else ""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)
