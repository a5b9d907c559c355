"""Count environment-side log values once per refresh, not once per step.

skrl's trainers copy every 1-element tensor in ``infos[environment_info]`` into
``tracking_data`` on every step (2.x as ``<name>`` when the name has a ``/``, else
``Info / <name>``; 1.x always ``Info / <name>``). Isaac Lab rebuilds ``extras["log"]``
only on steps where environments reset and keeps the old dict otherwise, so most of
those copies are stale repeats. :class:`EnvInfoGate` looks at ``infos`` in
``record_transition`` (which the trainers call right before copying) and lets a value
through only when its dict is a new object or holds new value objects.

The dicts present at the first step observed are a baseline, not a refresh: Isaac Lab
builds ``extras["log"]`` in ``env.reset()`` (zeros, for episodes of no length) and hands
the same dict to the first step unless an environment resets in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["EnvInfoGate"]


class _Source:
    __slots__ = ("fresh", "last", "tags", "values")

    def __init__(self) -> None:
        self.last: Any = None  # strong reference: an id can't be reused while we hold it
        self.values: tuple[Any, ...] = ()
        self.tags: frozenset[str] = frozenset()
        self.fresh = False


class EnvInfoGate:
    """Decide per step whether environment-info tags carry a new value.

    Args:
        keys: The ``infos`` entries the trainer copies (its ``environment_info``).
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self._sources = {key: _Source() for key in self.keys}
        self._stale: set[str] = set()
        self._first = True
        self.refreshes = 0
        self.stale_values = 0

    def observe(self, infos: Any) -> None:
        """Look at one step's ``infos`` (call before the trainer copies from it)."""
        if not isinstance(infos, Mapping):
            return
        stale: set[str] = set()
        for key, source in self._sources.items():
            log = infos.get(key)
            if not isinstance(log, Mapping):
                source.last = None
                continue
            values = tuple(log.values())
            fresh = not self._first and (
                log is not source.last
                or len(values) != len(source.values)
                or any(a is not b for a, b in zip(values, source.values, strict=False))
            )
            if log is not source.last or len(values) != len(source.values):
                source.tags = frozenset(t for name in log for t in (str(name), f"Info / {name}"))
            source.last, source.values, source.fresh = log, values, fresh
            if fresh:
                self.refreshes += 1
            else:
                stale |= source.tags
        self._stale = stale
        self._first = False

    def allows(self, tag: str) -> bool:
        """Whether a value tracked under ``tag`` right now should be counted."""
        if tag in self._stale:
            self.stale_values += 1
            return False
        return True
