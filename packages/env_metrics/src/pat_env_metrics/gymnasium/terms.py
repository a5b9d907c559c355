"""Ready-made metric terms for gymnasium vector envs (the ``pat`` CLI's tasks use them).

Each is a term ``term(step: StepView, **params) -> array[num_envs]``, evaluated on every env
step and reduced per episode; name one in a metrics config as
``pat_env_metrics.gymnasium.terms:observation_abs`` (with ``params: {index: 2}``).
Observations and actions may be numpy arrays or torch tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

__all__ = ["action_abs", "angle_from_cos_sin_abs", "observation_abs"]

if TYPE_CHECKING:
    from pat_env_metrics.gymnasium import StepView


def _array(value: Any, num_envs: int) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64).reshape(num_envs, -1)


def observation_abs(step: StepView, index: int) -> np.ndarray:
    """``|obs[:, index]|``: e.g. the pole angle of CartPole (index 2)."""
    column: np.ndarray = np.abs(_array(step.obs, step.num_envs)[:, index])
    return column


def action_abs(step: StepView) -> np.ndarray:
    """Mean absolute action over the action dimensions (effort spent)."""
    effort: np.ndarray = np.abs(_array(step.action, step.num_envs)).mean(axis=1)
    return effort


def angle_from_cos_sin_abs(step: StepView, cos_index: int = 0, sin_index: int = 1) -> np.ndarray:
    """``|atan2(sin, cos)|`` from an observation holding cos and sin of an angle (Pendulum)."""
    obs = _array(step.obs, step.num_envs)
    angle: np.ndarray = np.abs(np.arctan2(obs[:, sin_index], obs[:, cos_index]))
    return angle
