"""Bucket counters for the quantile sketch: one integer count per logarithmic bucket key.

``HostStore`` is a numpy array that grows to cover the keys it has seen (so the host sketch
covers the whole float64 range). ``DeviceStore`` is a fixed-size tensor on a torch device:
adding keys with ``scatter_add_`` needs no data-dependent shape, so no device sync; keys
outside its window are clamped to the nearest edge bucket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch
else:
    from pat_core.reducers._coerce import torch

IntArray: TypeAlias = npt.NDArray[np.int64]


class HostStore:
    """Counts for the keys ``offset .. offset + len(counts) - 1`` in a growing numpy array."""

    def __init__(self) -> None:
        self.offset = 0
        self.counts: IntArray = np.zeros(0, dtype=np.int64)

    def add_keys(self, keys: IntArray) -> None:
        """Count one value per entry of ``keys``."""
        if keys.size:
            low = int(keys.min())
            self.add_counts(low, np.bincount(keys - low).astype(np.int64))

    def add_counts(self, offset: int, counts: IntArray) -> None:
        """Add ``counts[i]`` to key ``offset + i``."""
        if counts.size == 0:
            return
        if self.counts.size == 0:
            self.offset, self.counts = offset, counts.astype(np.int64, copy=True)
            return
        low = min(self.offset, offset)
        high = max(self.offset + self.counts.size, offset + counts.size)
        if low != self.offset or high != self.offset + self.counts.size:
            grown = np.zeros(high - low, dtype=np.int64)
            grown[self.offset - low : self.offset - low + self.counts.size] = self.counts
            self.offset, self.counts = low, grown
        self.counts[offset - low : offset - low + counts.size] += counts

    def dense(self) -> tuple[int, IntArray]:
        """``(offset, counts)`` on the host."""
        return self.offset, self.counts


class DeviceStore:
    """Counts for the fixed keys ``low .. high`` in an int64 tensor on a torch device."""

    def __init__(self, low: int, high: int, device: torch.device) -> None:
        self.offset = low
        self.high = high
        self.counts: torch.Tensor = torch.zeros(high - low + 1, dtype=torch.int64, device=device)

    def add_keys(self, keys: torch.Tensor, weights: torch.Tensor) -> None:
        """Add ``weights[i]`` to key ``keys[i]`` (int64 keys already within the window)."""
        self.counts.scatter_add_(0, keys - self.offset, weights)

    def add_counts(self, offset: int, counts: IntArray) -> None:
        """Add host counts, clamping keys outside the window to its edge buckets."""
        if counts.size == 0:
            return
        keys = np.clip(np.arange(offset, offset + counts.size), self.offset, self.high)
        window = np.bincount(keys - self.offset, weights=counts, minlength=self.counts.numel())
        self.counts += torch.as_tensor(window.astype(np.int64), device=self.counts.device)

    def add_store(self, other: DeviceStore) -> None:
        """Add a store with the same window (device to device, no host copy)."""
        self.counts += other.counts.to(self.counts.device)

    def dense(self) -> tuple[int, IntArray]:
        """``(offset, counts)`` copied to the host (a device sync)."""
        counts: IntArray = self.counts.cpu().numpy()
        return self.offset, counts
