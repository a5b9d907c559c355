"""Batch reductions and scalar combinations that work on host floats and device tensors alike.

Host batches are float64 numpy arrays and reduce to Python floats; device batches are
tensors and reduce to 0-d tensors on their device (no host copy). numpy's floating-point
warnings are silenced: NaN and ±inf are data here and follow IEEE arithmetic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pat_core.reducers._coerce import is_tensor

if TYPE_CHECKING:
    import torch

    from pat_core.reducers._coerce import FloatArray, Scalar
else:
    from pat_core.reducers._coerce import torch


def batch_sum(batch: FloatArray | torch.Tensor) -> Scalar:
    """Sum of a non-empty batch (numpy uses pairwise summation)."""
    if is_tensor(batch):
        return batch.sum()
    with np.errstate(all="ignore"):
        return float(np.sum(batch))


def batch_moments(batch: FloatArray | torch.Tensor, shift: Scalar) -> tuple[Scalar, Scalar]:
    """Mean of ``batch - shift`` and the sum of squared deviations from it (two passes)."""
    if is_tensor(batch):
        shifted = batch - shift
        mean = shifted.mean()
        return mean, (shifted - mean).square().sum()
    with np.errstate(all="ignore"):
        host_shifted = batch - shift
        host_mean = float(np.mean(host_shifted))
        return host_mean, float(np.sum(np.square(host_shifted - host_mean)))


def batch_min(batch: FloatArray | torch.Tensor) -> Scalar:
    """Smallest value of a non-empty batch; NaN if any value is NaN."""
    if is_tensor(batch):
        return batch.amin()
    return float(np.min(batch))


def batch_max(batch: FloatArray | torch.Tensor) -> Scalar:
    """Largest value of a non-empty batch; NaN if any value is NaN."""
    if is_tensor(batch):
        return batch.amax()
    return float(np.max(batch))


def batch_first(batch: FloatArray | torch.Tensor) -> Scalar:
    """First value of a non-empty batch (a copy, so the batch can be freed)."""
    if is_tensor(batch):
        return batch[0].clone()
    return float(batch[0])


def batch_last(batch: FloatArray | torch.Tensor) -> Scalar:
    """Last value of a non-empty batch (a copy, so the batch can be freed)."""
    if is_tensor(batch):
        return batch[-1].clone()
    return float(batch[-1])


def minimum(a: Scalar, b: Scalar) -> Scalar:
    """Element-wise minimum that propagates NaN (unlike the builtin ``min``)."""
    if is_tensor(a) or is_tensor(b):
        return torch.minimum(torch.as_tensor(a), torch.as_tensor(b))
    return float(np.minimum(a, b))


def maximum(a: Scalar, b: Scalar) -> Scalar:
    """Element-wise maximum that propagates NaN (unlike the builtin ``max``)."""
    if is_tensor(a) or is_tensor(b):
        return torch.maximum(torch.as_tensor(a), torch.as_tensor(b))
    return float(np.maximum(a, b))


def sqrt(value: float) -> float:
    """Square root that returns NaN for NaN input (``math.sqrt`` of a negative raises)."""
    with np.errstate(all="ignore"):
        return float(np.sqrt(value))
