"""EpisodeStack and EpisodeStats: the one episode engine, checked against numpy."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pat_core import EPISODE_REDUCES, EPISODE_STATS, EpisodeStack, EpisodeStats, percentile_q

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

BRUTE_FORCE: dict[str, Callable[[np.ndarray], float]] = {
    "mean": np.mean,
    "sum": np.sum,
    "min": np.min,
    "max": np.max,
    "last": lambda a: a[-1],
    "std": np.std,
}


def test_brute_force_table_covers_every_reduce_option() -> None:
    assert set(BRUTE_FORCE) == set(EPISODE_REDUCES)


def _write(stack: EpisodeStack, values: list[list[float]]) -> None:
    for row, term_values in zip(stack.step_rows, values, strict=True):
        row.copy_(torch.tensor(term_values, dtype=torch.float64))


def _episodes_of(stack: EpisodeStack, popped: torch.Tensor) -> list[list[float]]:
    """``[term][env]`` episode values from :meth:`EpisodeStack.pop`'s result."""
    return [popped[row].tolist() for row in stack.result_row_of_term]


@st.composite
def scripts(draw: st.DrawFn) -> tuple[list[str], int, list[tuple]]:
    reduces = draw(st.lists(st.sampled_from(EPISODE_REDUCES), min_size=1, max_size=7))
    num_envs = draw(st.integers(1, 5))
    value = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    fold = st.tuples(
        st.just("fold"),
        st.lists(
            st.lists(value, min_size=num_envs, max_size=num_envs),
            min_size=len(reduces),
            max_size=len(reduces),
        ),
        st.none() | st.lists(st.booleans(), min_size=num_envs, max_size=num_envs),
    )
    pop = st.tuples(
        st.just("pop"),
        st.none() | st.lists(st.integers(0, num_envs - 1), unique=True, max_size=num_envs),
    )
    return reduces, num_envs, draw(st.lists(fold | pop, max_size=14))


@settings(max_examples=150, deadline=None)
@given(script=scripts())
def test_every_term_matches_a_brute_force_per_env_recomputation(
    script: tuple[list[str], int, list[tuple]],
) -> None:
    reduces, num_envs, steps = script
    stack = EpisodeStack(reduces, num_envs)
    # steps[term][env]: the counted steps of each env's current episode, per term
    steps_of: list[list[list[float]]] = [[[] for _ in range(num_envs)] for _ in reduces]
    for step in [*steps, ("pop", None)]:
        if step[0] == "fold":
            _, values, mask = step
            _write(stack, values)
            stack.fold(None if mask is None else torch.tensor(mask))
            for term, term_values in enumerate(values):
                for env, value in enumerate(term_values):
                    if mask is None or mask[env]:
                        steps_of[term][env].append(value)
            continue
        _, ids = step
        envs = list(range(num_envs)) if ids is None else ids
        popped = stack.pop(None if ids is None else torch.tensor(ids, dtype=torch.int64))
        ended = [env for env in envs if steps_of[0][env]]  # zero-step episodes are left out
        if not ended:
            assert popped is None
        else:
            assert popped is not None
            assert popped.dtype == stack.dtype
            assert popped.shape[1] == len(ended)
            expected = [
                [BRUTE_FORCE[reduce](np.array(steps_of[term][env])) for env in ended]
                for term, reduce in enumerate(reduces)
            ]
            np.testing.assert_allclose(
                np.array(_episodes_of(stack, popped)), np.array(expected), rtol=1e-9, atol=1e-7
            )
        for term_steps in steps_of:
            for env in envs:
                term_steps[env] = []


