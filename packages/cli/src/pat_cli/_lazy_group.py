"""A Typer group that imports a command's module only when that command is used.

``pat --help`` then imports none of the command modules: it is written from one-line
summaries kept beside the command table, in the plain (click) style every pat command's
help has (``pat_cli._help``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer

from pat_cli._help import PLAIN, PlainCommand, PlainGroup, summary

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typer._click import Command, Context


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
            single = typer.Typer(add_completion=False, **PLAIN)
            single.command(self.name, cls=PlainCommand)(found)
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

    def summary(self, name: str) -> str:
        """The one-line help of ``name``, without importing a lazy command for it."""
        if name in self._lazy and name not in self._loaded:
            return self._lazy[name].summary
        return summary(self[name])


class LazyGroup(PlainGroup):
    """A ``TyperGroup`` whose ``lazy_commands`` are imported on first use (set in a subclass)."""

    lazy_commands: ClassVar[tuple[LazyCommand, ...]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.lazy_commands, self.commands)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def summary(self, name: str, ctx: Context) -> str:
        commands = self.commands
        assert isinstance(commands, _LazyCommands)
        return commands.summary(name)
