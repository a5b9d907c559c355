"""Resolve a task, its agent config, device, env count and env metrics.

Every command that creates an env (``train``, ``inspect tracking-data``, ``dry-run filter
--task``) needs these first.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pat_cli._errors import bad_option

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pat_cli._catalog import TaskChoice
    from pat_cli._overrides import Override

CPU_ISAAC_NUM_ENVS = 256
"""Isaac Lab tasks on the CPU default to this many envs (their configs assume a GPU)."""
GPU_ISAAC_NUM_ENVS = 4096
"""Isaac Lab tasks on a GPU default to this many envs (Isaac Lab's usual)."""


@dataclass(frozen=True)
class Prepared:
    """A task ready to be created, with the agent config to train on it."""

    choice: TaskChoice
    cfg: dict[str, Any]
    source: str
    algorithm: str
    num_envs: int
    device: str
    env_metrics: dict[str, Any]


def prepare(  # noqa: PLR0917 - callers pass the first five in order
    task: str,
    algorithm: str | None,
    agent_cfg: Path | None,
    num_envs: int | None,
    device: str | None,
    overrides: Sequence[Override] = (),
) -> Prepared:
    """Validate and resolve; usage errors exit 2, an environment that cannot run exits 1.

    ``overrides`` (``agent.`` and ``env.`` keys) are applied and checked before torch is
    imported: a bad one fails in about a second.
    """
    from pat_cli import _train_plan as check
    from pat_cli._catalog import resolve_task

    user_cfg = check.read_agent_yaml(agent_cfg) if agent_cfg is not None else None
    choice = resolve_task(task, agent_cfg_given=user_cfg is not None)
    # the algorithm is checked before torch is imported (by the device check): seconds sooner
    cfg, source, algo = _agent_config(choice, algorithm, user_cfg, agent_cfg)
    if user_cfg is not None:
        from pat_cli._agent_fields import check_agent_fields

        check_agent_fields(user_cfg, "--agent-cfg", str(agent_cfg))
    if overrides:
        cfg = _overridden(cfg, choice, overrides)
    chosen_device = check.device(device)
    return Prepared(
        choice=choice,
        cfg=cfg,
        source=source,
        algorithm=algo,
        num_envs=num_envs or _default_num_envs(choice, chosen_device),
        device=chosen_device,
        env_metrics=_env_metrics(choice),
    )


def finish_cfg(
    cfg: dict[str, Any],
    choice: TaskChoice,
    timesteps: int,
    seed: int | None,
    *,
    directory: str | None = None,
) -> dict[str, Any]:
    """Pat's settings on top of the agent config: timesteps, seed, quiet trainer, log dirs."""
    cfg = copy.deepcopy(cfg)
    if seed is not None:
        cfg["seed"] = seed
    trainer = cfg["trainer"]
    trainer["timesteps"] = timesteps
    trainer.update(headless=True, disable_progressbar=True, close_environment_at_exit=False)
    trainer.setdefault("environment_info", "log")
    experiment = cfg["agent"].setdefault("experiment", {})
    experiment["directory"] = directory or str(Path("runs") / choice.id)
    return cfg


def _overridden(
    cfg: dict[str, Any], choice: TaskChoice, overrides: Sequence[Override]
) -> dict[str, Any]:
    """The agent config with its ``agent.`` overrides; ``env.`` ones checked for gymnasium."""
    from pat_cli._agent_fields import check_agent_fields
    from pat_cli._overrides import NAME, apply, gym_env_kwargs

    changed = apply(cfg, overrides, "agent")
    if changed != cfg:
        texts = " ".join(o.text for o in overrides if o.root == "agent")
        check_agent_fields(changed, NAME, texts)  # skrl's own fields and their types
    if choice.kind == "gymnasium":
        gym_env_kwargs(choice.id, overrides)  # exits 2 on a keyword gym.make does not take
    return changed


def _agent_config(
    choice: TaskChoice, algorithm: str | None, user_cfg: dict[str, Any] | None, path: Path | None
) -> tuple[dict[str, Any], str, str]:
    """The skrl runner config, where it came from, and its algorithm (lower case)."""
    if user_cfg is not None:
        declared = str(user_cfg["agent"]["class"]).lower()
        if algorithm is not None and algorithm.lower() != declared:
            bad_option(
                "--algorithm", algorithm, f"{declared} (the agent class in --agent-cfg {path})"
            )
        return user_cfg, str(path), declared
    if choice.gym is not None:
        from pat_cli.tasks import load_yaml

        algo = (algorithm or choice.gym.default_algorithm).lower()
        if algo not in choice.gym.configs:
            bad_option(
                "--algorithm", algorithm, f"one of {', '.join(choice.gym.configs)} for {choice.id}"
            )
        name = choice.gym.configs[algo]
        return load_yaml(name), f"pat's {name}", algo
    from pat_cli._quiet import quiet_setup
    from pat_env_metrics.kitless import load_agent_cfg

    try:
        with quiet_setup():
            cfg = load_agent_cfg(choice.id, "skrl", algorithm)
    except LookupError as error:
        bad_option("--algorithm", algorithm, f"an algorithm with a skrl config ({error})")
    return cfg, f"{choice.id}'s skrl config", str(cfg["agent"]["class"]).lower()


def _default_num_envs(choice: TaskChoice, device: str) -> int:
    if choice.gym is not None:
        return choice.gym.num_envs
    if choice.kind == "isaaclab":
        return CPU_ISAAC_NUM_ENVS if device == "cpu" else GPU_ISAAC_NUM_ENVS
    return 16


def _env_metrics(choice: TaskChoice) -> dict[str, Any]:
    if choice.gym is None:
        return {}
    from pat_cli._train_env import gym_metrics
    from pat_cli.tasks import load_yaml

    return gym_metrics(load_yaml(choice.gym.metrics), choice.gym.metrics)
