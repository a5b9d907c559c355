"""A gymnasium vector-env wrapper that reduces metric terms per episode into ``info["log"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import concatenate, create_empty_array, iterate

from pat_env_metrics._manager import make_metrics_manager
from pat_env_metrics._null import NullMetricsManager

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pat_env_metrics._term_cfg import MetricsTermCfg


@dataclass(eq=False)
class StepView:
    """What a gymnasium metric term sees: ``term(step, **params) -> array[num_envs]``.

    The fields hold the transition just taken. Under same-step autoreset, ``obs`` holds the
    terminal observation of the envs whose episode ended (not the reset observation that
    ``step`` returns), and ``info["final_info"]`` their terminal info.
    """

    env: Any
    """The unwrapped vector env (e.g. ``step.env.envs[i]`` of a ``SyncVectorEnv``)."""
    num_envs: int
    """Number of sub-environments."""
    device: torch.device
    """Device of the metric values."""
    obs: Any = None
    """Batched observation after the step."""
    action: Any = None
    """Batched action of the step."""
    reward: np.ndarray | None = None
    """Rewards ``[num_envs]``."""
    terminated: np.ndarray | None = None
    """Terminations ``[num_envs]``."""
    truncated: np.ndarray | None = None
    """Truncations ``[num_envs]``."""
    info: dict[str, Any] = field(default_factory=dict)
    """The vector info dict of the step."""


class RecordEpisodeMetrics(VectorWrapper):
    """Evaluate metric terms on every step of a gymnasium vector env; log episode reductions.

    Each term is ``func(step: StepView, **params) -> array or tensor [num_envs]``, configured
    with the same :class:`~pat_env_metrics.MetricsTermCfg` as for Isaac Lab. On every step
    where at least one counted episode ended, ``info[info_key]`` holds
    ``{"Episode_Metrics/<name>[/<stat>]": 0-dim float32 tensor}``; on other steps the key is
    absent. The terminal transition counts and the reset transition does not, under every
    autoreset mode: with next-step autoreset, the step after an episode ended (which only
    resets that env) is left out; with same-step autoreset, terms see the terminal
    observation. Calling ``reset()`` ends the episodes in progress and reports them in the
    reset's info. Per-substep terms are evaluated once per step.

    Args:
        env: The vector env.
        metrics: Term name to term configuration; empty gives a pass-through wrapper.
        device: Device of the accumulators and the logged tensors.
        info_key: Info key of the logged values (``"log"`` is what skrl's
            ``environment_info: "log"`` and rsl_rl read).
        prefix: Key prefix of the logged values.
    """

    def __init__(
        self,
        env: VectorEnv,
        metrics: Mapping[str, MetricsTermCfg] | None,
        *,
        device: str | torch.device = "cpu",
        info_key: str = "log",
        prefix: str = "Episode_Metrics",
    ) -> None:
        super().__init__(env)
        self.autoreset_mode = AutoresetMode(
            env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        )
        self.info_key = info_key
        self.step_view = StepView(
            env=env.unwrapped, num_envs=env.num_envs, device=torch.device(device)
        )
        self.metrics_manager = make_metrics_manager(
            metrics, self.step_view, prefix=prefix, probe=False
        )
        self._active = not isinstance(self.metrics_manager, NullMetricsManager)
        # Next-step autoreset: the coming step of these envs is a reset transition.
        self._resetting = np.zeros(env.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env; episodes in progress end and are reported in the returned info."""
        # read the mask first: gymnasium's vector envs pop it from ``options``
        mask = None if options is None else options.get("reset_mask")
        obs, info = self.env.reset(seed=seed, options=options)
        if not self._active:
            return obs, info
        if mask is None:
            log = self.metrics_manager.reset(None)
            self._resetting[:] = False
        else:
            ids = np.flatnonzero(mask)
            log = self.metrics_manager.reset(ids.tolist())
            self._resetting[ids] = False
        return obs, self._with_log(info, log)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step the env, count the transition for every env in an episode, log ended episodes."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        if not self._active:
            return obs, reward, terminated, truncated, info
        done = np.logical_or(terminated, truncated)
        view = self.step_view
        view.obs = (
            self._terminal_obs(obs, info) if self.autoreset_mode is AutoresetMode.SAME_STEP else obs
        )
        view.action, view.reward, view.terminated, view.truncated, view.info = (
            actions,
            reward,
            terminated,
            truncated,
            info,
        )
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            counted = ~self._resetting
            mask = None if counted.all() else torch.as_tensor(counted, device=view.device)
            self.metrics_manager.compute(mask)
            ended = done & counted
            self._resetting = done
        else:
            self.metrics_manager.compute()
            ended = done
        if ended.any():
            info = self._with_log(info, self.metrics_manager.reset(np.flatnonzero(ended).tolist()))
        return obs, reward, terminated, truncated, info

    def _with_log(self, info: dict[str, Any], log: dict[str, torch.Tensor]) -> dict[str, Any]:
        if not log:
            return info
        info = dict(info)
        info[self.info_key] = {**info.get(self.info_key, {}), **log}
        return info

    def _terminal_obs(self, obs: Any, info: dict[str, Any]) -> Any:
        """The batched observation, with each ended env's final observation in place."""
        ended = info.get("_final_obs")
        if ended is None or not np.any(ended):
            return obs
        space = self.env.single_observation_space
        items = list(iterate(self.env.observation_space, obs))
        for i in np.flatnonzero(ended):
            items[i] = info["final_obs"][i]
        out: Any = create_empty_array(space, self.num_envs)
        return concatenate(space, items, out)
