"""Metric terms for gymnasium vector envs (needs ``pat-env-metrics[gymnasium]``).

Example:
    >>> import gymnasium as gym, numpy as np
    >>> from pat_env_metrics import MetricsTermCfg
    >>> from pat_env_metrics.gymnasium import RecordEpisodeMetrics
    >>> env = gym.make_vec("CartPole-v1", num_envs=8, vectorization_mode="sync")
    >>> env = RecordEpisodeMetrics(env, {
    ...     "pole_angle_abs": MetricsTermCfg(func=lambda step: np.abs(step.obs[:, 2])),
    ... })
"""

from pat_env_metrics.gymnasium._wrapper import RecordEpisodeMetrics, StepView

__all__ = ["RecordEpisodeMetrics", "StepView"]
