"""Metric terms for Isaac Lab manager-based RL envs (3.0 kitless; 2.x where the API is the same).

Add ``metrics = {"name": MetricsTermCfg(...)}`` to the env cfg, then either create the
task through pat (:func:`make_env`), attach to an env you created yourself
(:func:`attach_metrics`), or register your task with
``entry_point="pat_env_metrics.isaaclab:ManagerBasedRLEnvWithMetrics"``. The values appear
in ``env.extras["log"]`` as ``Episode_Metrics/<name>`` on steps where episodes end.
Ready terms live in :mod:`pat_env_metrics.isaaclab.mdp`.

Importing this package does not import Isaac Lab; ``mdp`` and
``ManagerBasedRLEnvWithMetrics`` do, when first accessed.

Example:
    >>> import gymnasium as gym
    >>> from pat_env_metrics.isaaclab import attach_metrics
    >>> env = gym.make("Isaac-Cartpole", cfg=env_cfg)  # env_cfg.metrics = {...}
    >>> attach_metrics(env)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pat_env_metrics.isaaclab._attach import SceneEntityResolver, attach_metrics
from pat_env_metrics.isaaclab._make import make_env

if TYPE_CHECKING:
    from pat_env_metrics.isaaclab import mdp
    from pat_env_metrics.isaaclab._env import ManagerBasedRLEnvWithMetrics

__all__ = [
    "ManagerBasedRLEnvWithMetrics",
    "SceneEntityResolver",
    "attach_metrics",
    "make_env",
    "mdp",
]


def __getattr__(name: str) -> Any:
    if name == "mdp":
        return importlib.import_module("pat_env_metrics.isaaclab.mdp")
    if name == "ManagerBasedRLEnvWithMetrics":
        return importlib.import_module("pat_env_metrics.isaaclab._env").ManagerBasedRLEnvWithMetrics
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
