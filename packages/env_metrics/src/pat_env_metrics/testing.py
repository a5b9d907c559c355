"""Test helpers for metric terms: check that a block of code never waits for the device.

Example:
    >>> with forbid_host_sync():
    ...     manager.compute()  # raises HostSyncError if a term calls .item(), bool(t), ...
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_GUARDED = (
    "item",
    "tolist",
    "cpu",
    "numpy",
    "nonzero",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "__array__",
)
_MISSING = object()


class HostSyncError(RuntimeError):
    """A tensor was read on the host inside :func:`forbid_host_sync`."""


@contextlib.contextmanager
def forbid_host_sync() -> Iterator[None]:
    """Raise :class:`HostSyncError` on any tensor-to-host read inside the block.

    Guards ``Tensor.item/tolist/cpu/numpy/nonzero``, ``torch.nonzero`` and the conversions
    ``bool()``, ``float()``, ``int()``, indexing with a tensor scalar and ``np.asarray``: on
    a GPU each of these waits for the device, and ``bool(t)`` is what Python branching on a
    tensor value does. On CUDA, torch's own sync debug mode is set to ``"error"`` as well.
    Works on CPU, where nothing would otherwise show the problem. Not thread-safe: it patches
    ``torch.Tensor`` for the duration of the block.
    """
    saved = {name: torch.Tensor.__dict__.get(name, _MISSING) for name in _GUARDED}
    saved_nonzero = torch.nonzero
    cuda_mode = torch.cuda.get_sync_debug_mode() if torch.cuda.is_initialized() else None  # type: ignore[no-untyped-call]
    try:
        for name in _GUARDED:
            setattr(torch.Tensor, name, _raiser(f"Tensor.{name}"))
        torch.nonzero = _raiser("torch.nonzero")
        if cuda_mode is not None:
            torch.cuda.set_sync_debug_mode("error")
        yield
    finally:
        for name, original in saved.items():
            if original is _MISSING:
                delattr(torch.Tensor, name)
            else:
                setattr(torch.Tensor, name, original)
        torch.nonzero = saved_nonzero
        if cuda_mode is not None:
            torch.cuda.set_sync_debug_mode(cuda_mode)


def _raiser(what: str) -> Callable[..., Any]:
    def guarded(*_args: Any, **_kwargs: Any) -> Any:
        msg = f"{what} reads a tensor on the host (a host-device sync) inside forbid_host_sync()"
        raise HostSyncError(msg)

    return guarded
