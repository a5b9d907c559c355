"""Torch tensors: same answers as numpy, state kept on the tensor's device, no host sync."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from pat_core import QuantileSketch, Reducer, make_reducer, reducer_names

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

NAMES = (*reducer_names(), "p5", "p99.9")


def host_and_torch(name: str, values: np.ndarray, dtype: torch.dtype) -> tuple[Reducer, Reducer]:
    host, device = make_reducer(name), make_reducer(name)
    for chunk in np.array_split(values, 5):
        host.update(chunk.astype(np.float64))
        device.update(torch.from_numpy(chunk).to(dtype))
    return host, device


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
@pytest.mark.parametrize("name", NAMES)
def test_torch_cpu_tensors_give_the_same_results_as_numpy(name: str, dtype: torch.dtype) -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(2.0, 30.0, 500)
    if not dtype.is_floating_point:
        values = np.round(values)
    values = torch.from_numpy(values).to(dtype).double().numpy()  # what the tensor holds
    host, device = host_and_torch(name, values, dtype)
    assert device.count == host.count == values.size
    assert device.device == torch.device("cpu")
    assert host.device is None
    assert device.compute() == pytest.approx(host.compute(), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_state_stays_on_device_through_mixed_updates(name: str) -> None:
    reducer = make_reducer(name)
    reducer.update([1.0, 2.0])  # host first
    reducer.update(torch.tensor([[3.0], [4.0]]))  # moves to the tensor's device
    reducer.update(np.array([5.0]))  # host values follow the state
    reducer.update(6.0)
    reducer.update(torch.empty(0))  # no-op
    assert reducer.device == torch.device("cpu")
    assert reducer.count == 6
    reference = make_reducer(name)
    reference.update([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert reducer.compute() == pytest.approx(reference.compute(), rel=1e-12)


def test_tensors_requiring_grad_and_zero_dim_are_accepted() -> None:
    mean = make_reducer("mean")
    mean.update(torch.tensor(2.0, requires_grad=True))
    mean.update(torch.tensor([4.0], requires_grad=True) * 1.0)
    assert mean.compute() == 3.0


@pytest.mark.parametrize("name", NAMES)
def test_update_does_no_host_sync(
    name: str, no_host_sync: Callable[[], AbstractContextManager[None]]
) -> None:
    reducer, other = make_reducer(name), make_reducer(name)
    batches = [torch.randn(64), torch.randn(8, 8), torch.tensor(3.0), torch.tensor([math.nan])]
    with no_host_sync():
        for batch in batches:
            reducer.update(batch)
            other.update(batch * 2)
        reducer.update(np.array([1.0, 2.0]))  # host->device copies are allowed
        merged = reducer.merge(other)
    assert merged.count == 2 * (64 + 64 + 1 + 1) + 2
    assert merged.device == torch.device("cpu")


def test_sketch_update_does_no_host_sync(
    no_host_sync: Callable[[], AbstractContextManager[None]],
) -> None:
    sketch = QuantileSketch()
    with no_host_sync():
        sketch.update(torch.tensor([-1.0, 0.0, 2.0, math.inf, -math.inf]))
        sketch.update(torch.randn(100))
    assert sketch.quantile(0.0) == -math.inf


@pytest.mark.parametrize(
    "sync",
    [
        lambda t: t.sum().item(),
        lambda t: bool(t.any()),
        lambda t: float(t[0]),
        lambda t: t.tolist(),
        lambda t: t.cpu(),
        np.asarray,
    ],
)
def test_the_guard_catches_a_sync(
    sync: Callable[[torch.Tensor], object],
    no_host_sync: Callable[[], AbstractContextManager[None]],
) -> None:
    """The guard tests are meaningful: each way of reading a tensor on the host fails."""
    with no_host_sync(), pytest.raises(AssertionError, match="sync"):
        sync(torch.tensor([1.0, 2.0]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_update_does_not_synchronize(name: str) -> None:
    reducer = make_reducer(name)
    batch = torch.randn(1000, device="cuda")
    reducer.update(batch)  # first update allocates; not what is measured
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            reducer.update(batch)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    reducer.update(
        np.arange(4.0)
    )  # host->device copies block the host (allowed) and would trip the mode
    assert reducer.device == batch.device
    reference = make_reducer(name)
    reference.update(batch.cpu().numpy())
    assert reducer.count == 4 * reference.count + 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_state_follows_a_cuda_tensor_and_merges_there() -> None:
    reducer, host = make_reducer("var"), make_reducer("var")
    reducer.update(torch.tensor([1.0, 2.0]))
    reducer.update(torch.tensor([3.0], device="cuda"))
    host.update([4.0])
    assert reducer.device is not None
    assert reducer.device.type == "cuda"
    merged = host.merge(reducer)
    assert merged.device is not None
    assert merged.device.type == "cuda"
    assert merged.compute() == pytest.approx(np.var([1.0, 2.0, 3.0, 4.0]))


def test_import_pat_core_works_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import pat_core\n"
        "r = pat_core.make_reducer('p90'); r.update([1.0, 2.0, 3.0])\n"
        "m = pat_core.make_reducer('var'); m.update(range(10))\n"
        "print(abs(r.compute() - 2.0) <= 0.02, m.compute())\n"
        "try:\n"
        "    pat_core.EpisodeStack(['sum'], 2)\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "True 8.25"
    assert "pip install pat-core[torch]" in result.stdout


def test_import_pat_core_does_not_import_torch() -> None:
    code = "import sys, pat_core; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
