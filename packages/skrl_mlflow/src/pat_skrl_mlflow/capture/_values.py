"""Classify tracked values: scalars, multi-element arrays, nested dicts, or unusable.

skrl tracks Python floats and numpy scalars; user code and environments also track
tensors, arrays, lists and nested dicts. Tensors stay where they are (no device-to-host
copy per value); they are moved to the host once per logging window.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np

__all__ = ["Flat", "flatten_value", "to_host_array"]

Kind = Literal["scalar", "vector", "skip"]
Flat = tuple[str, Kind, Any]
"""``(tag, kind, payload)``: payload is a float, a 1-element or multi-element tensor or
array, or (for ``skip``) the reason as text."""


def _torch_tensor_type() -> type | None:
    # A value can only be a tensor once torch is imported; never import it here.
    torch = sys.modules.get("torch")
    return None if torch is None else torch.Tensor


def flatten_value(tag: str, value: Any, max_depth: int) -> Iterator[Flat]:
    """Yield the metric streams hidden in one tracked value.

    Args:
        tag: The tracking tag of ``value``.
        value: A number, tensor, array, sequence of numbers or (nested) mapping.
        max_depth: How many levels of nested mappings are flattened into
            ``<tag>/<key>``; deeper levels are skipped.

    Yields:
        ``(tag, kind, payload)`` per stream.
    """
    if isinstance(value, Mapping):
        if max_depth <= 0:
            yield tag, "skip", "a nested mapping deeper than flatten_depth"
            return
        for sub, item in value.items():
            yield from flatten_value(f"{tag}/{sub}", item, max_depth - 1)
        return
    yield _classify(tag, value)


def _classify(tag: str, value: Any) -> Flat:
    if isinstance(value, numbers.Real):  # floats, ints, bools, numpy scalars
        return tag, "scalar", value
    tensor_type = _torch_tensor_type()
    if tensor_type is not None and isinstance(value, tensor_type):
        return _classify_tensor(tag, value)
    if isinstance(value, np.ndarray | list | tuple):
        return _classify_array(tag, value)
    return tag, "skip", f"a value of type {type(value).__name__}"


def _classify_tensor(tag: str, value: Any) -> Flat:
    if value.is_complex():
        return tag, "skip", f"a tensor of dtype {value.dtype}"
    size = value.numel()
    if size == 0:
        return tag, "skip", "an empty tensor"
    return tag, ("scalar" if size == 1 else "vector"), value.detach()


def _classify_array(tag: str, value: Any) -> Flat:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        try:  # ragged nested lists: every number, whatever the nesting
            array = np.fromiter(_numbers_in(value), dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return tag, "skip", f"a {type(value).__name__} that is not numeric"
    if array.size == 0:
        return tag, "skip", f"an empty {type(value).__name__}"
    if array.size == 1:
        return tag, "scalar", float(array.reshape(()))
    return tag, "vector", array


def _numbers_in(value: Any) -> Iterator[float]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _numbers_in(item)
    elif isinstance(value, np.ndarray):
        yield from value.astype(np.float64).reshape(-1)
    elif isinstance(value, numbers.Real):
        yield float(value)
    else:
        raise TypeError(f"not a number: {type(value).__name__}")


def to_host_array(payloads: list[Any]) -> np.ndarray:
    """Concatenate floats, tensors and arrays into one flat float64 host array.

    Tensors are concatenated on their device first so each window costs one copy per
    device, not one per value.
    """
    numbers_: list[float] = []
    arrays: list[np.ndarray] = []
    tensors: dict[Any, list[Any]] = {}
    tensor_type = _torch_tensor_type()
    for item in payloads:
        if tensor_type is not None and isinstance(item, tensor_type):
            tensors.setdefault(item.device, []).append(item.reshape(-1))  # type: ignore[attr-defined]
        elif isinstance(item, np.ndarray):
            arrays.append(item.reshape(-1))
        else:
            numbers_.append(item)
    parts = [np.asarray(numbers_, dtype=np.float64)] if numbers_ else []
    parts.extend(arrays)
    if tensors:
        torch = sys.modules["torch"]  # tensors were seen, so torch is imported
        for group in tensors.values():
            joined = torch.cat([t.to(torch.float64) for t in group])
            parts.append(joined.cpu().numpy())
    if not parts:
        return np.empty(0, dtype=np.float64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
