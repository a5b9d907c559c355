"""List Isaac Lab's tasks (and whether each runs here); read a task's agent config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pat_env_metrics.kitless._assets import choose_asset_source, remote_asset_paths, server_of
from pat_env_metrics.kitless._errors import KitRequiredError, OfflineAssetError, TaskDependencyError
from pat_env_metrics.kitless._isaaclab import (
    asset_root,
    import_isaaclab,
    quiet_stdout,
    registered_ids,
    require_no_kit,
    resolve_env_cfg,
    resolve_task_id,
)
from pat_env_metrics.kitless._standins import PACKAGED_ASSETS

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["TaskInfo", "list_isaaclab_tasks", "load_agent_cfg"]


@dataclass(frozen=True)
class TaskInfo:
    """One registered Isaac Lab task and whether it can be created here.

    Attributes:
        id: The task id.
        workflow: ``"manager"`` (manager-based) or ``"direct"``.
        runs_here: Whether it can be created kitless on this machine; ``None`` if not checked.
        reason: Why not, when ``runs_here`` is False (Kit needed, assets, a missing package).
    """

    id: str
    workflow: Literal["manager", "direct"]
    runs_here: bool | None
    reason: str = ""


def _workflow(cfg: Any, entry_point: object) -> Literal["manager", "direct"]:
    if cfg is not None:
        envs = import_isaaclab("isaaclab.envs")
        return "manager" if isinstance(cfg, envs.ManagerBasedEnvCfg) else "direct"
    return "manager" if "ManagerBased" in str(entry_point) else "direct"


def list_isaaclab_tasks(
    *, check: bool = True, tasks: Iterable[str] | None = None
) -> list[TaskInfo]:
    """List the registered Isaac Lab tasks, and whether each one can be created here.

    Args:
        check: Resolve each task's config to tell whether it needs Kit, assets that cannot be
            reached, or packages that are not installed (about 20 s for all of Isaac Lab's
            ~140 tasks on two cores). With ``False`` only ids and workflows are listed.
        tasks: Only these tasks (3.0 or 2.x ids); all registered tasks by default.

    Raises:
        IsaacLabNotInstalledError: Isaac Lab is not installed.
        UnknownTaskError: One of ``tasks`` is not registered.
    """
    gym = import_isaaclab("gymnasium")
    selected = registered_ids() if tasks is None else [resolve_task_id(task) for task in tasks]
    infos = []
    for task in selected:
        entry_point = gym.registry[task].entry_point
        if not check:
            infos.append(TaskInfo(task, _workflow(None, entry_point), None))
            continue
        try:
            env_cfg = resolve_env_cfg(task)
        except TaskDependencyError as exc:
            infos.append(TaskInfo(task, _workflow(None, entry_point), False, str(exc)))
            continue
        except Exception as exc:  # any failure to load is the reason it can't run
            reason = f"its config does not load: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            infos.append(TaskInfo(task, _workflow(None, entry_point), False, reason))
            continue
        infos.append(TaskInfo(task, _workflow(env_cfg, entry_point), *_runs_here(task, env_cfg)))
    return infos


def _runs_here(task: str, env_cfg: Any) -> tuple[bool, str]:
    try:
        require_no_kit(task, env_cfg)
    except KitRequiredError as exc:
        return False, str(exc)
    source = choose_asset_source(url for _, _, url in remote_asset_paths(env_cfg))
    if source.kind == "packaged":
        prefix = asset_root().rstrip("/") + "/"
        for _, _, url in remote_asset_paths(env_cfg):
            known = url.startswith(prefix) and url[len(prefix) :] in PACKAGED_ASSETS
            if server_of(url) in source.unreachable and not known:
                return False, str(OfflineAssetError(task, url, server_of(url)))
    return True, ""


def load_agent_cfg(
    task: str, library: str = "skrl", algorithm: str | None = None
) -> dict[str, Any]:
    """Return the agent config a task registers for an RL library, as a dict.

    Args:
        task: A 3.0 or 2.x task id.
        library: ``"skrl"``, ``"rsl_rl"``, ``"rl_games"``, ``"sb3"``, ...
        algorithm: For libraries with several configs per task (``"ppo"``, ``"amp"``,
            ``"ippo"``, ...); ``None`` picks the task's default entry point.

    Raises:
        IsaacLabNotInstalledError: Isaac Lab is not installed.
        UnknownTaskError: No task with this id.
        LookupError: The task registers no such agent config; the message lists those it has.
    """
    task_id = resolve_task_id(task)
    suffix = "" if algorithm is None or algorithm.lower() == "ppo" else f"_{algorithm.lower()}"
    key = f"{library}{suffix}_cfg_entry_point"
    gym = import_isaaclab("gymnasium")
    kwargs = gym.registry[task_id].kwargs
    if key not in kwargs:
        have = sorted(
            k.removesuffix("_cfg_entry_point") for k in kwargs if k.endswith("_cfg_entry_point")
        )
        have = [name for name in have if name != "env"]
        raise LookupError(
            f"task {task_id!r} has no {key!r}; it has agent configs for: {', '.join(have)}"
        )
    hydra = import_isaaclab("isaaclab_tasks.utils.hydra")
    with quiet_stdout():
        _, agent_cfg = hydra.resolve_task_config(task_id, key, overrides=())
    if isinstance(agent_cfg, dict):
        return agent_cfg
    return dict(agent_cfg.to_dict())
