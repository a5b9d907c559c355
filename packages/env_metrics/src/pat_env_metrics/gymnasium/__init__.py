"""Metric terms for gymnasium vector envs (needs ``pat-env-metrics[gymnasium]``).

Example:
    >>> import gymnasium as gym, numpy as np
    >>> from pat_env_metrics import MetricsTermCfg
    >>> from pat_env_metrics.gymnasium import RecordEpisodeMetrics, make_vector_env
    >>> env = gym.make_vec("CartPole-v1", num_envs=8, vectorization_mode="sync")
    >>> env = RecordEpisodeMetrics(env, {
    ...     "pole_angle_abs": MetricsTermCfg(func=lambda step: np.abs(step.obs[:, 2])),
    ... })
    >>> trainable = make_vector_env("CartPole-v1", 8, seed=0, metrics={
    ...     "pole_angle_abs": MetricsTermCfg(func=lambda step: np.abs(step.obs[:, 2])),
    ... })
"""

from pat_env_metrics.gymnasium._vector_env import Float32Observations, make_vector_env
from pat_env_metrics.gymnasium._wrapper import RecordEpisodeMetrics, StepView

__all__ = ["Float32Observations", "RecordEpisodeMetrics", "StepView", "make_vector_env"]
