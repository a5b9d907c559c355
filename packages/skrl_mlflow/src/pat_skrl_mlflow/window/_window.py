"""Collect one logging window's values per tag and reduce them the way skrl does.

The primary statistic follows skrl's ``write_tracking_data``: tags ending in ``(min)``
are reduced with min, ``(max)`` with max, everything else with the mean. Multi-element
values become ``mean``, ``std``, ``min`` and ``max`` over all their elements in the
window. Extra statistics (``std``, ``p90``, ...) come from pat-core's reducers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pat_core import make_reducer
from pat_skrl_mlflow.capture import flatten_value, to_host_array

if TYPE_CHECKING:
    from collections.abc import Callable

    from pat_core import Reducer

__all__ = ["VECTOR_STATS", "Reduced", "WindowBuffer", "primary_stat"]

VECTOR_STATS = ("mean", "std", "min", "max")
"""Statistics logged for values with more than one element, as ``<key>/<stat>``."""


def primary_stat(tag: str) -> str:
    """The statistic skrl's TensorBoard writer uses for ``tag``."""
    if tag.endswith("(min)"):
        return "min"
    if tag.endswith("(max)"):
        return "max"
    return "mean"


@dataclass(frozen=True, slots=True)
class Reduced:
    """One reduced value of a window.

    Attributes:
        tag: The tracking tag (with ``/<key>`` parts for flattened mappings).
        stat: ``None`` for the tag's primary value, else the statistic's name; the value
            is logged as ``<key>/<stat>``.
        reducer: The pat-core reducer holding the window's values (mergeable: windows of
            several processes combine exactly through ``Reducer.merge``).
    """

    tag: str
    stat: str | None
    reducer: Reducer

    @property
    def value(self) -> float:
        """The reduced value."""
        return float(self.reducer.compute())


class WindowBuffer:
    """The values of one logging window, by tag.

    Args:
        flatten_depth: Levels of nested mappings flattened into ``<tag>/<key>``.
        extra_stats: ``tag -> statistics`` to add to the primary value.
        on_skip: Called as ``on_skip(tag, reason)`` for a value that is not numeric.
    """

    def __init__(
        self,
        *,
        flatten_depth: int,
        extra_stats: Callable[[str], tuple[str, ...]],
        on_skip: Callable[[str, str], None],
    ) -> None:
        self.flatten_depth = flatten_depth
        self._extra_stats = extra_stats
        self._on_skip = on_skip
        self._scalars: dict[str, list[Any]] = {}
        self._vectors: dict[str, list[Any]] = {}

    def add(self, tag: str, value: Any) -> None:
        """Add one tracked value of ``tag``."""
        if isinstance(value, float):  # the hot path: Python floats and numpy float64
            values = self._scalars.get(tag)
            if values is None:
                self._scalars[tag] = [value]
            else:
                values.append(value)
            return
        for sub_tag, kind, payload in flatten_value(tag, value, self.flatten_depth):
            if kind == "scalar":
                self._scalars.setdefault(sub_tag, []).append(payload)
            elif kind == "vector":
                self._vectors.setdefault(sub_tag, []).append(payload)
            else:
                self._on_skip(sub_tag, payload)

    def __len__(self) -> int:
        return len(self._scalars) + len(self._vectors)

    def tags(self) -> list[str]:
        """The tags with values in this window."""
        return [*self._scalars, *(t for t in self._vectors if t not in self._scalars)]

    def clear(self) -> None:
        """Forget every value."""
        self._scalars.clear()
        self._vectors.clear()

    def reduce(self) -> list[Reduced]:
        """Reduce every tag's values, then empty the window.

        A value that cannot be reduced (an int beyond float range, a ``meta`` or sparse
        tensor) is left out and reported through ``on_skip``; the tag's other values and
        every other tag are reduced as usual.
        """
        out: list[Reduced] = []
        try:
            for tag, payloads in self._scalars.items():
                values = self._host_values(tag, payloads)
                if values.size == 0:
                    continue
                out.append(Reduced(tag, None, _reducer(primary_stat(tag), values)))
                out.extend(
                    Reduced(tag, stat, _reducer(stat, values)) for stat in self._extra_stats(tag)
                )
            for tag, payloads in self._vectors.items():
                values = self._host_values(tag, payloads)
                if values.size == 0:
                    continue
                stats = dict.fromkeys((*VECTOR_STATS, *self._extra_stats(tag)))
                out.extend(Reduced(tag, stat, _reducer(stat, values)) for stat in stats)
        finally:
            self.clear()
        return out

    def _host_values(self, tag: str, payloads: list[Any]) -> np.ndarray:
        """``payloads`` as one host array; values that cannot be converted are skipped."""
        try:
            return to_host_array(payloads)
        except Exception:  # find the culprits one by one: the slow path, only on failure
            kept = []
            for item in payloads:
                try:
                    kept.append(to_host_array([item]))
                except Exception as exc:
                    self._on_skip(tag, f"a value that cannot be reduced ({_describe(item, exc)})")
            return np.concatenate(kept) if kept else np.empty(0, dtype=np.float64)


def _describe(item: Any, exc: Exception) -> str:
    kind = type(item).__name__
    layout = getattr(item, "layout", None)
    device = getattr(item, "device", None)
    if layout is not None and device is not None:
        kind = f"{kind} on {device}, {layout}"
    return f"{kind}: {type(exc).__name__}"


def _reducer(stat: str, values: Any) -> Reducer:
    reducer = make_reducer(stat)
    reducer.update(values)
    return reducer
