"""Make a gymnasium vector env the way an RL trainer needs it, with pat's episode metrics.

``gym.make_vec`` with sync vectorisation and same-step autoreset (the step that ends an
episode returns the reset observation, so a trainer never sees a transition from a terminal
state into a reset one), float64 observations cast to float32 (torch policies are float32;
gymnasium's own dtype wrapper refuses same-step autoreset), and
:class:`~pat_env_metrics.gymnasium.RecordEpisodeMetrics` when terms are given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from pat_env_metrics.gymnasium._wrapper import RecordEpisodeMetrics

if TYPE_CHECKING:
    from collections.abc import Mapping

    import torch

    from pat_env_metrics._term_cfg import MetricsTermCfg

__all__ = ["Float32Observations", "make_vector_env"]


def make_vector_env(
    task_id: str,
    num_envs: int,
    *,
    metrics: Mapping[str, MetricsTermCfg] | None = None,
    seed: int | None = None,
    device: str | torch.device = "cpu",
    **make_kwargs: Any,
) -> VectorEnv:
    """A reset vector env of ``task_id`` for training, reporting ``Episode_Metrics/*``.

    Args:
        task_id: A registered gymnasium id, e.g. ``"CartPole-v1"``.
        num_envs: Number of sub-environments.
        metrics: Metric terms (name -> config); none: no ``RecordEpisodeMetrics``.
        seed: Seed of the first reset.
        device: Where the metric values live.
        **make_kwargs: Keywords of ``gym.make`` for each sub-environment.

    Raises:
        gymnasium.error.Error: If gymnasium cannot make the env (unknown id, a missing
            optional dependency such as MuJoCo).
        ValueError, TypeError: If a metric term is invalid (the env is closed first).

    Example:
        >>> env = make_vector_env("CartPole-v1", 4, seed=0)
        >>> env.num_envs, env.single_observation_space.dtype
        (4, dtype('float32'))
    """
    env: VectorEnv = gym.make_vec(
        task_id,
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        **make_kwargs,
    )
    if getattr(env.single_observation_space, "dtype", None) == np.float64:
        env = Float32Observations(env)
    if metrics:
        try:
            env = RecordEpisodeMetrics(env, metrics, device=device)
        except (TypeError, ValueError):
            env.close()
            raise
    env.reset(seed=seed)
    return env


class Float32Observations(VectorWrapper):
    """A vector env's float64 ``Box`` observations as float32 (any autoreset mode)."""

    def __init__(self, env: VectorEnv) -> None:
        """Wrap ``env``, whose observation spaces are ``Box`` spaces."""
        super().__init__(env)
        self.single_observation_space = _float32_box(env.single_observation_space)
        self.observation_space = _float32_box(env.observation_space)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset, with float32 observations."""
        obs, info = self.env.reset(**kwargs)
        return obs.astype(np.float32), info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step, with float32 observations."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return obs.astype(np.float32), reward, terminated, truncated, info


def _float32_box(space: Any) -> gym.spaces.Box:
    return gym.spaces.Box(
        low=space.low.astype(np.float32), high=space.high.astype(np.float32), dtype=np.float32
    )
