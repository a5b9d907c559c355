"""Merging: any split of a stream, merged in any order, equals the sequential result."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pat_core import Quantile, QuantileSketch, Reducer, Var, make_reducer, reducer_names

NAMES = (*reducer_names(), "p0", "p37.5", "p100")
SETTINGS = settings(max_examples=40, deadline=None)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
values_and_cuts = st.lists(finite, max_size=40).flatmap(
    lambda values: st.tuples(
        st.just(values),
        st.lists(st.integers(0, len(values)), max_size=3).map(sorted),  # up to 4 parts, some empty
    )
)


def split(values: list[float], cuts: list[int]) -> list[list[float]]:
    bounds = [0, *cuts, len(values)]
    return [values[a:b] for a, b in itertools.pairwise(bounds)]


def filled(name: str, part: list[float]) -> Reducer:
    reducer = make_reducer(name)
    reducer.update(part)
    return reducer


def assert_same(name: str, got: float, expected: float) -> None:
    if math.isnan(expected):
        assert math.isnan(got)
    elif name.startswith("p"):
        assert got == expected  # a sketch merge adds integer bucket counts: exact
    else:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=values_and_cuts)
def test_merge_of_any_split_equals_sequential(
    name: str, data: tuple[list[float], list[int]]
) -> None:
    values, cuts = data
    sequential = make_reducer(name)
    for value in values:
        sequential.update(value)
    parts = [filled(name, part) for part in split(values, cuts)]
    left_fold = functools.reduce(lambda a, b: a.merge(b), parts)
    right_fold = functools.reduce(lambda a, b: b.merge(a), reversed(parts))
    for merged in (left_fold, right_fold):
        assert merged.count == sequential.count == len(values)
        assert_same(name, merged.compute(), sequential.compute())


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(left=st.lists(finite, max_size=20), right=st.lists(finite, max_size=20))
def test_merge_mutates_neither_input_and_result_is_independent(
    name: str, left: list[float], right: list[float]
) -> None:
    a, b = filled(name, left), filled(name, right)
    before = [(r.count, r.compute()) for r in (a, b)]
    merged = a.merge(b)
    merged.update([1.0, -2.0, 3.0])
    merged.reset()
    after = [(r.count, r.compute()) for r in (a, b)]
    for (count0, value0), (count1, value1) in zip(before, after, strict=True):
        assert count0 == count1
        assert value0 == value1 or (math.isnan(value0) and math.isnan(value1))
    assert merged is not a
    assert merged is not b


@pytest.mark.parametrize("name", NAMES)
def test_merge_with_empty_returns_an_independent_equal_copy(name: str) -> None:
    full, empty = filled(name, [3.0, 1.0, 2.0]), make_reducer(name)
    for merged in (full.merge(empty), empty.merge(full)):
        assert merged is not full
        assert merged.count == 3
        assert merged.compute() == full.compute()
        merged.update(100.0)
        assert full.count == 3
    both_empty = empty.merge(make_reducer(name))
    assert both_empty.count == 0
    assert math.isnan(both_empty.compute())


def test_last_takes_the_other_side_when_merging() -> None:
    assert filled("last", [1.0, 2.0]).merge(filled("last", [3.0])).compute() == 3.0
    assert filled("last", [3.0]).merge(filled("last", [1.0, 2.0])).compute() == 2.0


@pytest.mark.parametrize(
    ("a", "b", "error"),
    [
        (make_reducer("mean"), make_reducer("sum"), TypeError),
        (make_reducer("var"), make_reducer("std"), TypeError),
        (Var(ddof=0), Var(ddof=1), ValueError),
        (Quantile(0.5), Quantile(0.9), ValueError),
        (Quantile(0.5, 0.01), Quantile(0.5, 0.02), ValueError),
        (QuantileSketch(0.01), QuantileSketch(0.05), ValueError),
    ],
    ids=repr,
)
def test_merge_rejects_incompatible_reducers(
    a: Reducer, b: Reducer, error: type[Exception]
) -> None:
    a.update([1.0])
    with pytest.raises(error, match="cannot merge"):
        a.merge(b)  # type: ignore[arg-type]


@SETTINGS
@given(data=values_and_cuts)
def test_sketch_merge_of_any_split_has_identical_histogram(
    data: tuple[list[float], list[int]],
) -> None:
    values, cuts = data
    sequential = QuantileSketch()
    sequential.update(values)
    parts = []
    for part in split(values, cuts):
        sketch = QuantileSketch()
        sketch.update(part)
        parts.append(sketch)
    merged = functools.reduce(lambda a, b: a.merge(b), parts)
    assert merged.count == len(values)
    for got, expected in zip(merged.histogram(), sequential.histogram(), strict=True):
        np.testing.assert_array_equal(got, expected)
