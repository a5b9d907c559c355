"""A Typer group that imports a command's module only when that command is used.

``pat --help`` then imports none of the command modules, and it is written with the plain
(click) help formatter from one-line summaries kept beside the command table: Typer's Rich
help renderer imports Rich's console, markdown and traceback modules, most of ``pat``'s
start-up time. Every subcommand's own help is still Typer's Rich help, unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class LazyCommand:
    """A command of the group, named by where it lives rather than imported.

    Attributes:
        name: The command's name on the command line.
        target: ``"module:attribute"``: a ``typer.Typer`` (a command group) or a command function.
        summary: The first paragraph of the command's help, shown by the group's ``--help``
            (a test checks it still equals the command's own).
    """

    name: str
    target: str
    summary: str

    def load(self) -> Command:
        """Import the command's module and build its click command."""
        module_name, attribute = self.target.split(":")
        found = getattr(importlib.import_module(module_name), attribute)
        if isinstance(found, typer.Typer):
            command: Command = typer.main.get_group(found)
        else:
            single = typer.Typer(add_completion=False)
            single.command(self.name)(found)
            command = typer.main.get_command(single)
        command.name = self.name
        return command


class _LazyCommands(MutableMapping[str, "Command"]):
    """``name -> command``, importing a lazy command the first time it is looked up."""

    def __init__(self, lazy: Sequence[LazyCommand], loaded: MutableMapping[str, Command]) -> None:
        self._lazy = {spec.name: spec for spec in lazy}
        self._loaded = dict(loaded)
        self._order = [*self._lazy, *(name for name in loaded if name not in self._lazy)]

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            self._loaded[name] = self._lazy[name].load()  # KeyError for an unknown name
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self._order:
            self._order.append(name)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._order.remove(name)
        self._lazy.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def summary(self, name: str, width: int) -> str:
        """The one-line help of ``name``, without importing a lazy command for it."""
        if name in self._lazy and name not in self._loaded:
            return self._lazy[name].summary
        return self[name].get_short_help_str(width)


class LazyGroup(TyperGroup):
    """A ``TyperGroup`` whose ``lazy_commands`` are imported on first use (set in a subclass)."""

    lazy_commands: ClassVar[tuple[LazyCommand, ...]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.lazy_commands, self.commands)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        # click's own layout (usage, text, options, commands, epilog), skipping TyperGroup's
        # Rich renderer.
        super(TyperGroup, self).format_help(ctx, formatter)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        commands = self.commands
        assert isinstance(commands, _LazyCommands)
        rows = [(name, commands.summary(name, width=formatter.width)) for name in commands]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            # Typer's Rich error handler prints nothing for "no args is help" (it expects its
            # Rich help to be printed already): print the plain help here, as `--help` does.
            typer.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)
