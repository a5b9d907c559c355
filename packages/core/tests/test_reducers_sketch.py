"""The quantile sketch's relative-error bound over many distributions, and its histogram.

Definition checked: for relative accuracy ``alpha``, ``quantile(q)`` is within
``alpha * |x|`` of ``x = numpy.quantile(values, q, method="lower")``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pat_core import Quantile, QuantileSketch

QS = np.linspace(0.0, 1.0, 101)


def distributions(size: int = 4000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    return {
        "uniform": rng.uniform(0.0, 1.0, size),
        "normal": rng.normal(0.0, 1.0, size),
        "normal_negative": rng.normal(-50.0, 10.0, size),
        "lognormal": rng.lognormal(0.0, 2.0, size),
        "exponential": rng.exponential(3.0, size),
        "pareto_heavy_tail": rng.pareto(0.5, size),
        "cauchy_both_signs": rng.standard_cauchy(size),
        "with_zeros": np.where(rng.random(size) < 0.3, 0.0, rng.normal(0.0, 5.0, size)),
        "integers": rng.integers(-5, 6, size).astype(float),
        "wide_magnitudes": 10.0 ** rng.uniform(-30, 30, size) * rng.choice([-1, 1], size),
    }


def assert_within_bound(sketch: QuantileSketch, values: np.ndarray, alpha: float) -> None:
    expected = np.quantile(values, QS, method="lower")
    got = np.array([sketch.quantile(q) for q in QS])
    error = np.abs(got - expected)
    bound = alpha * np.abs(expected) * (1 + 1e-12)
    worst = int(np.argmax(error - bound))
    assert np.all(error <= bound), (QS[worst], got[worst], expected[worst])


@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05])
@pytest.mark.parametrize("name", sorted(distributions()))
def test_relative_error_bound_on_the_host(name: str, alpha: float) -> None:
    values = distributions()[name]
    sketch = QuantileSketch(alpha)
    for chunk in np.array_split(values, 7):
        sketch.update(chunk)
    assert sketch.count == values.size
    assert_within_bound(sketch, values, alpha)


@pytest.mark.parametrize("name", ["normal", "lognormal", "cauchy_both_signs", "with_zeros"])
def test_relative_error_bound_for_torch_backed_sketch(name: str) -> None:
    values = distributions()[name]
    sketch = QuantileSketch(0.01)
    sketch.update(torch.tensor(values, dtype=torch.float32))
    assert sketch.device == torch.device("cpu")
    assert_within_bound(sketch, values.astype(np.float32).astype(np.float64), 0.01)


def test_bound_is_tight_the_worst_case_uses_most_of_alpha() -> None:
    values = distributions()["lognormal"]
    sketch = QuantileSketch(0.01)
    sketch.update(values)
    expected = np.quantile(values, QS, method="lower")
    errors = np.abs(np.array([sketch.quantile(q) for q in QS]) - expected) / np.abs(expected)
    assert 0.005 < max(errors) <= 0.01 * (1 + 1e-12)  # a coarser bucket scheme would show here


def test_extremes_are_exact() -> None:
    sketch = QuantileSketch()
    sketch.update([-3.7, 2.0, 11.5])
    assert sketch.quantile(0.0) == sketch.quantile(0.49) == -3.7
    assert sketch.quantile(1.0) == 11.5
    assert abs(sketch.quantile(0.5) - 2.0) <= 0.02


def test_bucket_boundaries_hold_exact_powers() -> None:
    sketch = QuantileSketch(0.01)
    sketch.update([1.0] * 5 + [0.5, 2.0])
    edges, counts = sketch.histogram()
    assert counts[np.searchsorted(edges, 1.0) - 1] == 5  # buckets are (gamma**(k-1), gamma**k]


def test_nan_makes_every_quantile_nan_and_is_counted() -> None:
    sketch = QuantileSketch()
    sketch.update([1.0, math.nan, 2.0])
    assert sketch.count == 3
    assert math.isnan(sketch.quantile(0.5))
    _, counts = sketch.histogram()
    assert counts.sum() == 2


def test_infinities_sort_at_the_ends() -> None:
    sketch = QuantileSketch()
    sketch.update([-math.inf, 1.0, 2.0, 3.0, math.inf])
    assert sketch.quantile(0.0) == -math.inf
    assert sketch.quantile(1.0) == math.inf
    assert abs(sketch.quantile(0.5) - 2.0) <= 0.02
    assert sketch.histogram()[1].sum() == 3


def test_empty_sketch() -> None:
    sketch = QuantileSketch()
    assert sketch.count == 0
    assert math.isnan(sketch.quantile(0.5))
    edges, counts = sketch.histogram()
    assert edges.size == 0
    assert counts.size == 0


@pytest.mark.parametrize("name", sorted(set(distributions()) - {"integers"}))
def test_histogram_matches_numpy_on_its_own_edges(name: str) -> None:
    values = distributions()[name]
    values = values[values != 0]  # exact zeros sit in the zero bucket, checked below
    sketch = QuantileSketch(0.02)
    sketch.update(values)
    edges, counts = sketch.histogram()
    assert edges.size == counts.size + 1
    assert np.all(np.diff(edges) > 0)
    assert counts.sum() == values.size
    assert counts[0] > 0
    assert counts[-1] > 0
    np.testing.assert_array_equal(np.histogram(values, bins=edges)[0], counts)
    gamma = 1.02 / 0.98
    positive = edges[edges > 0]
    ratios = positive[1:] / positive[:-1]
    assert np.allclose(ratios[1:] if (edges < 0).any() else ratios, gamma)


@pytest.mark.parametrize(
    ("values", "zero_bucket"),
    [
        ([0.0, 0.0], (0.0, 0.0)),
        ([0.0, 1.5, 2.0], (0.0, None)),
        ([-2.0, 0.0], (None, 0.0)),
        ([-2.0, 0.0, 0.0, 3.0], (None, None)),
        ([-2.0, 3.0], (None, None)),
    ],
)
def test_histogram_zero_bucket(
    values: list[float], zero_bucket: tuple[float | None, float | None]
) -> None:
    sketch = QuantileSketch()
    sketch.update(values)
    edges, counts = sketch.histogram()
    index = int(np.searchsorted(edges, 0.0, side="right")) - 1
    index = min(index, counts.size - 1)
    assert edges[index] <= 0.0 <= edges[index + 1]
    assert counts[index] == values.count(0.0)
    low, high = zero_bucket
    assert low is None or edges[index] == low
    assert high is None or edges[index + 1] == high
    assert counts.sum() == len(values)


def test_quantile_reducer_exposes_a_copy_of_its_sketch() -> None:
    reducer = Quantile(0.9)
    reducer.update(np.arange(1.0, 101.0))
    sketch = reducer.sketch
    assert sketch.quantile(0.9) == reducer.compute()
    sketch.update(1e6)
    assert reducer.count == 100
    assert abs(reducer.compute() - 90.0) <= 0.9


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2.0])
def test_relative_accuracy_must_be_in_the_open_unit_interval(bad: float) -> None:
    with pytest.raises(ValueError, match="relative_accuracy"):
        QuantileSketch(bad)


@pytest.mark.parametrize("q", [-0.01, 1.01])
def test_quantile_rejects_q_outside_unit_interval(q: float) -> None:
    with pytest.raises(ValueError, match="q must be"):
        QuantileSketch().quantile(q)


def test_host_sketch_merged_into_a_device_sketch_keeps_its_answers() -> None:
    values = distributions()["cauchy_both_signs"]
    host = QuantileSketch()
    host.update(values)
    device = QuantileSketch()
    device.update(torch.tensor([], dtype=torch.float64))
    device.update(torch.tensor([values[0]]))
    merged = host.merge(device)
    assert merged.device == torch.device("cpu")
    assert host.device is None
    reference = QuantileSketch()
    reference.update(np.concatenate([values, values[:1]]))
    for q in QS:
        assert merged.quantile(q) == reference.quantile(q)


def test_torch_backed_sketch_clamps_outside_the_float32_normal_range() -> None:
    sketch = QuantileSketch()
    sketch.update(torch.tensor([1e-40, 1e-39, 1.0, 1e299, 1e300], dtype=torch.float64))
    assert sketch.quantile(0.0) == 1e-40  # the extremes are kept exactly
    assert sketch.quantile(1.0) == 1e300
    assert abs(sketch.quantile(0.25) - 1e-39) <= 2.0**-126  # absolute error below float32 tiny
    assert abs(sketch.quantile(0.5) - 1.0) <= 0.01
    assert 3.3e38 < sketch.quantile(0.75) < 3.5e38  # documented: the top bucket of the window
