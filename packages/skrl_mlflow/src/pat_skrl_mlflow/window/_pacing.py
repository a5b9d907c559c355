"""When logging windows end, in trainer timesteps as skrl's TensorBoard numbers them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pat_core import IntervalPolicy, LogInterval
from pat_skrl_mlflow import _agent

__all__ = ["Pacer", "Step", "log_every"]

FALLBACK_EVERY = 10
"""``rollout`` for agents with neither rollouts nor a TensorBoard interval."""


def log_every(agent: Any, interval: LogInterval, timesteps: int | None) -> int:
    """Timesteps between the logging windows of ``agent`` training ``timesteps`` steps.

    ``rollout`` is the agent's ``rollouts`` for on-policy agents; for the others (SAC, TD3,
    DDPG, DQN, ...) skrl's TensorBoard ``write_interval`` as configured, else 10.
    """
    if interval.kind != "rollout":
        return interval.resolve()
    rollout = _agent.rollout_length(agent)
    if rollout is None:  # off-policy: follow skrl's TensorBoard cadence
        rollout = _agent.tensorboard_interval(agent, timesteps) or FALLBACK_EVERY
    return interval.resolve(rollout)


@dataclass(frozen=True)
class Step:
    """What a trainer step means for the logging windows.

    Attributes:
        restart_at: A new ``train()``/``eval()`` began (timesteps went back): close the
            running window at this step first.
        boundary: A window ends at this step.
        finished: The trainer's last timestep was reached.
    """

    restart_at: int | None
    boundary: int | None
    finished: bool


class Pacer:
    """Turn the timesteps seen by the hooks into window boundaries.

    Steps keep increasing across several ``train()`` calls (the later ones are offset by
    the steps before them), so MLflow histories never go back.

    Args:
        interval: The parsed log interval.
        step_offset: Added to every step (a resumed run continues after the steps it
            logged before); windows end on ``step_offset`` plus multiples of the interval.
    """

    def __init__(self, interval: LogInterval, step_offset: int = 0) -> None:
        if step_offset < 0:
            raise ValueError(f"step_offset must be >= 0, got {step_offset}")
        self.interval = interval
        self.step_offset = step_offset
        self.every: int | None = None
        self._policy: IntervalPolicy | None = None
        self._offset = step_offset
        self._finished = False
        self.last_timestep = step_offset
        self.last_emitted: int | None = None

    @property
    def started(self) -> bool:
        """Whether the first step was seen (and the interval resolved)."""
        return self._policy is not None

    def start(self, agent: Any, timesteps: int | None) -> None:
        """Resolve the interval: ``rollout`` needs the agent (and maybe ``timesteps``)."""
        self.every = log_every(agent, self.interval, timesteps)
        self._policy = IntervalPolicy(self.every)

    def advance(self, timestep: int, timesteps: int | None) -> Step:
        """Account for the trainer reaching ``timestep`` (1-based) of ``timesteps``."""
        assert self._policy is not None, "call start() first"
        restart_at = None
        if timestep + self._offset < self.last_timestep:
            restart_at = self.partial_step()
            self._offset = self.last_timestep
            self._finished = False
        step = timestep + self._offset
        self.last_timestep = max(self.last_timestep, step)
        boundary = None
        if self._policy.due(step - self.step_offset):
            boundary = (self._policy.last_boundary or step - self.step_offset) + self.step_offset
        finished = timesteps is not None and timestep >= timesteps and not self._finished
        self._finished = self._finished or finished
        return Step(restart_at, boundary, finished)

    def partial_step(self) -> int:
        """The step of a window closed between boundaries."""
        step = self.last_timestep
        if self.step_offset and step <= self.step_offset:
            step = self.step_offset + 1  # never on a step the resumed run already has
        if self.last_emitted is not None and step <= self.last_emitted:
            step = self.last_emitted + 1  # values tracked after the last boundary
        return step
