"""Sparklines and number formatting, against straightforward references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pat_cli import _format
from pat_cli._sparkline import BARS, render, sparkline

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def reference_bars(values: list[float], width: int) -> list[float]:
    """Point i goes to bar floor(i * bars / n); each bar is the mean of its finite points."""
    bars = min(width, len(values))
    chunks: list[list[float]] = [[] for _ in range(bars)]
    for index, value in enumerate(values):
        if math.isfinite(value):
            chunks[index * bars // len(values)].append(value)
    return [sum(chunk) / len(chunk) if chunk else math.nan for chunk in chunks]


@given(
    st.lists(st.one_of(finite, st.just(math.nan), st.just(math.inf)), min_size=1, max_size=300),
    st.integers(1, 30),
)
def test_sparkline_equals_rendering_the_reference_bar_means(values, width):
    assert sparkline(values, width) == render(reference_bars(values, width))


@given(st.lists(finite, min_size=2, max_size=200, unique=True))
def test_sorted_values_give_non_decreasing_bars_from_lowest_to_highest(values):
    spread = max(values) - min(values)
    assume(spread > 1e-9 * max(1.0, *map(abs, values)))  # smaller spreads draw a flat line
    line = sparkline(sorted(values), width=12)
    levels = [BARS.index(c) for c in line]
    assert levels == sorted(levels)
    assert levels[0] == 0
    assert levels[-1] == len(BARS) - 1


def test_constant_all_nan_and_empty_series():
    assert sparkline([3.0] * 50, width=5) == BARS[3] * 5
    assert sparkline([math.nan] * 4, width=4) == "    "
    assert sparkline([], width=4) == ""
    with pytest.raises(ValueError, match="width must be >= 1"):
        sparkline([1.0], width=0)


@given(st.lists(st.one_of(finite, st.just(math.nan)), min_size=1, max_size=60), st.integers(1, 60))
def test_render_to_a_narrower_width_keeps_length_and_gaps(means, width):
    line = render(np.array(means), width)
    assert len(line) == min(width, len(means))
    if all(math.isnan(m) for m in means):
        assert line.strip() == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567, "1,234,567"),
        (0.000123456, "0.0001235"),
        (-4.0, "-4"),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
        (None, "-"),
    ],
)
def test_number_format(value, text):
    assert _format.number(value) == text


@pytest.mark.parametrize(("seconds", "text"), [(12.34, "12.3 s"), (65, "1m 05s"), (3725, "1h 02m")])
def test_duration_format(seconds, text):
    assert _format.duration(seconds) == text


def test_json_number_turns_non_finite_into_null():
    assert [_format.json_number(v) for v in (1.5, 2, math.nan, math.inf)] == [1.5, 2, None, None]
