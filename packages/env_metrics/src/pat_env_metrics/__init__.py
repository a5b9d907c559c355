"""pat-env-metrics: env-side metric terms reduced per episode.

Terms have the reward-term signature ``(env, **params) -> Tensor[num_envs]`` and are
reported as ``Episode_Metrics/<name>`` when episodes end, for Isaac Lab
manager-based envs (:mod:`pat_env_metrics.isaaclab`) and gymnasium vector envs
(:mod:`pat_env_metrics.gymnasium`). Neither framework is imported by this module.
"""

from importlib.metadata import version as _version

from pat_env_metrics._manager import (
    EnvIds,
    MetricsManager,
    ParamResolver,
    make_metrics_manager,
)
from pat_env_metrics._null import NullMetricsManager
from pat_env_metrics._term_cfg import EPISODE_STATS, REDUCE_OPTIONS, MetricsTermCfg

__version__ = _version("pat-env-metrics")

__all__ = [
    "EPISODE_STATS",
    "REDUCE_OPTIONS",
    "EnvIds",
    "MetricsManager",
    "MetricsTermCfg",
    "NullMetricsManager",
    "ParamResolver",
    "__version__",
    "make_metrics_manager",
]
