"""Which tasks ``pat train`` can run here: pat's gymnasium tasks, Isaac Lab, any gymnasium id.

Resolution fails with one-line errors: an unknown task is a usage error (exit 2, close
matches named); Isaac Lab missing is a domain error (exit 1, the install command).
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass
from typing import Any, Literal

from pat_cli._errors import DOMAIN_ERROR, bad_option, fail
from pat_cli.tasks import GYM_TASKS, GymTask

ISAAC_PREFIX = "Isaac"
SETUP_COMMAND = "pat setup isaaclab"
NO_AUTO_INSTALL_ENV = "PAT_NO_AUTO_INSTALL"
"""Set to 1 to make ``pat train`` fail instead of installing a missing Isaac Lab."""


@dataclass(frozen=True)
class TaskChoice:
    """A task ``pat train`` will run.

    Attributes:
        kind: ``"gymnasium"`` or ``"isaaclab"``.
        id: The id to create (an Isaac Lab 3.0 id for Isaac tasks).
        requested: The id as the user wrote it.
        gym: pat's shipped configs for it (``None`` for Isaac Lab and other gymnasium ids).
    """

    kind: Literal["gymnasium", "isaaclab"]
    id: str
    requested: str
    gym: GymTask | None = None


@dataclass(frozen=True)
class IsaacTaskRow:
    """One Isaac Lab task for ``pat tasks``."""

    id: str
    workflow: str
    algorithms: tuple[str, ...]
    runs_here: bool | None
    reason: str


def isaaclab_installed() -> bool:
    """Whether Isaac Lab's kitless stack is importable (imports none of it)."""
    if importlib.util.find_spec("pat_env_metrics") is None:  # pragma: no cover - a dependency
        return False
    from pat_env_metrics.kitless import isaaclab_available

    return isaaclab_available()


def resolve_task(task: str, *, agent_cfg_given: bool) -> TaskChoice:
    """Resolve ``--task``; exit with a one-line error when it cannot run here."""
    if task in GYM_TASKS:
        return TaskChoice("gymnasium", task, task, GYM_TASKS[task])
    if task.startswith(ISAAC_PREFIX):
        return _resolve_isaac(task)
    registered = _gymnasium_ids()
    if task in registered:
        if agent_cfg_given:
            return TaskChoice("gymnasium", task, task)
        bad_option(
            "--task",
            task,
            f"a task pat ships an agent config for ({', '.join(GYM_TASKS)}); "
            f"for {task} pass a skrl runner YAML with --agent-cfg",
        )
    candidates = list(dict.fromkeys([*GYM_TASKS, *registered]))
    close = difflib.get_close_matches(task, candidates, n=3, cutoff=0.6)
    folded = [c for c in candidates if c.lower() == task.lower()]
    suggestion = (
        f" Did you mean {', '.join(map(repr, folded or close))}?" if folded or close else ""
    )
    fail(
        f"invalid value for --task: {task!r}; expected one of pat's tasks "
        f"({', '.join(GYM_TASKS)}), an Isaac Lab task (Isaac...) or a gymnasium id "
        f"with --agent-cfg.{suggestion}",
        hint="`pat tasks` lists what runs here.",
    )


def _resolve_isaac(task: str) -> TaskChoice:
    if not isaaclab_installed():
        _install_isaaclab_for(task)
    import warnings

    from pat_cli._quiet import quiet_setup
    from pat_env_metrics.kitless import TaskIdRenamedWarning, UnknownTaskError, resolve_task_id

    try:
        with quiet_setup(), warnings.catch_warnings():
            warnings.simplefilter("ignore", TaskIdRenamedWarning)  # announced by the caller
            resolved = resolve_task_id(task)
    except UnknownTaskError as error:
        suggestion = (
            f" Did you mean {', '.join(map(repr, error.suggestions))}?" if error.suggestions else ""
        )
        fail(
            f"invalid value for --task: {task!r}; no Isaac Lab task has this id.{suggestion}",
            hint="`pat tasks` lists the Isaac Lab tasks.",
        )
    return TaskChoice("isaaclab", resolved, task)


def _install_isaaclab_for(task: str) -> None:
    """Install Isaac Lab (kitless) on first use, saying what is installed; opt out with an env var.

    The README's main command must work on a fresh machine: on Python 3.11 isaaclab cannot be
    in uv.lock, so the first Isaac Lab run installs it the way ``pat setup isaaclab`` does.
    """
    import os
    import subprocess

    if os.environ.get(NO_AUTO_INSTALL_ENV, "").strip().lower() in {"1", "true", "yes"}:
        fail(
            f"--task {task!r} is an Isaac Lab task, and Isaac Lab is not installed here.",
            hint=f"install it (kitless, no Isaac Sim) with `{SETUP_COMMAND}`, then run again "
            f"(automatic install is off because {NO_AUTO_INSTALL_ENV} is set).",
            code=DOMAIN_ERROR,
        )
    from pat_cli._console import err_console
    from pat_env_metrics.kitless import install_isaaclab

    err_console.print(
        f"Isaac Lab is not installed here; installing it now for {task} "
        f"(kitless: no Isaac Sim; the same as `{SETUP_COMMAND}`):",
        highlight=False,
    )
    try:
        install_isaaclab(echo=lambda line: err_console.print(line, highlight=False, markup=False))
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        fail(
            f"installing Isaac Lab failed ({error}).",
            hint=f"run `{SETUP_COMMAND} --dry-run` to see the commands and run them by hand.",
            code=DOMAIN_ERROR,
        )
    importlib.invalidate_caches()
    if not isaaclab_installed():
        fail(
            "Isaac Lab was installed but cannot be imported in this environment.",
            hint=f"check `{SETUP_COMMAND} --check`.",
            code=DOMAIN_ERROR,
        )


def _gymnasium_ids() -> list[str]:
    if importlib.util.find_spec("gymnasium") is None:  # pragma: no cover - a dependency
        return []
    import gymnasium

    return sorted(k for k in gymnasium.registry if not k.startswith(ISAAC_PREFIX))


def isaac_rows(*, check: bool) -> list[IsaacTaskRow]:
    """Isaac Lab tasks that have a skrl agent config (``check``: resolve each, ~20 s)."""
    import gymnasium

    from pat_cli._quiet import quiet_setup
    from pat_env_metrics.kitless import list_isaaclab_tasks

    with quiet_setup():
        infos = list_isaaclab_tasks(check=check)
    rows = []
    for info in infos:
        kwargs: dict[str, Any] = gymnasium.registry[info.id].kwargs
        algorithms = _skrl_algorithms(kwargs)
        if not algorithms:
            continue
        rows.append(IsaacTaskRow(info.id, info.workflow, algorithms, info.runs_here, info.reason))
    return rows


def _skrl_algorithms(kwargs: dict[str, Any]) -> tuple[str, ...]:
    found = []
    for key in kwargs:
        if key == "skrl_cfg_entry_point":
            found.append("ppo")
        elif key.startswith("skrl_") and key.endswith("_cfg_entry_point"):
            found.append(key.removeprefix("skrl_").removesuffix("_cfg_entry_point"))
    return tuple(sorted(set(found), key=lambda a: (a != "ppo", a)))
