"""Numerically hard inputs: large offsets with tiny spread, near-equal values, huge and tiny."""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
import pytest

from pat_core import Mean, QuantileSketch, Std, Sum, Var, make_reducer


def feed(reducer_type: type[Var], values: np.ndarray, mode: str) -> Var:
    if mode == "one_by_one":
        reducer = reducer_type()
        for value in values:
            reducer.update(value)
        return reducer
    if mode == "one_batch":
        reducer = reducer_type()
        reducer.update(values)
        return reducer
    parts = []  # "merged": uneven chunks merged pairwise
    for chunk in np.array_split(values, [1, 7, 100, 333, 900]):
        part = reducer_type()
        part.update(chunk)
        parts.append(part)
    return functools.reduce(lambda a, b: a.merge(b), parts)


def exact_var(values: np.ndarray) -> float:
    exact = [Fraction(float(v)) for v in values]
    mean = sum(exact) / len(exact)
    return float(sum((v - mean) ** 2 for v in exact) / len(exact))


@pytest.mark.parametrize("mode", ["one_by_one", "one_batch", "merged"])
@pytest.mark.parametrize("offset", [1e9, -1e9, 1e12])
def test_variance_with_large_offset_and_tiny_noise(mode: str, offset: float) -> None:
    rng = np.random.default_rng(0)
    values = offset + rng.normal(0.0, 1e-2, 2000)
    exact = exact_var(values)
    assert feed(Var, values, mode).compute() == pytest.approx(exact, rel=1e-12)
    assert feed(Std, values, mode).compute() == pytest.approx(np.sqrt(exact), rel=1e-12)
    if abs(offset) <= 1e9:  # beyond that numpy's own two-pass var drifts (1e-5 at 1e12)
        assert feed(Var, values, mode).compute() == pytest.approx(np.var(values), rel=1e-6)
    naive = np.mean(values**2) - np.mean(values) ** 2  # what the Welford/Chan form avoids
    assert abs(naive - exact) > 1e-3 * exact


@pytest.mark.parametrize("mode", ["one_by_one", "one_batch", "merged"])
def test_constant_stream_has_zero_variance_and_exact_extremes(mode: str) -> None:
    values = np.full(1000, 0.1)
    assert feed(Var, values, mode).compute() == 0.0
    assert feed(Std, values, mode).compute() == 0.0
    mean = Mean()
    mean.update(values)
    assert mean.compute() == pytest.approx(0.1, rel=1e-15)
    sketch = QuantileSketch()
    sketch.update(values)
    assert sketch.quantile(0.0) == sketch.quantile(0.5) == sketch.quantile(1.0) == 0.1


@pytest.mark.parametrize("mode", ["one_by_one", "one_batch", "merged"])
def test_near_equal_values_differing_in_the_last_bits(mode: str) -> None:
    base = 1.0 + np.arange(1000) % 3 * np.finfo(np.float64).eps
    # base - 1.0 is exact (0, eps, 2 eps); np.var(base) itself is off by 2.5x here, as the
    # mean it subtracts cannot be represented between the neighbouring floats.
    expected = np.var(base - 1.0)
    assert expected == pytest.approx(np.finfo(np.float64).eps ** 2 * 2 / 3, rel=1e-2)
    assert feed(Var, base, mode).compute() == pytest.approx(expected, rel=1e-6, abs=1e-40)


@pytest.mark.parametrize("mode", ["one_by_one", "one_batch", "merged"])
def test_mixed_huge_and_tiny_magnitudes(mode: str) -> None:
    rng = np.random.default_rng(1)
    magnitudes = 10.0 ** rng.uniform(-150, 150, 1000)
    values = magnitudes * rng.choice([-1.0, 1.0], 1000)
    assert feed(Var, values, mode).compute() == pytest.approx(np.var(values), rel=1e-9)
    for name, reference in (("min", np.min), ("max", np.max), ("mean", np.mean)):
        reducer = make_reducer(name)
        for chunk in np.array_split(values, 10):
            reducer.update(chunk)
        assert reducer.compute() == pytest.approx(reference(values), rel=1e-9), name


def test_huge_single_values_do_not_overflow_into_nan() -> None:
    var = Var()
    var.update(1e200)
    assert var.compute() == 0.0
    other = Var()
    other.update([1e200, 1e200])
    assert var.merge(other).compute() == 0.0


def test_sum_of_float64_extremes_overflows_like_numpy() -> None:
    values = np.array([1.7e308, 1.7e308, -1.0])
    total, mean = Sum(), Mean()
    total.update(values)
    mean.update(values)
    with np.errstate(over="ignore"):
        assert total.compute() == np.sum(values) == np.inf
        assert mean.compute() == np.mean(values) == np.inf


def test_sketch_covers_the_whole_float64_range_on_the_host() -> None:
    values = np.array([-1e300, -5e-324, 0.0, 1e-300, 2.5e-200, 1.0, 3e150, 1.7e308])
    sketch = QuantileSketch(0.01)
    sketch.update(values)
    ordered = np.sort(values)
    for i, expected in enumerate(ordered):
        q = i / (ordered.size - 1)
        assert abs(sketch.quantile(q) - expected) <= 0.01 * abs(expected) * (1 + 1e-12), q
