"""The one door to Isaac Lab: availability, imports, task ids, configs and the Kit check.

Nothing is imported from Isaac Lab until a function here needs it; a missing package
becomes :class:`~pat_env_metrics.kitless.IsaacLabNotInstalledError` with the install command.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import logging
import warnings
from typing import TYPE_CHECKING, Any

from pat_env_metrics.kitless._errors import (
    IsaacLabNotInstalledError,
    IsaacLabVersionError,
    KitRequiredError,
    TaskDependencyError,
    UnknownTaskError,
)
from pat_env_metrics.kitless._ids import close_task_ids, map_task_id
from pat_env_metrics.kitless._install import install_command

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "TaskIdRenamedWarning",
    "asset_root",
    "import_isaaclab",
    "isaaclab_available",
    "kit_sources",
    "quiet_stdout",
    "registered_ids",
    "require_no_kit",
    "resolve_env_cfg",
    "resolve_task_id",
]

logger = logging.getLogger("pat_env_metrics.kitless")

_STACK = ("isaaclab", "isaaclab_tasks", "isaaclab_newton", "gymnasium", "warp", "newton", "pxr")
"""Top-level modules kitless task creation imports (find_spec imports none of them)."""


class TaskIdRenamedWarning(FutureWarning):
    """An Isaac Lab 2.x task id was given and mapped to its 3.0 id."""


def isaaclab_available() -> bool:
    """Return whether Isaac Lab and its kitless runtime are importable (imports nothing)."""
    return all(importlib.util.find_spec(name) is not None for name in _STACK)


def import_isaaclab(module: str) -> Any:
    """Import part of the Isaac Lab stack; a missing package becomes the install message."""
    missing = next((name for name in _STACK if importlib.util.find_spec(name) is None), None)
    if missing is not None:
        raise IsaacLabNotInstalledError(install_command(), missing=missing)
    _require_isaaclab_3()
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise IsaacLabNotInstalledError(install_command(), missing=exc.name or module) from exc


def _require_isaaclab_3() -> None:
    try:
        installed = importlib.metadata.version("isaaclab")
    except importlib.metadata.PackageNotFoundError:
        return  # a source checkout without metadata: let the imports decide
    # Isaac Lab 2.x ships its core as isaaclab 0.x from source, or as isaaclab 2.x on PyPI.
    major = installed.split(".", 1)[0]
    if major.isdigit() and int(major) < 3:
        raise IsaacLabVersionError(installed)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Hide Isaac Lab's ``[INFO]: Parsing configuration from ...`` prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def registered_ids() -> list[str]:
    """Return the ids of the registered Isaac Lab tasks (imports ``isaaclab_tasks``)."""
    import_isaaclab("isaaclab_tasks")  # registers the tasks with gymnasium
    gym = import_isaaclab("gymnasium")
    return sorted(task for task in gym.registry if task.startswith("Isaac"))


_ANNOUNCED: set[str] = set()


def resolve_task_id(task: str) -> str:
    """Return the Isaac Lab 3.0 id of ``task``, mapping 2.x ids such as ``Isaac-Cartpole-v0``.

    A mapped id is announced once per process with a :class:`TaskIdRenamedWarning`.

    Raises:
        IsaacLabNotInstalledError: Isaac Lab is not installed.
        UnknownTaskError: No registered task matches; the error lists close matches.
    """
    registered = registered_ids()
    resolved = map_task_id(task, registered)
    if resolved is None:
        raise UnknownTaskError(task, close_task_ids(task, registered))
    if resolved != task and task not in _ANNOUNCED:
        _ANNOUNCED.add(task)
        message = f"Isaac Lab task {task!r} is called {resolved!r} since Isaac Lab 3.0; using it"
        logger.info(message)
        warnings.warn(message, TaskIdRenamedWarning, stacklevel=3)
    return resolved


def kit_sources(env_cfg: Any) -> tuple[str, ...]:
    """Return what in the config needs Kit; Isaac Lab's own pre-launch check decides."""
    launcher = import_isaaclab("isaaclab.app.sim_launcher")
    _, sources = launcher.validate_launch(env_cfg, {})
    return tuple(sources)


def require_no_kit(task: str, env_cfg: Any) -> None:
    """Raise :class:`KitRequiredError` if the config needs Kit and Isaac Sim is not installed."""
    sources = kit_sources(env_cfg)
    if sources and importlib.util.find_spec("isaacsim") is None:
        raise KitRequiredError(task, sources)


def asset_root() -> str:
    """Return Isaac Lab's asset root (``NUCLEUS_ASSET_ROOT_DIR``, fixed when it is imported)."""
    return str(import_isaaclab("isaaclab.utils.assets").NUCLEUS_ASSET_ROOT_DIR)


def resolve_env_cfg(task: str) -> Any:
    """Resolve a registered task's env config as Isaac Lab's scripts do (presets applied).

    Raises:
        TaskDependencyError: The config imports a package that is not installed.
    """
    hydra = import_isaaclab("isaaclab_tasks.utils.hydra")
    try:
        with quiet_stdout():
            env_cfg, _ = hydra.resolve_task_config(task, None, overrides=())
    except ModuleNotFoundError as exc:
        raise TaskDependencyError(task, exc.name or str(exc)) from exc
    return env_cfg
