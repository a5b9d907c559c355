"""The errors of kitless task creation: one line each, saying what to do next."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "IsaacLabError",
    "IsaacLabNotInstalledError",
    "IsaacLabVersionError",
    "KitRequiredError",
    "OfflineAssetError",
    "TaskDependencyError",
    "UnknownTaskError",
]


class IsaacLabError(RuntimeError):
    """Base class of the errors raised when an Isaac Lab task cannot be created here."""


class IsaacLabNotInstalledError(IsaacLabError, ModuleNotFoundError):
    """Isaac Lab (or a package of its runtime) is missing; the message has the install command."""

    def __init__(self, install_command: str, *, missing: str = "isaaclab") -> None:
        self.install_command = install_command
        self.missing = missing
        super().__init__(
            f"Isaac Lab is not installed ({missing!r} is missing); "
            f"install it with: {install_command}"
        )


class IsaacLabVersionError(IsaacLabError):
    """An Isaac Lab older than 3.0 is installed; it cannot create tasks without Isaac Sim."""

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(
            f"Isaac Lab {version} is installed, but creating tasks without Isaac Sim needs "
            "Isaac Lab 3.0: with Isaac Lab 2.x, start Isaac Sim with isaaclab.app.AppLauncher, "
            "create the env with gymnasium.make and hand it to pat (see docs/isaaclab.md)"
        )


class UnknownTaskError(IsaacLabError, KeyError):
    """No registered Isaac Lab task has this id; ``suggestions`` holds the close matches."""

    def __init__(self, task: str, suggestions: Sequence[str] = ()) -> None:
        self.task = task
        self.suggestions = tuple(suggestions)
        hint = (
            f"did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else "list the tasks with pat_env_metrics.kitless.list_isaaclab_tasks()"
        )
        super().__init__(f"unknown Isaac Lab task {task!r}: {hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class TaskDependencyError(IsaacLabError, ModuleNotFoundError):
    """The task's config imports a package outside kitless Isaac Lab's runtime."""

    def __init__(self, task: str, module: str) -> None:
        self.task = task
        self.module = module
        super().__init__(
            f"task {task!r} needs the Python module {module!r}, which is not installed "
            "(it is not part of kitless Isaac Lab's runtime): install it into this environment"
        )


class KitRequiredError(IsaacLabError):
    """The task needs Isaac Sim's Kit (a camera renderer, PhysX, ...), which is not installed."""

    def __init__(self, task: str, sources: Sequence[str]) -> None:
        self.task = task
        self.sources = tuple(sources)
        super().__init__(
            f"task {task!r} needs Isaac Sim / Kit ({'; '.join(self.sources)}), which kitless "
            "Isaac Lab cannot provide: run it on a machine with Isaac Sim, or pick a task without "
            "cameras or PhysX"
        )


class OfflineAssetError(IsaacLabError):
    """An asset the task needs is on an unreachable server and pat has no packaged stand-in."""

    def __init__(self, task: str, url: str, server: str) -> None:
        self.task = task
        self.url = url
        self.server = server
        super().__init__(
            f"task {task!r} needs {url}, but {server} is unreachable and pat has no packaged "
            "stand-in: point ISAACSIM_ASSET_ROOT (Isaac Sim assets) or NEWTON_ASSET_DIR "
            "(Newton assets) at a local copy"
        )
