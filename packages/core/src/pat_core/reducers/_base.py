"""The shared machinery of streaming statistics: dispatch, device placement, merge, copy.

Subclasses keep their scalar state in the attributes listed in ``_state_fields`` (moved
between devices by the base class) and implement three hooks, called with non-empty inputs:
``_update_batch`` (one flat batch), ``_merge_state`` (a non-empty peer on the same device)
and ``_reset_state``. The base class keeps the value count on the host (a tensor's size is
host metadata), so ``count`` never syncs a device.
"""

from __future__ import annotations

import abc
import copy
import math
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from pat_core.reducers._coerce import acc_dtype, as_batch, host_to_device, pick_device, to_state

if TYPE_CHECKING:
    import torch

    from pat_core.reducers._coerce import FloatArray


class Streaming(abc.ABC):
    """Base of everything that consumes value streams and merges (reducers and sketches)."""

    _state_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._device: torch.device | None = None
        self._count = 0
        self._reset_state()

    @property
    def count(self) -> int:
        """Number of values seen so far, NaN included."""
        return self._count

    @property
    def device(self) -> torch.device | None:
        """The torch device holding the state, or ``None`` while the state is on the host."""
        return self._device

    def update(self, values: object) -> None:
        """Add values to the stream.

        Args:
            values: A number, a sequence of numbers, a numpy array or a torch tensor of any
                shape (flattened). A tensor moves the state onto its device (unless the state
                already lives on an accelerator, then the tensor moves there); updating never
                copies device memory to the host.

        Raises:
            TypeError: When ``values`` cannot be read as numbers.
        """
        batch = as_batch(values)
        if isinstance(batch, np.ndarray):
            size = batch.size
            if size == 0:
                return
            if self._device is not None:
                batch = host_to_device(batch, self._device)
        else:
            size = batch.numel()
            if size == 0:
                return
            device = self._device
            if device is None or device.type == "cpu":  # state follows accelerators
                device = batch.device
            self._move_to(device)
            batch = batch.to(device=device, dtype=acc_dtype(device))
        self._update_batch(batch, size)
        self._count += size

    def merge(self, other: Self) -> Self:
        """Return a new instance holding the values of ``self`` followed by ``other``.

        Neither input changes. If either side lives on a torch device the result does too
        (an accelerator wins over the CPU).

        Raises:
            TypeError: When ``other`` is not of the same class.
            ValueError: When ``other`` has different parameters (ddof, q, accuracy).
        """
        if type(other) is not type(self):
            msg = f"cannot merge {type(self).__name__} with {type(other).__name__}"
            raise TypeError(msg)
        if other._params() != self._params():
            msg = f"cannot merge {self!r} with {other!r}: parameters differ"
            raise ValueError(msg)
        device = pick_device(self._device, other._device)
        if self._count == 0:
            return other._moved(device, fresh=True)
        result = self._moved(device, fresh=True)
        if other._count:
            result._merge_state(other._moved(device, fresh=False))
            result._count += other._count
        return result

    def reset(self) -> None:
        """Forget every value; the state stays on its device."""
        self._count = 0
        self._reset_state()

    def __copy__(self) -> Self:
        # A shallow copy would share mutable state (e.g. sketch buckets); copies are independent.
        return copy.deepcopy(self)

    def _params(self) -> dict[str, Any]:
        """Constructor parameters: shown in ``repr`` and required equal by ``merge``."""
        return {}

    def _moved(self, device: torch.device | None, *, fresh: bool) -> Self:
        """``self`` on ``device``: a new copy when ``fresh`` or when a move is needed."""
        if not fresh and device == self._device:
            return self
        result = copy.deepcopy(self)
        result._move_to(device)
        return result

    def _move_to(self, device: torch.device | None) -> None:
        if device == self._device:
            return
        for field in self._state_fields:
            value = getattr(self, field)
            if value is not None:
                setattr(self, field, to_state(value, device))
        self._device = device

    @abc.abstractmethod
    def _update_batch(self, batch: FloatArray | torch.Tensor, size: int) -> None:
        """Fold a non-empty flat batch of ``size`` values (on the state's device) in."""

    @abc.abstractmethod
    def _merge_state(self, other: Self) -> None:
        """Fold a non-empty peer on the same device into this non-empty state."""

    @abc.abstractmethod
    def _reset_state(self) -> None:
        """Set the state to empty."""


class Reducer(Streaming):
    """A streaming, mergeable statistic that reduces a stream of numbers to one float.

    Attributes:
        name: The registry name (``"mean"``, ``"std"``, ``"p90"``, ...).
    """

    name: str

    def compute(self) -> float:
        """The statistic of every value seen so far; NaN while empty (never 0 or ±inf)."""
        if self._count == 0:
            return math.nan
        return self._compute()

    @abc.abstractmethod
    def _compute(self) -> float:
        """The statistic of a non-empty state (may sync a device)."""

    def __repr__(self) -> str:
        parts = [f"{key}={value!r}" for key, value in self._params().items()]
        parts += [f"count={self._count}", f"value={self.compute()!r}"]
        if self._device is not None:
            parts.append(f"device='{self._device}'")
        return f"{type(self).__name__}({', '.join(parts)})"
