"""A short live rollout that records what a skrl agent tracks, without MLflow.

Every value appended to ``agent.tracking_data`` (the agent's own values, episode rewards and
lengths, the trainer's timings and the env info the trainer copies) is recorded; each tag gets
the MLflow key pat-skrl-mlflow gives it (its skrl aliases, then pat-core's generic mapping) and
the reduction it applies
within a window (``(min)`` -> min, ``(max)`` -> max, else mean). skrl's TensorBoard files and
checkpoints go to a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pat_cli._errors import fail

if TYPE_CHECKING:
    from pat_cli._setup import Prepared

MIN_ROLLOUT_TIMESTEPS = 300
"""Long enough for the first episodes of the shipped tasks (and Isaac-Cartpole) to end."""


@dataclass(frozen=True)
class TagRecord:
    """One tracked tag: its MLflow key, window reduction, how many values, the last one."""

    tag: str
    key: str
    reducer: str
    count: int
    last: float


def default_timesteps(cfg: dict[str, Any]) -> int:
    """Enough timesteps for one agent update and the first episode ends."""
    agent = cfg["agent"]
    needed = [MIN_ROLLOUT_TIMESTEPS]
    if isinstance(agent.get("rollouts"), int):
        needed.append(2 * agent["rollouts"])
    if isinstance(agent.get("learning_starts"), int):
        needed.append(agent["learning_starts"] + 2 * max(1, int(agent.get("gradient_steps", 1))))
    return max(needed)


def reducer_of(tag: str) -> str:
    """The reduction skrl's TensorBoard writer (and pat) applies to ``tag`` within a window."""
    if tag.endswith("(min)"):
        return "min"
    if tag.endswith("(max)"):
        return "max"
    return "mean"


def run_rollout(ready: Prepared, *, timesteps: int, seed: int | None) -> list[TagRecord]:
    """Train ``timesteps`` trainer steps; return one record per tracked tag, in first-seen order."""
    from pat_cli._training import cpu_threads, quiet_libraries

    quiet_libraries()  # first: importing skrl prints Warp's banner
    cpu_threads(ready.device)
    from skrl.utils.runner.torch import Runner

    from pat_cli._quiet import quiet_setup
    from pat_cli._setup import finish_cfg
    from pat_cli._train_env import EnvSpec, make_env
    from pat_core import MetricNameMapper
    from pat_skrl_mlflow import skrl_aliases

    counts: dict[str, int] = {}
    lasts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pat-rollout-") as directory:
        cfg = finish_cfg(ready.cfg, ready.choice, timesteps, seed, directory=directory)
        # skrl records rewards only with a positive write interval ("auto" is timesteps / 100,
        # which a short rollout rounds to 0); one TensorBoard write at the end is enough.
        cfg["agent"]["experiment"].update(checkpoint_interval=0, write_interval=timesteps)
        env = make_env(EnvSpec(ready.choice, ready.num_envs, ready.device, seed, ready.env_metrics))
        try:
            try:
                with quiet_setup():
                    runner = Runner(env, cfg)
            except Exception as error:
                fail(f"skrl could not build the agent from {ready.source}: {error}")
            runner.agent.tracking_data = _Recording(counts, lasts)
            runner.run()
            writer = getattr(runner.agent, "writer", None)
            if writer is not None:  # flush TensorBoard before its directory goes away
                writer.close()
        finally:
            env.close()
    mapper = MetricNameMapper(skrl_aliases())
    return [
        TagRecord(tag, mapper.key(tag), reducer_of(tag), counts[tag], lasts[tag]) for tag in counts
    ]


class _Recording(dict[str, list[Any]]):
    """``tracking_data`` that counts every append (skrl appends directly and clears it)."""

    def __init__(self, counts: dict[str, int], lasts: dict[str, float]) -> None:
        super().__init__()
        self._counts = counts
        self._lasts = lasts

    def __missing__(self, tag: str) -> list[Any]:
        values = _RecordingList(tag, self._counts, self._lasts)
        self[tag] = values
        return values


class _RecordingList(list[Any]):
    def __init__(self, tag: str, counts: dict[str, int], lasts: dict[str, float]) -> None:
        super().__init__()
        self._tag = tag
        self._counts = counts
        self._lasts = lasts

    def append(self, value: Any) -> None:
        self._counts[self._tag] = self._counts.get(self._tag, 0) + 1
        self._lasts[self._tag] = _number(value)
        super().append(value)


def _number(value: Any) -> float:
    try:
        if hasattr(value, "numel") and value.numel() != 1:
            return float(value.float().mean())
        return float(value)
    except (TypeError, ValueError):
        return math.nan
