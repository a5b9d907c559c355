"""Sum, mean, count, variance and standard deviation.

Host state is accumulated in float64 (Python floats); torch-backed state is a 0-d tensor in
float64 on its device. Variance uses Welford's update generalised to batches and Chan et
al.'s pairwise merge: each batch contributes its own mean and sum of squared deviations
(computed in two passes), which then combine as
``M2 = M2_a + M2_b + delta**2 * n_a * n_b / n``. All of it runs on values shifted by the
first value seen (the "shifted data" algorithm), so a large common offset (1e9 plus tiny
noise) costs no digits: the naive ``E[x**2] - E[x]**2`` loses all of them, and plain
Welford loses several to the rounding of a running mean near 1e9.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from pat_core.reducers._base import Reducer
from pat_core.reducers._ops import batch_first, batch_moments, batch_sum, sqrt

if TYPE_CHECKING:
    import torch

    from pat_core.reducers._coerce import FloatArray, Scalar


class Sum(Reducer):
    """Sum of all values (IEEE: ``inf + -inf`` is NaN); NaN while empty, not 0."""

    name = "sum"
    _state_fields: ClassVar[tuple[str, ...]] = ("_total",)

    def _reset_state(self) -> None:
        self._total: Scalar = 0.0

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        self._total = self._total + batch_sum(batch)

    def _merge_state(self, other: Sum) -> None:
        self._total = self._total + other._total

    def _compute(self) -> float:
        return float(self._total)


class Mean(Sum):
    """Arithmetic mean: the float64 sum divided by the count."""

    name = "mean"

    def _compute(self) -> float:
        return float(self._total) / self._count


class Count(Reducer):
    """Number of values seen, NaN included; NaN (not 0) while empty, like every reducer."""

    name = "count"

    def _reset_state(self) -> None:
        pass  # the base class keeps the count

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        pass

    def _merge_state(self, other: Count) -> None:
        pass

    def _compute(self) -> float:
        return float(self._count)


class Var(Reducer):
    """Variance, ``sum((x - mean)**2) / (count - ddof)``.

    Args:
        ddof: Delta degrees of freedom, as in ``numpy.var``: 0 (default) gives the
            population variance, 1 the unbiased sample variance. NaN while
            ``count <= ddof``.
    """

    name = "var"
    _state_fields: ClassVar[tuple[str, ...]] = ("_shift", "_mean", "_m2")

    def __init__(self, ddof: int = 0) -> None:
        if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
            msg = f"ddof must be a non-negative integer, got {ddof!r}"
            raise ValueError(msg)
        self.ddof = ddof
        super().__init__()

    def _params(self) -> dict[str, Any]:
        return {"ddof": self.ddof}

    def _reset_state(self) -> None:
        self._shift: Scalar = 0.0  # the first value seen; means are of ``x - shift``
        self._mean: Scalar = 0.0
        self._m2: Scalar = 0.0

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        if self._count == 0:
            self._shift = batch_first(batch)
        mean, m2 = batch_moments(batch, self._shift)
        self._combine(size, mean, m2)

    def _merge_state(self, other: Var) -> None:
        # Re-express the other side's mean relative to this shift (shifts differ exactly).
        self._combine(other._count, (other._shift - self._shift) + other._mean, other._m2)

    def _combine(self, n_b: int, mean_b: Scalar, m2_b: Scalar) -> None:
        n_a = self._count
        if n_a == 0:
            # Not folded into the formula: delta**2 * 0 would turn a huge but finite mean into NaN.
            self._mean, self._m2 = mean_b, m2_b
            return
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + delta * delta * (n_a * n_b / n)

    def _compute(self) -> float:
        dof = self._count - self.ddof
        if dof <= 0:
            return math.nan
        return float(self._m2) / dof


class Std(Var):
    """Standard deviation, the square root of :class:`Var` (same ``ddof`` convention)."""

    name = "std"

    def _compute(self) -> float:
        return sqrt(super()._compute())
