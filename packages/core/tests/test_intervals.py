"""Log intervals: parsing every accepted and rejected form, and boundary-crossing policy."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pat_core.intervals
from pat_core import IntervalPolicy, LogInterval, parse_log_interval


@pytest.mark.parametrize(
    ("value", "kind", "every"),
    [
        ("step", "step", 1),
        ("STEP", "step", 1),
        (" Step\n", "step", 1),
        ("balanced", "balanced", 10),
        ("Balanced", "balanced", 10),
        ("rollout", "rollout", None),
        ("ROLLOUT ", "rollout", None),
        (1, "timesteps", 1),
        (100, "timesteps", 100),
        (np.int64(16), "timesteps", 16),
        ("100", "timesteps", 100),
        (" 100 ", "timesteps", 100),
        ("+7", "timesteps", 7),
        ("007", "timesteps", 7),
        ("1", "timesteps", 1),
    ],
)
def test_parse_accepts(value: str | int, kind: str, every: int | None) -> None:
    interval = parse_log_interval(value)
    assert interval == LogInterval(kind, every)  # type: ignore[arg-type]
    assert type(interval.every) in (int, type(None))
    # its text form parses back to the same interval
    assert parse_log_interval(str(interval)) == interval


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        -3,
        "0",
        "00",
        "-3",
        " -1 ",
        2.5,
        10.0,
        "2.5",
        "10.0",
        "1e3",
        "1_000",
        "0x10",
        "\u0661\u0660",  # Arabic-Indic digits "10"
        True,
        False,
        "",
        "   ",
        "fast",
        "steps",
        "every 10",
        "timesteps",
        None,
        [10],
        np.float64(3.0),
    ],
)
def test_parse_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="invalid log interval") as info:
        parse_log_interval(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert repr(value) in message
    for form in ("'step'", "'balanced'", "'rollout'", "positive whole number"):
        assert form in message


@pytest.mark.parametrize(
    ("value", "rollout_length", "resolved"),
    [
        ("step", None, 1),
        ("balanced", None, 10),
        ("250", None, 250),
        ("step", 16, 1),  # rollout length only matters for 'rollout'
        ("rollout", 16, 16),
        ("rollout", 1, 1),
        ("rollout", np.int32(24), 24),
    ],
)
def test_resolve(value: str, rollout_length: int | None, resolved: int) -> None:
    assert parse_log_interval(value).resolve(rollout_length) == resolved


@pytest.mark.parametrize("rollout_length", [None, 0, -16, 2.0, True])
def test_resolve_rollout_needs_a_positive_rollout_length(rollout_length: object) -> None:
    with pytest.raises(ValueError, match="'rollout' log interval needs the agent's rollout length"):
        parse_log_interval("rollout").resolve(rollout_length)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "every", "match"),
    [
        ("step", 2, "'step' log interval has every=1"),
        ("balanced", None, "'balanced' log interval has every=10"),
        ("rollout", 16, "'rollout' log interval has every=None"),
        ("timesteps", 0, "positive whole number"),
        ("timesteps", None, "positive whole number"),
        ("timesteps", True, "positive whole number"),
        ("hourly", 1, "unknown log interval kind 'hourly'"),
    ],
)
def test_log_interval_rejects_inconsistent_fields(kind: str, every: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LogInterval(kind, every)  # type: ignore[arg-type]


def test_log_interval_is_frozen_and_prints_as_parsed() -> None:
    interval = parse_log_interval("Balanced")
    with pytest.raises(AttributeError):
        interval.every = 3  # type: ignore[misc]
    assert str(interval) == "balanced"
    assert str(parse_log_interval(" 64 ")) == "64"


def due_at(every: int, timesteps: list[int]) -> list[int]:
    policy = IntervalPolicy(every)
    return [t for t in timesteps if policy.due(t)]


@pytest.mark.parametrize(
    ("every", "timesteps", "due"),
    [
        # every timestep seen
        (1, [0, 1, 2, 3], [1, 2, 3]),
        (10, list(range(35)), [10, 20, 30]),
        # hooks at the end of each 16-step rollout: one log per 16-step boundary
        (16, [15, 31, 47, 63], [31, 47, 63]),
        (16, [16, 32, 48], [16, 32, 48]),
        # balanced with rollouts of 16: every rollout crosses a 10-step boundary
        (10, [15, 31, 47, 63, 79], [15, 31, 47, 63, 79]),
        # odd strides keep the cadence (a % test would fire at 30 only)
        (10, list(range(0, 35, 3)), [12, 21, 30]),
        # a jump over several boundaries fires once
        (10, [5, 95, 99, 100], [95, 100]),
        # backwards does not refire; the next boundary after the furthest does
        (10, [25, 12, 29, 30, 21, 35, 40], [25, 30, 40]),
        # repeated timesteps fire once
        (5, [5, 5, 5, 6, 10, 10], [5, 10]),
        # resuming at a late timestep
        (100, [5000, 5050, 5100], [5000, 5100]),
    ],
)
def test_due_by_boundary_crossing(every: int, timesteps: list[int], due: list[int]) -> None:
    assert due_at(every, timesteps) == due


def test_last_boundary_is_the_largest_multiple_crossed() -> None:
    policy = IntervalPolicy(16)
    assert policy.last_boundary is None
    assert not policy.due(15)
    assert policy.last_boundary is None
    assert policy.due(31)
    assert policy.last_boundary == 16
    assert policy.due(100)  # crosses 32, 48, 64, 80, 96
    assert policy.last_boundary == 96
    assert not policy.due(50)
    assert policy.last_boundary == 96
    policy.reset()
    assert policy.last_boundary is None
    assert policy.due(16)


@pytest.mark.parametrize("every", [0, -1, 1.5, True, "10", None])
def test_policy_rejects_bad_every(every: object) -> None:
    with pytest.raises(ValueError, match="positive whole number"):
        IntervalPolicy(every)  # type: ignore[arg-type]


def test_policy_accepts_numpy_integers_and_rejects_bad_timesteps() -> None:
    policy = IntervalPolicy(np.int64(4))  # type: ignore[arg-type]
    assert policy.every == 4
    assert type(policy.every) is int
    assert policy.due(np.int32(9))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        policy.due(-1)
    with pytest.raises(TypeError):
        policy.due(12.0)  # type: ignore[arg-type]
    assert "every=4" in repr(policy)


def reference_due(every: int, timesteps: list[int]) -> list[bool]:
    """Brute force: list every multiple of `every` up to each timestep."""
    crossed: set[int] = set()
    answers = []
    for t in timesteps:
        furthest = max(crossed, default=0)
        new = [m for m in range(every, t + 1, every) if m > furthest]
        answers.append(bool(new))
        crossed.update(new)
    return answers


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=50),
    st.lists(st.integers(min_value=0, max_value=600), max_size=40),
)
def test_due_matches_brute_force(every: int, timesteps: list[int]) -> None:
    policy = IntervalPolicy(every)
    assert [policy.due(t) for t in timesteps] == reference_due(every, timesteps)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=50),
    st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=60),
)
def test_monotone_hooks_fire_once_per_new_boundary(every: int, strides: list[int]) -> None:
    timesteps = np.cumsum(strides).tolist()
    policy = IntervalPolicy(every)
    answers = [policy.due(t) for t in timesteps]
    expected, intervals_seen = [], {0}
    for t in timesteps:
        expected.append(t // every not in intervals_seen)
        intervals_seen.add(t // every)
    assert answers == expected


def test_docstring_examples() -> None:
    result = doctest.testmod(pat_core.intervals)
    assert result.attempted > 0
    assert result.failed == 0
