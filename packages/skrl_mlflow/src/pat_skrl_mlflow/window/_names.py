"""Readable MLflow keys for skrl's standard tracking tags.

These are the names the replaced integration documented (``episode_reward_mean``,
``policy_loss``, ...), so filters written for it work verbatim. Per-agent tags of
multi-agents (``Loss / Policy loss (agent_0)``) become ``agent_0/policy_loss``. Every
other tag gets pat-core's generic mapping (``Info / x`` -> ``Info/x``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pat_core import MetricNameMapper, to_mlflow_key

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["PER_AGENT_TAGS", "SKRL_ALIASES", "make_mapper", "skrl_aliases", "skrl_tag_of_key"]


def _extremes(tag: str, key: str) -> dict[str, str]:
    return {f"{tag} ({stat})": f"{key}_{stat}" for stat in ("mean", "min", "max")}


SKRL_ALIASES: dict[str, str] = {
    # record_transition (every agent)
    **_extremes("Reward / Total reward", "episode_reward"),
    **_extremes("Episode / Total timesteps", "episode_length"),
    **_extremes("Reward / Instantaneous reward", "instantaneous_reward"),
    # trainer timings
    "Stats / Inference time (ms)": "inference_time_ms",
    "Stats / Env stepping time (ms)": "env_stepping_time_ms",
    "Stats / Algorithm update time (ms)": "algorithm_update_time_ms",
    # losses
    "Loss / Policy loss": "policy_loss",
    "Loss / Value loss": "value_loss",
    "Loss / Entropy loss": "entropy_loss",
    "Loss / Critic loss": "critic_loss",
    "Loss / Q-network loss": "q_network_loss",
    "Loss / Discriminator loss": "discriminator_loss",
    # learning rates, coefficients
    "Learning / Learning rate": "learning_rate",
    "Learning / Policy learning rate": "policy_learning_rate",
    "Learning / Critic learning rate": "critic_learning_rate",
    "Learning / Value learning rate": "value_learning_rate",
    "Coefficient / Entropy coefficient": "entropy_coefficient",
    "Coefficient / Return threshold": "return_threshold",
    "Coefficient / Mean discounted returns": "mean_discounted_returns",
    # policy, Q-networks, targets, exploration
    "Policy / Standard deviation": "policy_std",
    **_extremes("Q-network / Q1", "q1"),
    **_extremes("Q-network / Q2", "q2"),
    **_extremes("Target / Target", "target"),
    **_extremes("Exploration / Exploration noise", "exploration_noise"),
    "Exploration / Exploration epsilon": "exploration_epsilon",
}
"""skrl tag -> MLflow key for the tags skrl's torch agents and trainers track."""

PER_AGENT_TAGS: tuple[str, ...] = (
    "Loss / Policy loss",
    "Loss / Value loss",
    "Loss / Entropy loss",
    "Policy / Standard deviation",
    "Learning / Learning rate",
)
"""Tags that skrl's multi-agents (IPPO, MAPPO) track per agent as ``<tag> (<uid>)``."""


def skrl_aliases(uids: Iterable[str] = ()) -> dict[str, str]:
    """The alias table, with per-agent entries ``<tag> (<uid>)`` -> ``<uid>/<key>``."""
    table = dict(SKRL_ALIASES)
    for uid in uids:
        prefix = to_mlflow_key(uid)
        for tag in PER_AGENT_TAGS:
            table[f"{tag} ({uid})"] = f"{prefix}/{SKRL_ALIASES[tag]}"
    return table


def skrl_tag_of_key(key: str) -> tuple[str, str] | None:
    """The skrl tag pat logs under ``key``, and the key pat's filter decides it by.

    A standard key (``policy_loss`` -> ``Loss / Policy loss``), a multi-agent one
    (``agent_0/policy_loss`` -> ``Loss / Policy loss (agent_0)``) or a statistic derived
    from one (``episode_reward_mean/std``: decided with its tag's key,
    ``episode_reward_mean``). None for keys no standard skrl tag is logged under.
    """
    if (tag := _BY_KEY.get(key)) is not None:
        return tag, key
    head, _, tail = key.rpartition("/")
    if head and (tag := _PER_AGENT_BY_KEY.get(tail)) is not None and "/" not in head:
        return f"{tag} ({head})", key
    if head and (base := skrl_tag_of_key(head)) is not None:
        return base[0], base[1]
    return None


_BY_KEY = {key: tag for tag, key in SKRL_ALIASES.items()}
_PER_AGENT_BY_KEY = {SKRL_ALIASES[tag]: tag for tag in PER_AGENT_TAGS}


def make_mapper(uids: Iterable[str] = (), extra: dict[str, str] | None = None) -> MetricNameMapper:
    """A name mapper with skrl's aliases (and the user's, which win)."""
    return MetricNameMapper({**skrl_aliases(uids), **(extra or {})})
