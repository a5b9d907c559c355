"""Turn reducer inputs into flat float64 batches and move reducer state between devices.

Host inputs (Python numbers, sequences, numpy arrays and scalars) become 1-D ``float64``
numpy arrays. Torch tensors stay torch tensors on their own device, flattened and cast to
the accumulation dtype; nothing here copies device memory to the host.

torch is optional: ``is_tensor`` looks it up in ``sys.modules`` (a value can only be a tensor
if torch is already loaded), and the module-level ``torch`` seen by the other modules is a
stand-in that imports the real one on first use (type checkers see the real module).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

import numpy as np
import numpy.typing as npt


class _LazyModule:
    """Stands in for an optional module and imports it on first attribute access."""

    def __init__(self, name: str, hint: str) -> None:
        self._name = name
        self._hint = hint

    def __getattr__(self, attribute: str) -> Any:
        try:
            module = importlib.import_module(self._name)
        except ImportError as error:  # pragma: no cover - the test environment has torch
            raise ImportError(self._hint) from error
        value = getattr(module, attribute)
        setattr(self, attribute, value)  # later lookups skip __getattr__
        return value


if TYPE_CHECKING:
    import torch
else:
    torch = _LazyModule("torch", "this needs torch; install it with `pip install pat-core[torch]`")

FloatArray: TypeAlias = npt.NDArray[np.float64]
Scalar: TypeAlias = "float | torch.Tensor"
"""A scalar piece of state: a Python float on the host, a 0-d tensor on a device."""


def is_tensor(value: object) -> TypeGuard[torch.Tensor]:
    """Whether ``value`` is a ``torch.Tensor``, without importing torch."""
    torch_module = sys.modules.get("torch")
    return torch_module is not None and isinstance(value, torch_module.Tensor)


def acc_dtype(device: torch.device) -> torch.dtype:
    """The accumulation dtype on ``device``: float64, except on MPS, which lacks it."""
    return torch.float32 if device.type == "mps" else torch.float64


def as_batch(values: object) -> FloatArray | torch.Tensor:
    """Flatten ``values`` into a 1-D batch: a float64 numpy array or a tensor on its device.

    Args:
        values: A number, a (nested) sequence of numbers, a numpy array or a torch tensor.

    Returns:
        A 1-D numpy float64 array for host inputs; for tensors, a 1-D tensor on the input's
        device in the accumulation dtype (see :func:`acc_dtype`).

    Raises:
        TypeError: When ``values`` cannot be read as numbers.
    """
    if is_tensor(values):
        return values.detach().reshape(-1).to(dtype=acc_dtype(values.device))
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        msg = (
            "expected a number, a sequence of numbers, a numpy array or a torch tensor, "
            f"got {type(values).__name__}: {values!r:.80}"
        )
        raise TypeError(msg) from error


def pick_device(a: torch.device | None, b: torch.device | None) -> torch.device | None:
    """The device a combination of two states lives on (``None`` means host).

    State moves towards accelerators and never back: host with any device gives that
    device; CPU tensors with an accelerator give the accelerator; otherwise ``a`` wins.
    """
    if a is None:
        return b
    if b is None or a.type != "cpu":
        return a
    return b


def to_state(value: Scalar, device: torch.device | None) -> Scalar:
    """Place a scalar state on ``device`` (host->device copies only, never the reverse)."""
    if device is None:
        return value
    if is_tensor(value):
        return value.to(device=device)
    return torch.tensor(value, dtype=acc_dtype(device), device=device)


def host_to_device(batch: FloatArray, device: torch.device) -> torch.Tensor:
    """Copy a host batch onto ``device`` in the accumulation dtype (host->device only)."""
    return torch.as_tensor(batch, dtype=acc_dtype(device), device=device)
