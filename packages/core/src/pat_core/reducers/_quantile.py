"""The quantile reducer: one quantile of a :class:`QuantileSketch`, as a ``Reducer``."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from pat_core.reducers._base import Reducer
from pat_core.reducers._sketch import QuantileSketch

if TYPE_CHECKING:
    import torch

    from pat_core.reducers._coerce import FloatArray


def quantile_name(q: float) -> str:
    """Registry name of the ``q``-quantile: 0.9 -> ``"p90"``, 0.999 -> ``"p99.9"``."""
    return "p" + format(q * 100, ".12g")


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


class Quantile(Reducer):
    """The ``q``-quantile, estimated by a sketch within relative accuracy ``alpha``.

    The estimate ``v`` satisfies ``|v - x| <= relative_accuracy * |x|`` for
    ``x = numpy.quantile(values, q, method="lower")``; NaN if any value was NaN.

    Args:
        q: The quantile, ``0 <= q <= 1`` (``0.9`` for the 90th percentile, name ``"p90"``).
        relative_accuracy: The sketch's relative-error bound, in ``(0, 1)``.
    """

    def __init__(self, q: float, relative_accuracy: float = 0.01) -> None:
        if isinstance(q, bool | str) or not 0.0 <= _as_float(q) <= 1.0:
            msg = f"quantile q must be a number in [0, 1], got {q!r}"
            raise ValueError(msg)
        self.q = float(q)
        self.name = quantile_name(self.q)
        self._sketch = QuantileSketch(relative_accuracy)
        super().__init__()

    @property
    def relative_accuracy(self) -> float:
        """The sketch's relative-error bound."""
        return self._sketch.relative_accuracy

    @property
    def sketch(self) -> QuantileSketch:
        """A copy of the underlying sketch (for other quantiles or a histogram)."""
        return copy.deepcopy(self._sketch)

    def _params(self) -> dict[str, Any]:
        return {"q": self.q, "relative_accuracy": self.relative_accuracy}

    def _reset_state(self) -> None:
        self._sketch.reset()

    def _move_to(self, device: torch.device | None) -> None:
        self._sketch._move_to(device)
        self._device = self._sketch.device

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        self._sketch.update(batch)

    def _merge_state(self, other: Quantile) -> None:
        self._sketch = self._sketch.merge(other._sketch)

    def _compute(self) -> float:
        return self._sketch.quantile(self.q)
