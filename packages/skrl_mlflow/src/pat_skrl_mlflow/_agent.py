"""What pat needs to know about a skrl agent, across skrl 1.x and 2.x."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from importlib import metadata
from typing import Any

__all__ = [
    "agent_uids",
    "algorithm_name",
    "cfg_as_dict",
    "cfg_value",
    "is_multi_agent",
    "nonexistent_tags",
    "rollout_length",
    "skrl_major",
    "tensorboard_interval",
    "update_method_name",
]


def skrl_major() -> int:
    """The major version of the installed skrl (1 or 2)."""
    return int(metadata.version("skrl").split(".", 1)[0])


def update_method_name() -> str:
    """``"update"`` on skrl 2.x (keyword-only), ``"_update"`` on skrl 1.x (positional)."""
    return "update" if skrl_major() >= 2 else "_update"


def cfg_value(cfg: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a skrl config: a dict (1.x, runner) or a dataclass (2.x)."""
    if isinstance(cfg, Mapping):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


def cfg_as_dict(cfg: Any) -> dict[str, Any]:
    """A skrl agent config (dict or dataclass, nested) as plain nested dicts."""
    converted = _plain_cfg(cfg)
    return converted if isinstance(converted, dict) else dict(getattr(cfg, "__dict__", {}))


def _plain_cfg(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain_cfg(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: _plain_cfg(item) for key, item in value.items()}
    return value


def algorithm_name(agent: Any) -> str:
    """The agent's algorithm, e.g. ``"PPO"``, ``"SAC"``, ``"IPPO"``."""
    return type(agent).__name__


def is_multi_agent(agent: Any) -> bool:
    """Whether ``agent`` is a skrl multi-agent (IPPO, MAPPO, ...)."""
    return hasattr(agent, "possible_agents")


def agent_uids(agent: Any) -> list[str]:
    """The agent ids of a multi-agent, else an empty list."""
    return [str(uid) for uid in getattr(agent, "possible_agents", None) or []]


STD_TAG = "Policy / Standard deviation"
DISCRETE_MIXINS = ("CategoricalMixin", "MultiCategoricalMixin")


def nonexistent_tags(agent: Any) -> frozenset[str]:
    """Tags skrl tracks that measure nothing for this agent: never logged.

    A categorical policy has no standard deviation (torch's ``Categorical.stddev`` is
    NaN), yet skrl's PPO family tracks ``Policy / Standard deviation`` at every update.
    """
    if is_multi_agent(agent):
        policies = getattr(agent, "policies", None) or {}
        return frozenset(
            f"{STD_TAG} ({uid})" for uid, policy in policies.items() if _is_discrete(policy)
        )
    return frozenset({STD_TAG}) if _is_discrete(getattr(agent, "policy", None)) else frozenset()


def _is_discrete(model: Any) -> bool:
    return model is not None and any(c.__name__ in DISCRETE_MIXINS for c in type(model).__mro__)


def rollout_length(agent: Any) -> int | None:
    """Timesteps between the agent's updates for on-policy agents, else None.

    PPO, A2C, RPO, TRPO, AMP, IPPO and MAPPO collect ``cfg.rollouts`` timesteps before
    each update.
    """
    value = cfg_value(agent.cfg, "rollouts")
    if isinstance(value, Mapping):  # a per-agent setting: the agents update together
        value = next(iter(value.values()), None)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def tensorboard_interval(agent: Any, timesteps: int | None) -> int | None:
    """The TensorBoard write interval of skrl as configured (before rank adjustments).

    ``"auto"`` resolves like skrl: ``int(timesteps / 100)``. None when not positive.
    """
    experiment = cfg_value(agent.cfg, "experiment", {}) or {}
    value = cfg_value(experiment, "write_interval", "auto")
    if value == "auto":
        value = int((timesteps or 0) / 100)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
