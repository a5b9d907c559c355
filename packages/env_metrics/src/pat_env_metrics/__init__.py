"""pat-env-metrics: env-side metric terms reduced per episode.

Terms have the reward-term signature ``(env, **params) -> Tensor[num_envs]`` and are
reported as ``Episode_Metrics/<name>`` when episodes end, for Isaac Lab
manager-based envs and gymnasium vector envs.
"""

from importlib.metadata import version as _version

__version__ = _version("pat-env-metrics")

__all__ = ["__version__"]
