"""Shared fixtures of pat-core's tests."""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Every way a tensor's value reaches the host (and so waits for the device).
HOST_READS = (
    "item",
    "tolist",
    "cpu",
    "numpy",
    "__array__",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
)


def _refuse(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("device->host sync during update")


@pytest.fixture
def no_host_sync() -> Callable[[], AbstractContextManager[None]]:
    """A context manager factory: inside its block every tensor->host read raises."""
    import torch

    @contextmanager
    def guard() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            for method in HOST_READS:
                patch.setattr(torch.Tensor, method, _refuse)
            yield

    return guard
