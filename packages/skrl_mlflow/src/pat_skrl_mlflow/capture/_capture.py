"""See every value a skrl agent tracks, however it is tracked, exactly once.

skrl agents and trainers append to ``agent.tracking_data[tag]`` (a
``defaultdict(list)``) directly and through ``track_data``, and skrl's
``write_tracking_data`` clears the dict at every TensorBoard write. Replacing the dict
with :class:`CapturingDict` (a ``defaultdict`` whose lists report each append) sees
every value at the moment it is tracked, whatever skrl's ``write_interval`` is, while
skrl reads and clears the lists exactly as before, so its TensorBoard output is
unchanged.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any, SupportsIndex

__all__ = ["CapturingDict", "CapturingList", "DiscardingDict"]

OnValue = Callable[[str, Any], None]


class CapturingList(list[Any]):
    """A list that reports every value appended to it.

    Args:
        tag: The tracking tag the list belongs to.
        on_value: Called as ``on_value(tag, value)`` for every appended value.
        retain: Called without arguments per append; when it returns False only the
            latest value is kept (skrl's TensorBoard writer is off, so skrl never clears
            the list; its checkpoint logic still reads the latest episode reward).
    """

    __slots__ = ("_on_value", "_retain", "tag")

    def __init__(self, tag: str, on_value: OnValue, retain: Callable[[], bool]) -> None:
        super().__init__()
        self.tag = tag
        self._on_value = on_value
        self._retain = retain

    def append(self, value: Any) -> None:
        """Keep ``value`` for skrl and report it."""
        if not self._retain() and self:
            del self[:-1]
            self[0] = value
        else:
            super().append(value)
        self._on_value(self.tag, value)

    def extend(self, values: Iterable[Any]) -> None:
        """Append each of ``values``."""
        for value in values:
            self.append(value)

    def insert(self, index: SupportsIndex, value: Any) -> None:
        """Insert ``value`` for skrl and report it."""
        if self._retain():
            super().insert(index, value)
        else:
            self[:] = [value]
        self._on_value(self.tag, value)

    def __iadd__(self, values: Iterable[Any]) -> CapturingList:  # type: ignore[misc]
        self.extend(values)
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (e.g. deep-copied) as a plain list
        return (list, (list(self),))


class CapturingDict(collections.defaultdict[str, list[Any]]):
    """``agent.tracking_data`` replacement whose lists are :class:`CapturingList`.

    Args:
        on_value: Called as ``on_value(tag, value)`` for every tracked value.
        retain: See :class:`CapturingList`.
        existing: The agent's previous ``tracking_data``; its values are kept for skrl
            (not reported: they were tracked before capture started).
    """

    def __init__(
        self,
        on_value: OnValue,
        retain: Callable[[], bool],
        existing: dict[str, list[Any]] | None = None,
    ) -> None:
        super().__init__()
        self._on_value = on_value
        self._retain = retain
        for tag, values in (existing or {}).items():
            captured = self[tag]
            list.extend(captured, values)

    def __missing__(self, tag: str) -> list[Any]:
        values = CapturingList(tag, self._on_value, self._retain)
        self[tag] = values
        return values

    def __reduce__(self) -> tuple[Any, ...]:  # pickled as skrl's own defaultdict(list)
        return (collections.defaultdict, (list, {k: list(v) for k, v in self.items()}))

    def __copy__(self) -> collections.defaultdict[str, list[Any]]:  # type: ignore[override]
        return collections.defaultdict(list, {k: list(v) for k, v in self.items()})


class _DiscardingList(list[Any]):
    __slots__ = ()

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Iterable[Any]) -> None:
        pass

    def insert(self, index: SupportsIndex, value: Any) -> None:
        pass

    def __iadd__(self, values: Iterable[Any]) -> _DiscardingList:  # type: ignore[misc]
        return self


class DiscardingDict(collections.defaultdict[str, list[Any]]):
    """``tracking_data`` for a process that never writes it (distributed ranks > 0).

    skrl sets ``write_interval = 0`` on ranks > 0 and then never clears
    ``tracking_data``, so it grows for the whole run; here every append is dropped and
    no key is ever stored (a TensorBoard write, if any, finds nothing to reduce).
    """

    def __init__(self) -> None:
        super().__init__(_DiscardingList)

    def __missing__(self, tag: str) -> list[Any]:
        return _DiscardingList()
