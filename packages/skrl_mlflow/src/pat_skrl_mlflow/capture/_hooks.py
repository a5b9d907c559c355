"""Wrap a skrl agent's step methods and swap its ``tracking_data``; undo it exactly.

The hooks are instance attributes, so the agent's class and every other instance stay
untouched, and :meth:`AgentHooks.remove` restores the agent as it was.

- ``record_transition``: sees ``infos`` just before the trainer copies env info.
- ``post_interaction(timestep=t)``: the end of trainer timestep ``t + 1`` as skrl's
  TensorBoard numbers it (after the update and before the next step).
- ``pre_interaction(timestep=t)``: the same boundary seen from the next step; needed
  because skrl's ``eval()`` calls the base class's ``post_interaction`` directly.
"""

from __future__ import annotations

import collections
import functools
import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["AgentHooks"]

_HOOKED = ("record_transition", "pre_interaction", "post_interaction")
_MISSING = object()


def _timestep_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int | None, int | None]:
    """``(timestep, timesteps)`` from skrl 2.x keywords or skrl 1.x positionals."""
    timestep = kwargs.get("timestep", args[0] if args else None)
    timesteps = kwargs.get("timesteps", args[1] if len(args) > 1 else None)
    return timestep, timesteps


class AgentHooks:
    """Install pat's hooks on one agent.

    Args:
        agent: A skrl agent or multi-agent.
        tracking_data: The dict to install as ``agent.tracking_data``.
        on_infos: Called with each step's ``infos``.
        on_boundary: Called as ``on_boundary(timestep, timesteps)`` where ``timestep``
            is the trainer timestep (1-based, as in TensorBoard) that just ended.
    """

    def __init__(
        self,
        agent: Any,
        *,
        tracking_data: dict[str, list[Any]],
        on_infos: Callable[[Any], None] | None,
        on_boundary: Callable[[int, int | None], None] | None,
    ) -> None:
        self.agent = agent
        self._saved: dict[str, Any] = {name: agent.__dict__.get(name, _MISSING) for name in _HOOKED}
        self._saved_tracking = agent.__dict__.get("tracking_data", _MISSING)
        self._installed = False
        self._record_params: list[str] | None = None
        self._tracking_data = tracking_data
        self._on_infos = on_infos
        self._on_boundary = on_boundary

    def install(self) -> None:
        """Swap ``tracking_data`` and wrap the step methods."""
        agent = self.agent
        agent.tracking_data = self._tracking_data
        if self._on_infos is not None:
            original = agent.record_transition
            agent.record_transition = self._wrap_record(original)
        if self._on_boundary is not None:
            agent.pre_interaction = self._wrap_step(agent.pre_interaction, offset=0)
            agent.post_interaction = self._wrap_step(agent.post_interaction, offset=1)
        self._installed = True

    def remove(self) -> None:
        """Restore the agent's methods and a plain ``defaultdict(list)`` with its data."""
        if not self._installed:
            return
        agent = self.agent
        for name, saved in self._saved.items():
            if saved is _MISSING:
                agent.__dict__.pop(name, None)
            else:
                setattr(agent, name, saved)
        current = agent.__dict__.get("tracking_data")
        plain: collections.defaultdict[str, list[Any]] = collections.defaultdict(list)
        if isinstance(current, dict):
            for tag, values in current.items():
                plain[tag] = list(values)
        agent.tracking_data = plain
        self._installed = False

    def _wrap_record(self, original: Callable[..., Any]) -> Callable[..., Any]:
        on_infos = self._on_infos
        assert on_infos is not None

        @functools.wraps(original)
        def record_transition(*args: Any, **kwargs: Any) -> Any:
            infos = kwargs.get("infos", _MISSING)
            if infos is _MISSING:
                infos = self._positional_infos(original, args, kwargs)
            on_infos(infos)
            return original(*args, **kwargs)

        return record_transition

    def _positional_infos(
        self, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return inspect.signature(original).bind(*args, **kwargs).arguments.get("infos")
        except TypeError:
            return None

    def _wrap_step(self, original: Callable[..., Any], *, offset: int) -> Callable[..., Any]:
        on_boundary = self._on_boundary
        assert on_boundary is not None

        # pre_interaction(t) closes step t before anything of step t + 1 is tracked;
        # post_interaction(t) closes step t + 1 after the update it ran.
        @functools.wraps(original)
        def step(*args: Any, **kwargs: Any) -> Any:
            timestep, timesteps = _timestep_args(args, kwargs)
            if offset == 0 and isinstance(timestep, int):
                on_boundary(timestep, timesteps)
            result = original(*args, **kwargs)
            if offset == 1 and isinstance(timestep, int):
                on_boundary(timestep + 1, timesteps)
            return result

        return step
