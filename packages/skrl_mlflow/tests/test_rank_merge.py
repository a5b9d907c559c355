"""Windows of several ranks merge to the statistics of all their values (numpy reference).

The merge itself runs here without processes; ``test_distributed.py`` runs it through
``torch.distributed`` (gloo) around real skrl agents.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pat_skrl_mlflow.window._distributed import merge_windows
from pat_skrl_mlflow.window._window import WindowBuffer

pytestmark = pytest.mark.no_skrl  # no skrl code: tests_skrl1 leaves it out

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
TAGS = ("Loss / x", "Reward / y (min)", "Reward / y (max)")
STATS = ("std", "var", "p50", "p90", "sum", "count")


def _window(values_by_tag: dict) -> dict:
    """One rank's window: key -> reducer, as ``MetricPipeline.close_window`` gives it."""
    window = WindowBuffer(flatten_depth=2, extra_stats=lambda tag: STATS, on_skip=print)
    for tag, values in values_by_tag.items():
        for value in values:
            window.add(tag, value)
    return {(item.tag, item.stat): item.reducer for item in window.reduce()}


def _reference(stat, values):
    if stat == "p50":
        return float(np.quantile(values, 0.5, method="lower"))
    if stat == "p90":
        return float(np.quantile(values, 0.9, method="lower"))
    functions = {"std": np.std, "var": np.var, "sum": np.sum, "count": np.size}
    return float(functions[stat](values))


rank_windows = st.lists(
    st.dictionaries(st.sampled_from(TAGS), st.lists(finite, min_size=1, max_size=30)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=80, deadline=None)
@given(rank_windows)
def test_merged_ranks_equal_the_statistics_of_all_values(ranks):
    # pickled, as all_gather_object sends them
    windows = [pickle.loads(pickle.dumps(_window(rank))) for rank in ranks]
    merged = merge_windows(windows)
    for tag in {tag for rank in ranks for tag in rank}:
        union = np.concatenate(
            [np.asarray(rank[tag], dtype=np.float64) for rank in ranks if tag in rank]
        )
        primary = np.min if tag.endswith("(min)") else np.max if tag.endswith("(max)") else np.mean
        assert merged[(tag, None)] == pytest.approx(float(primary(union)), rel=1e-9, abs=1e-6)
        for stat in STATS:
            expected = _reference(stat, union)
            if stat in ("p50", "p90"):  # the sketch's relative accuracy (1 %)
                assert merged[(tag, stat)] == pytest.approx(expected, rel=0.011, abs=1e-9)
            else:
                assert merged[(tag, stat)] == pytest.approx(expected, rel=1e-6, abs=1e-5)


def test_std_is_pooled_not_the_mean_of_the_ranks_stds():
    low, high = [0.0, 1.0, 0.0, 1.0], [10.0, 11.0]
    merged = merge_windows([_window({"Loss / x": low}), _window({"Loss / x": high})])
    union = np.asarray(low + high)
    assert merged[("Loss / x", "std")] == pytest.approx(float(np.std(union)))
    assert merged[("Loss / x", None)] == pytest.approx(float(np.mean(union)))  # pooled, by count
    assert merged[("Loss / x", "std")] > 4 > (np.std(low) + np.std(high)) / 2


def test_a_rank_with_nan_or_without_the_key_counts_as_missing():
    merged = merge_windows(
        [_window({"Loss / x": [1.0, 3.0]}), _window({"Loss / x": [math.nan]}), _window({})]
    )
    assert merged[("Loss / x", None)] == 2.0
    only_nan = merge_windows([_window({"Loss / x": [math.nan]})])
    assert math.isnan(only_nan[("Loss / x", None)])
