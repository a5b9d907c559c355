"""Every reducer against numpy: at every prefix of random streams, per input type, NaN/inf."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pat_core import Quantile, Var, make_reducer, reducer_names

NAMES = (*reducer_names(), "p0", "p5", "p99.9", "p100")
ALPHA = 0.01  # the registry's quantiles use the default relative accuracy


def reference(name: str, values: np.ndarray) -> float:
    """numpy's answer for ``name``; quantiles use method="lower" (the sketch's definition)."""
    if values.size == 0:
        return math.nan
    table = {
        "mean": np.mean,
        "sum": np.sum,
        "min": np.min,
        "max": np.max,
        "var": np.var,
        "std": np.std,
        "last": lambda a: a[-1],
        "count": lambda a: a.size,
    }
    with np.errstate(all="ignore"):
        if name in table:
            return float(table[name](values))
        q = float(name[1:]) / 100
        if np.isnan(values).any():
            return math.nan
        return float(np.quantile(values, q, method="lower"))


def assert_matches(name: str, got: float, expected: float) -> None:
    if math.isnan(expected) or math.isinf(expected):
        assert got == expected or (math.isnan(got) and math.isnan(expected)), (got, expected)
    elif name.startswith("p"):
        assert abs(got - expected) <= ALPHA * abs(expected) * (1 + 1e-12), (got, expected)
    else:
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-10), name


def stream(seed: int, size: int = 150) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.normal(3.0, 10.0, size // 3),
            rng.exponential(5.0, size // 3),
            -rng.lognormal(0, 2, size - 2 * (size // 3)),
        ]
    )


@pytest.mark.parametrize("name", NAMES)
def test_every_prefix_matches_numpy_one_value_at_a_time(name: str) -> None:
    values = stream(seed=len(name))
    reducer = make_reducer(name)
    assert math.isnan(reducer.compute())
    for i, value in enumerate(values):
        reducer.update(value)
        assert reducer.count == i + 1
        assert_matches(name, reducer.compute(), reference(name, values[: i + 1]))


@pytest.mark.parametrize("name", NAMES)
def test_every_prefix_matches_numpy_in_random_chunks(name: str) -> None:
    rng = np.random.default_rng(7)
    values = stream(seed=11, size=600)
    reducer = make_reducer(name)
    start = 0
    while start < values.size:
        stop = min(values.size, start + int(rng.integers(0, 40)))  # empty chunks included
        reducer.update(values[start:stop])
        start = stop
        assert reducer.count == stop
        assert_matches(name, reducer.compute(), reference(name, values[:stop]))


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_var_and_std_ddof_match_numpy_at_every_prefix(ddof: int) -> None:
    values = stream(seed=3, size=60)
    var, std = Var(ddof=ddof), make_reducer("std")
    std = type(std)(ddof=ddof)
    for i, value in enumerate(values):
        var.update(value)
        std.update(value)
        if i + 1 <= ddof:
            assert math.isnan(var.compute())
            assert math.isnan(std.compute())
        else:
            assert var.compute() == pytest.approx(np.var(values[: i + 1], ddof=ddof), rel=1e-12)
            assert std.compute() == pytest.approx(np.std(values[: i + 1], ddof=ddof), rel=1e-12)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1"])
def test_var_rejects_bad_ddof(bad: object) -> None:
    with pytest.raises(ValueError, match="ddof"):
        Var(ddof=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [
        5,
        2.5,
        np.float32(1.25),
        np.int64(-3),
        [1, 2, 3],
        (1.0, -2.0),
        [[1, 2], [3, 4]],
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.array([True, False, True]),
        np.array(7.0),
    ],
    ids=repr,
)
@pytest.mark.parametrize("name", ["mean", "sum", "min", "max", "last", "count", "var", "p50"])
def test_every_input_type_is_flattened_like_numpy(name: str, values: object) -> None:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    reducer = make_reducer(name)
    reducer.update(values)
    assert reducer.count == flat.size
    assert_matches(name, reducer.compute(), reference(name, flat))


@pytest.mark.parametrize("bad", ["abc", object(), [1, "x"], {"a": 1}])
def test_update_rejects_non_numbers(bad: object) -> None:
    reducer = make_reducer("mean")
    with pytest.raises(TypeError, match="expected a number"):
        reducer.update(bad)
    assert reducer.count == 0


# NaN policy: NaN propagates like numpy; `last` returns the last value; `count` counts NaN.
NAN = math.nan
NAN_POLICY = {
    "mean": (NAN, NAN),
    "sum": (NAN, NAN),
    "min": (NAN, NAN),
    "max": (NAN, NAN),
    "var": (NAN, NAN),
    "std": (NAN, NAN),
    "p50": (NAN, NAN),
    "p90": (NAN, NAN),
    "p99": (NAN, NAN),
    "last": (2.0, NAN),
    "count": (3.0, 3.0),
}


def test_nan_policy_table_covers_every_registered_reducer() -> None:
    assert set(NAN_POLICY) == set(reducer_names())


@pytest.mark.parametrize("name", sorted(NAN_POLICY))
def test_nan_policy(name: str) -> None:
    nan_inside, nan_last = NAN_POLICY[name]
    for data, expected in (([1.0, NAN, 2.0], nan_inside), ([1.0, 2.0, NAN], nan_last)):
        one_batch, one_by_one = make_reducer(name), make_reducer(name)
        one_batch.update(data)
        for value in data:
            one_by_one.update(value)
        for reducer in (one_batch, one_by_one):
            got = reducer.compute()
            assert got == expected or (math.isnan(got) and math.isnan(expected)), (data, got)
            assert reducer.count == 3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "data",
    [
        [1.0, math.inf],
        [-math.inf, 2.0, 3.0],
        [math.inf, -math.inf],
        [math.inf, math.inf],
        [0.0, -0.0],
    ],
    ids=repr,
)
def test_infinities_follow_ieee_like_numpy(name: str, data: list[float]) -> None:
    reducer = make_reducer(name)
    reducer.update(data)
    assert_matches(name, reducer.compute(), reference(name, np.array(data)))


@pytest.mark.parametrize("q", [-0.1, 1.5, math.nan, "0.5", True])
def test_quantile_rejects_bad_q(q: object) -> None:
    with pytest.raises(ValueError, match="q must be"):
        Quantile(q)  # type: ignore[arg-type]
