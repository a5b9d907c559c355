"""pat-env-metrics: env-side metric terms reduced per episode.

Terms have the reward-term signature ``(env, **params) -> Tensor[num_envs]`` and are
reported as ``Episode_Metrics/<name>`` when episodes end, for Isaac Lab
manager-based envs (:mod:`pat_env_metrics.isaaclab`) and gymnasium vector envs
(:mod:`pat_env_metrics.gymnasium`). Neither framework is imported by this module.
"""

from importlib import import_module
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from pat_env_metrics._term_cfg import EPISODE_STATS, REDUCE_OPTIONS, MetricsTermCfg

if TYPE_CHECKING:
    from pat_env_metrics._manager import (
        EnvIds,
        MetricsManager,
        ParamResolver,
        make_metrics_manager,
    )
    from pat_env_metrics._null import NullMetricsManager

__version__ = _version("pat-env-metrics")

# The manager needs torch (seconds to import); load it on first use so that
# `pat_env_metrics.kitless` and the CLI's --help stay fast.
_LAZY = {
    "EnvIds": "pat_env_metrics._manager",
    "MetricsManager": "pat_env_metrics._manager",
    "ParamResolver": "pat_env_metrics._manager",
    "make_metrics_manager": "pat_env_metrics._manager",
    "NullMetricsManager": "pat_env_metrics._null",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
