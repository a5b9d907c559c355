"""Refuse a run whose envs and skrl memory cannot fit in this machine's memory, before it starts.

``--num-envs 100000000`` used to run for minutes with memory growing past 6 GB before anything
failed. The estimate is a floor: skrl's memory buffer (its sample count x envs x the floats
of one transition) plus what one gymnasium env object holds on the host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pat_cli._errors import bad_option

if TYPE_CHECKING:
    from pat_cli._catalog import TaskChoice

GYM_ENV_BYTES = 4096
"""Host memory of one env in a gymnasium sync vector env (measured: CartPole 5.6 KB,
Pendulum 0.8 KB per env at 20,000 envs)."""
FLOAT_BYTES = 4
"""skrl's memories hold float32 tensors (bool for the episode-end flags)."""
ON_POLICY = frozenset({"a2c", "amp", "ppo", "rpo", "trpo", "ippo", "mappo"})
"""skrl agents whose memory holds one rollout: log-prob, values, returns, advantages too."""


@dataclass(frozen=True)
class MemoryEstimate:
    """What a run needs on the host, in bytes, and what the parts are."""

    samples: int
    per_env: int

    def total(self, num_envs: int) -> int:
        return self.per_env * num_envs

    def most_envs(self, available: int) -> int:
        return max(0, available // self.per_env)


def estimate(choice: TaskChoice, cfg: dict[str, Any]) -> MemoryEstimate:
    """The memory one env costs (skrl's buffer for it and, for gymnasium, the env object)."""
    rollouts = cfg["agent"].get("rollouts")
    size = (cfg.get("memory") or {}).get("memory_size", -1)
    samples = rollouts if (not isinstance(size, int) or size < 0) else size
    samples = samples if isinstance(samples, int) and samples > 0 else 1
    observation, action = _space_sizes(choice)
    # float32 observations, actions, rewards and bool terminated (as skrl's memories hold
    # them); on-policy also log-prob, values, returns, advantages and truncated, off-policy
    # the next observation
    if str(cfg["agent"].get("class", "")).lower() in ON_POLICY:
        transition = (observation + action + 5) * FLOAT_BYTES + 2
    else:
        transition = (2 * observation + action + 1) * FLOAT_BYTES + 1
    env_bytes = GYM_ENV_BYTES if choice.kind == "gymnasium" else 0
    return MemoryEstimate(samples=samples, per_env=samples * transition + env_bytes)


def check_fits(choice: TaskChoice, cfg: dict[str, Any], num_envs: int, device: str) -> None:
    """Exit 2 naming both numbers when the run's envs and memory exceed the available memory.

    Only a CPU run is checked (on a GPU the buffer lives in device memory).
    """
    available = available_bytes()
    if device != "cpu" or available is None:
        return
    need = estimate(choice, cfg)
    if need.total(num_envs) <= available:
        return
    bad_option(
        "--num-envs",
        num_envs,
        f"at most {need.most_envs(available):,} envs here: {num_envs:,} envs need at least "
        f"{_gb(need.total(num_envs))} (skrl's memory of {need.samples:,} samples per env"
        f"{' and the gymnasium envs' if choice.kind == 'gymnasium' else ''}), and "
        f"{_gb(available)} of memory is available",
    )


def available_bytes() -> int | None:
    """Memory available to a new process (Linux ``MemAvailable``, else the physical total)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _space_sizes(choice: TaskChoice) -> tuple[int, int]:
    """Observation and action floats of one env; 1 and 1 where they are not known yet."""
    if choice.kind != "gymnasium":
        return 1, 1
    import gymnasium as gym

    try:
        env = gym.make(choice.id)
    except Exception:  # the env's own error comes when it is built, with pat's message
        return 1, 1
    try:
        actions = env.action_space
        action = 1 if isinstance(actions, gym.spaces.Discrete) else gym.spaces.flatdim(actions)
        return gym.spaces.flatdim(env.observation_space), action
    except Exception:
        return 1, 1
    finally:
        env.close()


def _gb(size: int) -> str:
    return f"{size / 1e9:,.1f} GB"