def test_masked_steps_and_subset_pops_keep_the_other_envs_episodes() -> None:
    stack = EpisodeStack(["mean", "sum"], num_envs=4)
    _write(stack, [[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    stack.fold()
    _write(stack, [[3.0, 0.0, 5.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    stack.fold(torch.tensor([True, False, True, False]))  # masks every term of envs 1, 3
    popped = stack.pop(torch.tensor([2, 0]))
    assert popped is not None
    assert _episodes_of(stack, popped) == [[4.0, 2.0], [2.0, 2.0]]
    _write(stack, [[10.0] * 4, [1.0] * 4])
    stack.fold()
    popped = stack.pop(None)
    assert popped is not None
    assert _episodes_of(stack, popped) == [[10.0, 6.0, 10.0, 7.0], [1.0, 2.0, 1.0, 2.0]]


@pytest.mark.parametrize("reduce", EPISODE_REDUCES)
def test_zero_step_episodes_are_left_out_of_the_pop(reduce: str) -> None:
    stack = EpisodeStack([reduce], num_envs=3)
    _write(stack, [[1.0, 2.0, 3.0]])
    stack.fold(torch.tensor([True, False, True]))
    popped = stack.pop(None)
    assert popped is not None
    assert popped.shape[1] == 2  # env 1 counted no step
    assert stack.pop(None) is None
    assert stack.pop(torch.tensor([], dtype=torch.int64)) is None


def test_nan_steps_propagate_and_last_keeps_the_last_step() -> None:
    stack = EpisodeStack(["mean", "last", "std", "max"], num_envs=2)
    _write(stack, [[math.nan, 1.0]] * 4)
    stack.fold()
    _write(stack, [[2.0, math.nan]] * 4)
    stack.fold()
    popped = stack.pop(None)
    assert popped is not None
    mean, last, std, _ = _episodes_of(stack, popped)
    assert all(math.isnan(v) for v in (*mean, *std))
    assert last[0] == 2.0
    assert math.isnan(last[1])


@pytest.mark.parametrize("reduce", EPISODE_REDUCES)
def test_fold_does_no_host_sync(
    reduce: str, no_host_sync: Callable[[], AbstractContextManager[None]]
) -> None:
    stack = EpisodeStack([reduce, "sum"], num_envs=16)
    values, mask = torch.randn(16), torch.rand(16) > 0.5
    with no_host_sync():
        for row in stack.step_rows:
            row.copy_(values)
        stack.fold()
        stack.fold(mask)
    popped = stack.pop(None)
    assert popped is not None
    counts = popped[stack.result_row_of_term[1]] / values.double()
    np.testing.assert_allclose(counts.numpy(), (1 + mask.double()).numpy(), rtol=1e-9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fold_does_not_synchronize_and_pop_syncs_once() -> None:
    stack = EpisodeStack(list(EPISODE_REDUCES), num_envs=64, device="cuda")
    mask = torch.rand(64, device="cuda") > 0.5
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for row in stack.step_rows:
            row.copy_(torch.ones(64, device="cuda"))
        stack.fold()
        stack.fold(mask)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    popped = stack.pop(torch.arange(8, device="cuda"))
    assert popped is not None
    assert popped.device.type == "cuda"


@pytest.mark.parametrize("num_envs", [0, -1, True, 2.5, "4"])
def test_num_envs_must_be_a_positive_integer(num_envs: object) -> None:
    with pytest.raises(ValueError, match="num_envs"):
        EpisodeStack(["sum"], num_envs)  # type: ignore[arg-type]


def test_unknown_reduce_names_the_valid_options() -> None:
    with pytest.raises(ValueError, match="unknown reduce 'median'") as info:
        EpisodeStack(["sum", "median"], 2)
    for option in EPISODE_REDUCES:
        assert option in str(info.value)


# --- EpisodeStats -----------------------------------------------------------------------

STAT_REFERENCE: dict[str, Callable[[np.ndarray], float]] = {
    "mean": np.mean,
    "std": np.std,
    "min": np.min,
    "max": np.max,
}


def test_stat_reference_covers_every_statistic() -> None:
    assert set(STAT_REFERENCE) == set(EPISODE_STATS)


def _reference(stat: str, values: np.ndarray) -> float:
    q = percentile_q(stat)
    if q is not None:
        return float(np.quantile(values, q))  # linear interpolation, numpy's default
    return float(STAT_REFERENCE[stat](values))


@settings(max_examples=150, deadline=None)
@given(
    episodes=st.integers(1, 3).flatmap(
        lambda rows: st.lists(
            st.lists(
                st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
                min_size=rows,
                max_size=rows,
            ),
            min_size=1,
            max_size=9,
        )
    ),
    stats=st.lists(
        st.sampled_from([*EPISODE_STATS, "p0", "p50", "p90", "p99.9", "p100", "P25"]),
        min_size=1,
        max_size=6,
        unique=True,
    ),
)
def test_statistics_match_numpy(episodes: list[list[float]], stats: list[str]) -> None:
    table = np.array(episodes, dtype=np.float64).T  # [rows, k]
    requests = [(f"{row}/{stat}", row, stat) for row in range(table.shape[0]) for stat in stats]
    summarise = EpisodeStats(requests, device="cpu", dtype=torch.float64)
    got = summarise(torch.from_numpy(table))
    assert list(got) == [key for key, _, _ in requests]  # logging order
    reported = table.astype(np.float32).astype(np.float64)  # episode values are float32
    for key, row, stat in requests:
        assert got[key].dtype == torch.float32
        assert got[key].dim() == 0
        expected = np.float32(_reference(stat, reported[row]))
        np.testing.assert_allclose(got[key].item(), expected, rtol=1e-5, atol=1e-3, err_msg=key)


def test_a_nan_episode_makes_every_statistic_of_its_term_nan() -> None:
    stats = [*EPISODE_STATS, "p50", "p99.9"]
    summarise = EpisodeStats(
        [(f"{row}/{s}", row, s) for row in (0, 1) for s in stats], "cpu", torch.float64
    )
    got = summarise(torch.tensor([[1.0, math.nan, 3.0], [1.0, 2.0, 3.0]], dtype=torch.float64))
    assert all(math.isnan(got[f"0/{s}"].item()) for s in stats)
    assert not any(math.isnan(got[f"1/{s}"].item()) for s in stats)


@pytest.mark.parametrize("stat", ["median", "p101", "p-1", "p", "q90"])
def test_unknown_statistic_names_what_is_accepted(stat: str) -> None:
    with pytest.raises(ValueError, match=f"unknown episode statistic '{stat}'") as info:
        EpisodeStats([("k", 0, stat)], "cpu", torch.float64)
    assert "p99.9" in str(info.value)
    for name in EPISODE_STATS:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("name", "q"),
    [("p0", 0.0), ("p50", 0.5), ("p99.9", 0.999), (" P90 ", 0.9), ("p100", 1.0), ("p7.25", 0.0725)],
)
def test_percentile_names_resolve_to_their_quantile(name: str, q: float) -> None:
    assert percentile_q(name) == q


@pytest.mark.parametrize("name", ["p100.5", "p-1", "p", "p9e1", "mean", "pp90", "", 90])
def test_other_names_are_not_percentiles(name: object) -> None:
    assert percentile_q(name) is None  # type: ignore[arg-type]
