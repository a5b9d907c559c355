"""The gymnasium tasks pat ships agent configs for, with their env-side metrics.

Each task has one skrl runner YAML per algorithm (skrl 2.x field names, the format Isaac Lab
ships) and one pat-env-metrics YAML (term name -> ``MetricsTermCfg`` fields) so that the
env-side metrics show up in every run. Both are package data, read with ``importlib.resources``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class GymTask:
    """A gymnasium task pat can train out of the box.

    Attributes:
        id: The gymnasium id.
        configs: Algorithm (lower case) -> skrl runner YAML shipped in this package.
        default_algorithm: The algorithm used when ``--algorithm`` is not given.
        metrics: The env-metrics YAML shipped in this package.
        num_envs: Default number of vectorized envs.
        requires: Importable modules it needs beyond gymnasium, with the install command.
        summary: One line for ``pat tasks``.
    """

    id: str
    configs: dict[str, str]
    default_algorithm: str
    metrics: str
    num_envs: int
    requires: tuple[tuple[str, str], ...] = ()
    summary: str = ""

    def missing(self) -> list[tuple[str, str]]:
        """``(module, install command)`` of each requirement that is not installed."""
        return [(m, cmd) for m, cmd in self.requires if importlib.util.find_spec(m) is None]


GYM_TASKS: dict[str, GymTask] = {
    task.id: task
    for task in (
        GymTask(
            id="CartPole-v1",
            configs={"ppo": "cartpole_v1_ppo.yaml"},
            default_algorithm="ppo",
            metrics="cartpole_v1_metrics.yaml",
            num_envs=16,
            summary="balance a pole on a cart (discrete actions); return 500 is the maximum",
        ),
        GymTask(
            id="Pendulum-v1",
            configs={"ppo": "pendulum_v1_ppo.yaml", "sac": "pendulum_v1_sac.yaml"},
            default_algorithm="ppo",
            metrics="pendulum_v1_metrics.yaml",
            num_envs=16,
            summary="swing a pendulum up and hold it (continuous torque); best returns near -150",
        ),
        GymTask(
            id="InvertedPendulum-v5",
            configs={"ppo": "invertedpendulum_v5_ppo.yaml"},
            default_algorithm="ppo",
            metrics="invertedpendulum_v5_metrics.yaml",
            num_envs=16,
            requires=(("mujoco", "pip install 'gymnasium[mujoco]'"),),
            summary="MuJoCo inverted pendulum on a cart (continuous force); maximum return 1000",
        ),
    )
}
"""The gymnasium tasks with agent configs shipped in pat."""


def read_text(name: str) -> str:
    """The text of a file shipped in this package."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def load_yaml(name: str) -> dict[str, Any]:
    """A YAML mapping shipped in this package."""
    import yaml  # type: ignore[import-untyped]

    data = yaml.safe_load(read_text(name))
    if not isinstance(data, dict):  # pragma: no cover - guarded by the package's tests
        raise TypeError(f"{name} is not a YAML mapping")
    return data
