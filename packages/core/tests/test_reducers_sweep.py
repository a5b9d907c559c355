"""A sweep over every registered reducer (pickle, copy, repr, empty NaN, reset) and the registry."""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch

import pat_core
from pat_core import Quantile, QuantileSketch, Reducer, make_reducer, reducer_names


def test_registry_lists_the_documented_names() -> None:
    names = reducer_names()
    assert set(names) >= {
        "mean",
        "sum",
        "min",
        "max",
        "last",
        "count",
        "var",
        "std",
        "p50",
        "p90",
        "p99",
    }
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", reducer_names())
def test_fresh_reducer_is_empty_and_named(name: str) -> None:
    reducer = make_reducer(name)
    assert isinstance(reducer, Reducer)
    assert type(reducer).__name__ in pat_core.__all__
    assert reducer.name == name
    assert reducer.count == 0
    assert math.isnan(reducer.compute())
    assert reducer.device is None
    assert make_reducer(name) is not reducer


@pytest.mark.parametrize("name", reducer_names())
def test_repr_names_the_class_count_and_value(name: str) -> None:
    reducer = make_reducer(name)
    assert repr(reducer).startswith(type(reducer).__name__ + "(")
    assert "count=0" in repr(reducer)
    assert "value=nan" in repr(reducer)
    reducer.update([4.0, 4.0])
    assert "count=2" in repr(reducer)
    assert f"value={reducer.compute()!r}" in repr(reducer)
    reducer.update(torch.tensor([4.0]))
    assert "device='cpu'" in repr(reducer)


@pytest.mark.parametrize("name", reducer_names())
@pytest.mark.parametrize("backend", ["empty", "host", "torch"])
def test_pickle_and_copies_are_equal_and_independent(name: str, backend: str) -> None:
    reducer = make_reducer(name)
    if backend == "host":
        reducer.update([3.0, -1.0, 2.5])
    elif backend == "torch":
        reducer.update(torch.tensor([3.0, -1.0, 2.5]))
    expected = (type(reducer), reducer.count, repr(reducer))
    for clone in (pickle.loads(pickle.dumps(reducer)), copy.copy(reducer), copy.deepcopy(reducer)):
        assert (type(clone), clone.count, repr(clone)) == expected
        assert clone.device == reducer.device
        clone.update([1000.0, -1000.0])
        assert (type(reducer), reducer.count, repr(reducer)) == expected


@pytest.mark.parametrize("name", reducer_names())
def test_reset_empties_and_keeps_working(name: str) -> None:
    reducer = make_reducer(name)
    reducer.update([1.0, 2.0, 3.0])
    reducer.reset()
    assert reducer.count == 0
    assert math.isnan(reducer.compute())
    reducer.update([5.0])
    expected = {"var": 0.0, "std": 0.0, "count": 1.0}.get(name, 5.0)
    assert reducer.compute() == pytest.approx(expected, rel=0.01)


def test_quantile_sketch_is_picklable_and_copyable() -> None:
    sketch = QuantileSketch(0.02)
    sketch.update([1.0, 2.0, 3.0])
    for clone in (pickle.loads(pickle.dumps(sketch)), copy.copy(sketch)):
        assert repr(clone) == repr(sketch) == "QuantileSketch(relative_accuracy=0.02, count=3)"
        clone.update(10.0)
        assert sketch.count == 3
        assert sketch.quantile(1.0) == 3.0


@pytest.mark.parametrize(
    ("spelling", "name", "q"),
    [
        ("MEAN", "mean", None),
        ("  Std ", "std", None),
        ("P90", "p90", 0.9),
        ("p95", "p95", 0.95),
        ("p99.9", "p99.9", 0.999),
        ("p0", "p0", 0.0),
        ("p100", "p100", 1.0),
        ("p05", "p5", 0.05),
    ],
)
def test_names_are_case_insensitive_and_percentiles_parse(
    spelling: str, name: str, q: float | None
) -> None:
    reducer = make_reducer(spelling)
    assert reducer.name == name
    if q is not None:
        assert isinstance(reducer, Quantile)
        assert reducer.q == q


@pytest.mark.parametrize(
    "bad", ["median", "", "p101", "p-1", "p", "pabc", "p50%", "mean2", None, 90]
)
def test_unknown_names_raise_and_list_the_valid_ones(bad: object) -> None:
    with pytest.raises(ValueError, match="unknown reducer") as info:
        make_reducer(bad)  # type: ignore[arg-type]
    for name in reducer_names():
        assert name in str(info.value)
    assert "pNN" in str(info.value)
