"""A DDSketch-style quantile sketch: logarithmic buckets with a relative-error guarantee.

A positive value ``x`` falls in bucket ``k = ceil(log(x) / log(gamma))``, which covers
``(gamma**(k-1), gamma**k]`` with ``gamma = (1 + alpha) / (1 - alpha)``. Answering with the
bucket's representative ``2 * gamma**k / (gamma + 1)`` is off by at most a factor
``alpha`` (the relative accuracy) from any value in the bucket. Negative values use a
mirrored set of buckets on ``|x|``; exact zeros and ±inf have their own counters; NaN is
counted and makes every quantile NaN (the package's NaN policy).

Guarantee (Masson et al., "DDSketch", VLDB 2019): ``quantile(q)`` returns ``v`` with
``|v - x| <= alpha * |x|`` where ``x = numpy.quantile(values, q, method="lower")``, i.e.
the sorted value at index ``floor(q * (n - 1))``. The smallest and largest values are kept
exactly and returned for those two ranks; other estimates are clamped into ``[min, max]``,
so a constant stream is answered exactly.

Range: the host sketch covers every finite float64. A torch-backed sketch keeps a
fixed-size bucket tensor on its device (about ``176 / log(gamma)`` int64 counters, ~140 KB
at the default 1%) covering magnitudes in the float32 normal range ``[2**-126, 2**128)``,
so the bound holds for every normal float32. Outside it (float64 or subnormal inputs) it
does not: smaller non-zero magnitudes are counted in the lowest bucket (absolute error
below ``2**-126``) and larger ones in the highest (answered as about ``3.4e38``), except
for the exact minimum and maximum.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from pat_core.reducers._base import Streaming
from pat_core.reducers._coerce import FloatArray, Scalar, to_state
from pat_core.reducers._ops import batch_max, batch_min, maximum, minimum
from pat_core.reducers._sketch_store import DeviceStore, HostStore, IntArray

if TYPE_CHECKING:
    import torch
else:
    from pat_core.reducers._coerce import torch

_DEVICE_MIN_LOG = math.log(2.0**-126)
_DEVICE_MAX_LOG = 128 * math.log(2.0)


class _HostView(NamedTuple):
    nan: int
    ninf: int
    zero: int
    pinf: int
    low: float
    high: float
    neg: tuple[int, IntArray]
    pos: tuple[int, IntArray]


class QuantileSketch(Streaming):
    """Mergeable quantile sketch with relative accuracy ``alpha`` (see the module docstring).

    Args:
        relative_accuracy: ``alpha`` in ``(0, 1)``; answers are within a factor ``alpha`` of
            the true ``numpy.quantile(..., method="lower")`` value. Smaller means more buckets.

    Example:
        >>> sketch = QuantileSketch(0.01)
        >>> sketch.update(range(1, 101))
        >>> abs(sketch.quantile(0.5) - 50) <= 0.5
        True
    """

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            msg = f"relative_accuracy must be in (0, 1), got {relative_accuracy!r}"
            raise ValueError(msg)
        self._alpha = float(relative_accuracy)
        gamma = (1.0 + self._alpha) / (1.0 - self._alpha)
        self._log_gamma = math.log1p(2.0 * self._alpha / (1.0 - self._alpha))
        self._rep_factor = 2.0 / (gamma + 1.0)
        self._key_window = (
            math.ceil(_DEVICE_MIN_LOG / self._log_gamma),
            math.ceil(_DEVICE_MAX_LOG / self._log_gamma),
        )
        super().__init__()

    @property
    def relative_accuracy(self) -> float:
        """The relative-error bound ``alpha``."""
        return self._alpha

    def _params(self) -> dict[str, Any]:
        return {"relative_accuracy": self._alpha}

    def _new_store(self) -> HostStore | DeviceStore:
        if self._device is None:
            return HostStore()
        return DeviceStore(*self._key_window, self._device)

    def _reset_state(self) -> None:
        self._neg = self._new_store()
        self._pos = self._new_store()
        self._nan: int | torch.Tensor = 0
        self._ninf: int | torch.Tensor = 0
        self._zero: int | torch.Tensor = 0
        self._pinf: int | torch.Tensor = 0
        self._low: Scalar = math.inf
        self._high: Scalar = -math.inf

    def _move_to(self, device: torch.device | None) -> None:
        if device is None or device == self._device:
            return  # state only ever moves towards devices
        old = (self._neg, self._pos)
        self._device = device
        self._neg, self._pos = self._new_store(), self._new_store()
        for new_store, old_store in zip((self._neg, self._pos), old, strict=True):
            if isinstance(old_store, DeviceStore):
                cast("DeviceStore", new_store).add_store(old_store)
            else:
                new_store.add_counts(*old_store.dense())
        for field in ("_nan", "_ninf", "_zero", "_pinf"):
            setattr(self, field, torch.as_tensor(getattr(self, field), device=device))
        self._low, self._high = to_state(self._low, device), to_state(self._high, device)

    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        if isinstance(batch, np.ndarray):
            self._update_host(batch)
        else:
            self._update_device(batch)
        self._low = minimum(self._low, batch_min(batch))
        self._high = maximum(self._high, batch_max(batch))

    def _update_host(self, batch: FloatArray) -> None:
        self._nan += int(np.isnan(batch).sum())
        self._ninf += int((batch == -math.inf).sum())
        self._pinf += int((batch == math.inf).sum())
        self._zero += int((batch == 0).sum())
        regular = batch[np.isfinite(batch) & (batch != 0)]
        with np.errstate(all="ignore"):
            keys = np.ceil(np.log(np.abs(regular)) / self._log_gamma).astype(np.int64)
        positive = regular > 0
        cast("HostStore", self._pos).add_keys(keys[positive])
        cast("HostStore", self._neg).add_keys(keys[~positive])

    def _update_device(self, batch: torch.Tensor) -> None:
        # No boolean indexing: its output shape depends on the data and would sync the device.
        magnitude = batch.abs()
        regular = torch.isfinite(batch) & (magnitude > 0)
        safe = torch.where(regular, magnitude, torch.ones_like(magnitude))
        keys = torch.ceil(torch.log(safe) / self._log_gamma).clamp(*self._key_window)
        keys = keys.to(torch.int64)
        cast("DeviceStore", self._pos).add_keys(keys, (regular & (batch > 0)).to(torch.int64))
        cast("DeviceStore", self._neg).add_keys(keys, (regular & (batch < 0)).to(torch.int64))
        self._nan = self._nan + batch.isnan().sum()
        self._ninf = self._ninf + (batch == -math.inf).sum()
        self._pinf = self._pinf + (batch == math.inf).sum()
        self._zero = self._zero + (batch == 0).sum()

    def _merge_state(self, other: QuantileSketch) -> None:
        for mine, theirs in ((self._neg, other._neg), (self._pos, other._pos)):
            if isinstance(mine, DeviceStore) and isinstance(theirs, DeviceStore):
                mine.add_store(theirs)
            else:
                mine.add_counts(*theirs.dense())
        self._nan = self._nan + other._nan
        self._ninf = self._ninf + other._ninf
        self._zero = self._zero + other._zero
        self._pinf = self._pinf + other._pinf
        self._low = minimum(self._low, other._low)
        self._high = maximum(self._high, other._high)

    def _host_view(self) -> _HostView:
        return _HostView(
            nan=int(self._nan),
            ninf=int(self._ninf),
            zero=int(self._zero),
            pinf=int(self._pinf),
            low=float(self._low),
            high=float(self._high),
            neg=self._neg.dense(),
            pos=self._pos.dense(),
        )

    def _representatives(self, offset: int, size: int) -> FloatArray:
        keys = np.arange(offset, offset + size, dtype=np.float64)
        with np.errstate(over="ignore"):
            return np.exp(keys * self._log_gamma) * self._rep_factor

    def quantile(self, q: float) -> float:
        """Estimate the ``q``-quantile (``0 <= q <= 1``); NaN if empty or any value was NaN.

        Raises:
            ValueError: When ``q`` is outside ``[0, 1]``.
        """
        if not 0.0 <= q <= 1.0:
            msg = f"quantile q must be in [0, 1], got {q!r}"
            raise ValueError(msg)
        if self._count == 0:
            return math.nan
        view = self._host_view()
        if view.nan:
            return math.nan
        (neg_offset, neg_counts), (pos_offset, pos_counts) = view.neg, view.pos
        counts = np.concatenate(
            ([view.ninf], neg_counts[::-1], [view.zero], pos_counts, [view.pinf])
        )
        values = np.concatenate(
            (
                [-math.inf],
                -self._representatives(neg_offset, neg_counts.size)[::-1],
                [0.0],
                self._representatives(pos_offset, pos_counts.size),
                [math.inf],
            )
        )
        rank = math.floor((self._count - 1) * q)
        if rank == 0:
            return view.low
        if rank == self._count - 1:
            return view.high
        index = int(np.searchsorted(np.cumsum(counts), rank, side="right"))
        return float(np.clip(values[index], view.low, view.high))

    def histogram(self) -> tuple[FloatArray, IntArray]:
        """Export the finite values as a histogram in ``numpy.histogram``'s convention.

        Returns:
            ``(edges, counts)`` with ``len(edges) == len(counts) + 1`` and increasing edges,
            spanning the non-empty buckets: ``(gamma**(k-1), gamma**k]`` for positive values,
            mirrored for negative ones, and one bucket around 0 holding the exact zeros
            (``[0, 0]`` if there is nothing else). NaN and ±inf are left out, so
            ``counts.sum() == count - nan - infinities``. Both arrays are empty when there are
            no finite values.
        """
        view = self._host_view()
        edges: list[FloatArray] = []
        counts: list[IntArray] = []
        neg_edges, neg_counts = self._bucket_edges(*view.neg)
        pos_edges, pos_counts = self._bucket_edges(*view.pos)
        if neg_counts.size:
            edges.append(-neg_edges[::-1])
            counts.append(neg_counts[::-1])
        if view.zero or (neg_counts.size and pos_counts.size):
            low = edges[-1][-1:] if edges else np.zeros(1)
            high = pos_edges[:1] if pos_counts.size else np.zeros(1)
            edges.append(high if edges else np.concatenate((low, high)))
            counts.append(np.array([view.zero], dtype=np.int64))
        if pos_counts.size:
            edges.append(pos_edges[1:] if edges else pos_edges)
            counts.append(pos_counts)
        if not counts:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        return np.concatenate(edges), np.concatenate(counts)

    def _bucket_edges(self, offset: int, counts: IntArray) -> tuple[FloatArray, IntArray]:
        """Edges ``gamma**(k-1) .. gamma**k`` of the non-empty key range, and its counts."""
        nonzero = np.flatnonzero(counts)
        if nonzero.size == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        first, last = int(nonzero[0]), int(nonzero[-1])
        keys = np.arange(offset + first - 1, offset + last + 1, dtype=np.float64)
        with np.errstate(over="ignore"):
            return np.exp(keys * self._log_gamma), counts[first : last + 1].copy()

    def __repr__(self) -> str:
        device = f", device='{self._device}'" if self._device is not None else ""
        return f"QuantileSketch(relative_accuracy={self._alpha!r}, count={self._count}{device})"
