"""Window reduction against numpy references (hypothesis), value shapes, env-info gate."""

from __future__ import annotations

import collections
import copy
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pat_skrl_mlflow.capture._capture import CapturingDict, DiscardingDict
from pat_skrl_mlflow.capture._envinfo import EnvInfoGate
from pat_skrl_mlflow.window._window import WindowBuffer

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
SUFFIXES = {"Loss / x": np.mean, "Reward / y (min)": np.min, "Reward / y (max)": np.max}


def _buffer(extra=()):
    skipped = {}
    window = WindowBuffer(
        flatten_depth=2, extra_stats=lambda tag: tuple(extra), on_skip=skipped.__setitem__
    )
    return window, skipped


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=1, max_size=50), st.sampled_from(sorted(SUFFIXES)))
def test_primary_reduction_follows_skrl_suffix_rule(values, tag):
    window, _ = _buffer(extra=("std", "sum"))
    for value in values:
        window.add(tag, value)
    out = {(r.tag, r.stat): r.value for r in window.reduce()}
    reference = np.asarray(values, dtype=np.float64)
    assert out[(tag, None)] == pytest.approx(SUFFIXES[tag](reference), rel=1e-9, abs=1e-6)
    assert out[(tag, "std")] == pytest.approx(np.std(reference), rel=1e-6, abs=1e-6)
    assert out[(tag, "sum")] == pytest.approx(np.sum(reference), rel=1e-9, abs=1e-6)
    assert not len(window)  # reduce() empties the window


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(finite, min_size=2, max_size=8), min_size=1, max_size=6))
def test_multi_element_values_become_four_statistics(chunks):
    window, _ = _buffer()
    for i, chunk in enumerate(chunks):  # mix tensors and arrays of the same stream
        window.add("v", torch.tensor(chunk, dtype=torch.float64) if i % 2 else np.array(chunk))
    out = {r.stat: r.value for r in window.reduce()}
    reference = np.concatenate([np.asarray(c) for c in chunks])
    expected = {
        "mean": reference.mean(),
        "std": reference.std(),
        "min": reference.min(),
        "max": reference.max(),
    }
    assert out.keys() == expected.keys()
    for stat, value in expected.items():
        assert out[stat] == pytest.approx(value, rel=1e-6, abs=1e-6)


def test_nan_propagates_and_shapes_are_classified():
    window, skipped = _buffer()
    window.add("nan", 1.0)
    window.add("nan", float("nan"))
    window.add("int", 3)
    window.add("numpy", np.float32(2.5))
    window.add("single", np.array([[4.0]]))
    window.add("bool", True)
    window.add("empty", [])
    window.add("text", "x")
    window.add("complex", torch.tensor([1j]))
    window.add("deep", {"a": {"b": {"c": 1.0}}})
    out = {r.tag: r.value for r in window.reduce()}
    assert np.isnan(out["nan"])
    assert out["int"] == 3.0
    assert out["numpy"] == 2.5
    assert out["single"] == 4.0
    assert out["bool"] == 1.0
    assert set(skipped) == {"empty", "text", "complex", "deep/a/b"}


def test_capturing_dict_reports_appends_and_behaves_like_skrls_dict():
    seen = []
    data = CapturingDict(lambda tag, value: seen.append((tag, value)), lambda: True)
    data["a"].append(1.0)
    data["a"].extend([2.0, 3.0])
    data["b"] += [4.0]
    assert seen == [("a", 1.0), ("a", 2.0), ("a", 3.0), ("b", 4.0)]
    assert data["a"] == [1.0, 2.0, 3.0]
    assert np.mean(data["a"]) == 2.0  # skrl's writer reduces the lists with numpy
    data.clear()  # skrl's write_tracking_data
    data["a"].append(5.0)
    assert seen[-1] == ("a", 5.0)
    for clone in (copy.deepcopy(data), pickle.loads(pickle.dumps(data)), copy.copy(data)):
        assert type(clone) is collections.defaultdict
        assert clone["a"] == [5.0]


def test_capturing_dict_keeps_only_the_latest_value_without_a_writer():
    data = CapturingDict(lambda tag, value: None, lambda: False)
    for value in range(1000):
        data["a"].append(float(value))
    assert data["a"] == [999.0]


def test_discarding_dict_keeps_nothing():
    data = DiscardingDict()
    for value in range(1000):
        data["a"].append(value)
    assert dict(data) == {}


def test_env_info_gate_counts_refreshes_not_steps():
    gate = EnvInfoGate(["log"])
    gate.observe({"log": {"Episode_Reward/x": torch.tensor(0.0)}})  # from env.reset()
    assert not gate.allows("Episode_Reward/x")  # a baseline, not a refresh
    log = {"Episode_Reward/x": torch.tensor(1.0), "plain": torch.tensor(2.0)}
    gate.observe({"log": log})
    assert gate.allows("Episode_Reward/x")
    gate.observe({"log": log})  # the same dict again: stale
    assert not gate.allows("Episode_Reward/x")
    assert not gate.allows("Info / plain")  # skrl 1.x / 2.x names for keys without "/"
    assert gate.allows("Loss / Policy loss")  # other tags are never gated
    log["plain"] = torch.tensor(3.0)  # updated in place with a new value object: fresh
    gate.observe({"log": log})
    assert gate.allows("Info / plain")
    gate.observe({"log": dict(log)})  # a new dict: fresh
    assert gate.allows("Episode_Reward/x")
    assert gate.refreshes == 3
    assert gate.stale_values == 3
