"""Minimum, maximum and last value.

NaN propagates through ``min``/``max`` as in ``numpy.min`` (the builtins would drop it);
``last`` returns the last value seen even when it is NaN. Merging ``a.merge(b)`` treats
``b``'s values as coming after ``a``'s, so ``last`` takes ``b``'s last value.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from pat_core.reducers._base import Reducer
from pat_core.reducers._ops import batch_last, batch_max, batch_min, maximum, minimum

if TYPE_CHECKING:
    import torch

    from pat_core.reducers._coerce import FloatArray, Scalar


class _Extremum(Reducer):
    _state_fields: ClassVar[tuple[str, ...]] = ("_value",)

    def _reset_state(self) -> None:
        self._value: Scalar = math.nan  # never read while empty: compute() checks the count

    def _compute(self) -> float:
        return float(self._value)


class Min(_Extremum):
    """Smallest value seen; NaN if any value was NaN."""

    name = "min"

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        low = batch_min(batch)
        self._value = low if self._count == 0 else minimum(self._value, low)

    def _merge_state(self, other: Min) -> None:
        self._value = minimum(self._value, other._value)


class Max(_Extremum):
    """Largest value seen; NaN if any value was NaN."""

    name = "max"

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        high = batch_max(batch)
        self._value = high if self._count == 0 else maximum(self._value, high)

    def _merge_state(self, other: Max) -> None:
        self._value = maximum(self._value, other._value)


class Last(_Extremum):
    """The most recent value (the last element of the last non-empty batch), even NaN."""

    name = "last"

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        self._value = batch_last(batch)

    def _merge_state(self, other: Last) -> None:
        self._value = other._value
