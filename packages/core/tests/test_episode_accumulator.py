"""EpisodeAccumulator: per-env counts, masks, pops, NaN for empty episodes, no host sync."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pat_core import EPISODE_REDUCES, EpisodeAccumulator

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

BRUTE_FORCE = {
    "mean": np.mean,
    "sum": np.sum,
    "min": np.min,
    "max": np.max,
    "last": lambda a: a[-1],
    "std": np.std,
}


def test_brute_force_table_covers_every_reduce_option() -> None:
    assert set(BRUTE_FORCE) == set(EPISODE_REDUCES)


@st.composite
def scripts(draw: st.DrawFn) -> tuple[int, list[tuple]]:
    num_envs = draw(st.integers(1, 5))
    value = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    update = st.tuples(
        st.just("update"),
        st.lists(value, min_size=num_envs, max_size=num_envs),
        st.none() | st.lists(st.booleans(), min_size=num_envs, max_size=num_envs),
    )
    pop = st.tuples(
        st.just("pop"),
        st.none() | st.lists(st.integers(0, num_envs - 1), unique=True, max_size=num_envs),
        st.sampled_from(["tensor", "list"]),
    )
    return num_envs, draw(st.lists(update | pop, max_size=12))


@pytest.mark.parametrize("reduce", EPISODE_REDUCES)
@settings(max_examples=40, deadline=None)
@given(script=scripts())
def test_every_reduce_matches_a_brute_force_per_env_recomputation(
    reduce: str, script: tuple[int, list[tuple]]
) -> None:
    num_envs, steps = script
    acc = EpisodeAccumulator(num_envs, reduce)
    episodes: list[list[float]] = [[] for _ in range(num_envs)]
    for step in [*steps, ("pop", None, "list")]:
        if step[0] == "update":
            _, values, mask = step
            acc.update(
                torch.tensor(values, dtype=torch.float32),
                None if mask is None else torch.tensor(mask),
            )
            for env, value in enumerate(torch.tensor(values, dtype=torch.float32).tolist()):
                if mask is None or mask[env]:
                    episodes[env].append(value)
            continue
        _, ids, kind = step
        ids_arg = (
            None
            if ids is None
            else (torch.tensor(ids, dtype=torch.int64) if kind == "tensor" else ids)
        )
        got_values, got_counts = acc.pop(ids_arg)
        envs = list(range(num_envs)) if ids is None else ids
        expected_counts = [len(episodes[env]) for env in envs]
        expected_values = [
            BRUTE_FORCE[reduce](np.array(episodes[env])) if episodes[env] else math.nan
            for env in envs
        ]
        assert got_values.dtype == torch.float32
        assert got_counts.dtype == torch.int64
        assert got_counts.tolist() == expected_counts
        np.testing.assert_allclose(
            got_values.numpy(), np.array(expected_values, dtype=np.float32), rtol=1e-5, atol=1e-4
        )
        for env in envs:
            episodes[env] = []


@pytest.mark.parametrize("reduce", EPISODE_REDUCES)
def test_zero_step_episodes_give_nan_and_count_zero(reduce: str) -> None:
    acc = EpisodeAccumulator(3, reduce)
    acc.update(torch.tensor([1.0, 2.0, 3.0]), mask=torch.tensor([True, False, True]))
    values, counts = acc.pop()
    assert counts.tolist() == [1, 0, 1]
    assert torch.isnan(values).tolist() == [False, True, False]
    values, counts = acc.pop()
    assert counts.tolist() == [0, 0, 0]
    assert torch.isnan(values).all()


def test_per_env_counts_masks_and_subset_pops() -> None:
    acc = EpisodeAccumulator(4, "mean")
    acc.update(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    acc.update(torch.tensor([3.0, 0.0, 5.0, 0.0]), mask=torch.tensor([True, False, True, False]))
    values, counts = acc.pop(torch.tensor([2, 0]))
    assert values.tolist() == [4.0, 2.0]
    assert counts.tolist() == [2, 2]
    values, counts = acc.pop([1])
    assert values.tolist() == [2.0]
    assert counts.tolist() == [1]
    acc.update(torch.tensor([10.0, 10.0, 10.0, 10.0]))
    values, counts = acc.pop(torch.tensor([True, True, False, True]))
    assert values.tolist() == [10.0, 10.0, 7.0]  # env 3 kept its unpopped step
    assert counts.tolist() == [1, 1, 2]
    values, counts = acc.pop(torch.tensor([], dtype=torch.int64))
    assert values.shape == counts.shape == (0,)


def test_nan_steps_propagate_and_last_keeps_the_last_step() -> None:
    mean, last = EpisodeAccumulator(2, "mean"), EpisodeAccumulator(2, "last")
    for acc in (mean, last):
        acc.update(torch.tensor([math.nan, 1.0]))
        acc.update(torch.tensor([2.0, math.nan]))
    assert torch.isnan(mean.pop()[0]).tolist() == [True, True]
    values, _ = last.pop()
    assert values[0].item() == 2.0
    assert math.isnan(values[1].item())


@pytest.mark.parametrize("reduce", EPISODE_REDUCES)
def test_device_and_dtypes_are_preserved(reduce: str) -> None:
    acc = EpisodeAccumulator(3, reduce, device=torch.device("cpu"))
    assert acc.device == torch.device("cpu")
    acc.update(torch.tensor([1, 2, 3], dtype=torch.int32))
    acc.update(torch.tensor([0.5, 0.25, 0.125], dtype=torch.float16), mask=torch.tensor([1, 0, 1]))
    values, counts = acc.pop()
    assert values.device == counts.device == acc.device
    assert values.dtype == torch.float32
    assert counts.tolist() == [2, 1, 2]


def test_last_does_not_alias_the_callers_tensor() -> None:
    acc = EpisodeAccumulator(2, "last")
    values = torch.tensor([1.0, 2.0], dtype=torch.float64)
    acc.update(values)
    values.fill_(-1.0)
    assert acc.pop()[0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("reduce", EPISODE_REDUCES)
def test_update_does_no_host_sync(
    reduce: str, no_host_sync: Callable[[], AbstractContextManager[None]]
) -> None:
    acc = EpisodeAccumulator(16, reduce)
    values, mask = torch.randn(16), torch.rand(16) > 0.5
    with no_host_sync():
        acc.update(values)
        acc.update(values * 2, mask=mask)
        acc.update(values.double(), mask=mask.to(torch.int64))
    _, counts = acc.pop()
    assert counts.tolist() == (1 + 2 * mask.to(torch.int64)).tolist()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("reduce", EPISODE_REDUCES)
def test_cuda_update_and_pop_by_id_tensor_do_not_synchronize(reduce: str) -> None:
    acc = EpisodeAccumulator(64, reduce, device="cuda")
    values, mask, ids = (
        torch.randn(64, device="cuda"),
        torch.rand(64, device="cuda") > 0.5,
        torch.arange(8, device="cuda"),
    )
    acc.update(values)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        acc.update(values, mask=mask)
        popped, counts = acc.pop(ids)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert popped.device == counts.device == acc.device
    assert counts.shape == (8,)


@pytest.mark.parametrize("num_envs", [0, -1, True, 2.5, "4"])
def test_num_envs_must_be_a_positive_integer(num_envs: object) -> None:
    with pytest.raises(ValueError, match="num_envs"):
        EpisodeAccumulator(num_envs)  # type: ignore[arg-type]


def test_unknown_reduce_names_the_valid_options() -> None:
    with pytest.raises(ValueError, match="unknown reduce 'median'") as info:
        EpisodeAccumulator(2, "median")
    for option in EPISODE_REDUCES:
        assert option in str(info.value)


@pytest.mark.parametrize("shape", [(3,), (2, 1), (), (2, 2)])
def test_wrong_shapes_are_rejected(shape: tuple[int, ...]) -> None:
    acc = EpisodeAccumulator(2)
    with pytest.raises(ValueError, match=r"values must have shape \[2\]"):
        acc.update(torch.zeros(shape))
    with pytest.raises(ValueError, match=r"mask must have shape \[2\]"):
        acc.update(torch.zeros(2), mask=torch.ones(shape, dtype=torch.bool))


def test_out_of_range_ids_in_a_sequence_raise_index_error() -> None:
    acc = EpisodeAccumulator(2)
    with pytest.raises(IndexError, match="out of range"):
        acc.pop([0, 2])
    with pytest.raises(IndexError, match="out of range"):
        acc.pop([-1])


def test_repr() -> None:
    assert (
        repr(EpisodeAccumulator(4, "max"))
        == "EpisodeAccumulator(num_envs=4, reduce='max', device='cpu')"
    )
