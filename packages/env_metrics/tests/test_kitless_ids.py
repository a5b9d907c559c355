"""2.x -> 3.0 task id mapping and close matches (pure: no Isaac Lab needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pat_env_metrics.kitless._ids import RENAMED_TASKS, close_task_ids, map_task_id

# Ids registered by isaaclab 3.0.0 (a subset: every family the mapping rules touch).
REGISTERED = (
    "Isaac-Ant",
    "Isaac-Ant-Direct",
    "Isaac-Cartpole",
    "Isaac-Cartpole-Camera",
    "Isaac-Cartpole-Camera-Direct",
    "Isaac-Cartpole-Direct",
    "Isaac-Humanoid",
    "Isaac-Lift-KukaAllegro",
    "Isaac-Open-Drawer-Franka",
    "Isaac-Open-Drawer-Franka-Direct",
    "Isaac-Reach-Franka",
    "Isaac-Reach-UR10",
    "Isaac-Reorient-Cube-Allegro",
    "Isaac-Reorient-Cube-Allegro-Direct",
    "Isaac-Reorient-Cube-Shadow-Camera-Direct",
    "Isaac-Reorient-Cube-Shadow-Direct",
    "Isaac-Reorient-KukaAllegro",
    "Isaac-Shadow-Handover-Direct",
    "Isaac-Velocity-Flat-AnymalD",
    "Isaac-Velocity-Flat-UnitreeGo2",
    "Isaac-Velocity-Rough-AnymalD",
    "IsaacContrib-DrLegs-Walk",
    "IsaacContrib-Reorient-Cube-Shadow-OpenAI-FF-Direct",
    "IsaacContrib-Stack-Cube-SO101-v0",
    "IsaacContrib-Velocity-Flat-AnymalC",
    "IsaacContrib-Velocity-Rough-AnymalC",
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Isaac-Cartpole-v0", "Isaac-Cartpole"),
        ("Isaac-Cartpole-Direct-v0", "Isaac-Cartpole-Direct"),
        ("Isaac-Cartpole-Camera-v0", "Isaac-Cartpole-Camera"),
        ("Isaac-Cartpole-Manager", "Isaac-Cartpole"),
        ("Isaac-Ant-v0", "Isaac-Ant"),
        ("Isaac-Reach-Franka-v0", "Isaac-Reach-Franka"),
        ("Isaac-Velocity-Flat-Anymal-D-v0", "Isaac-Velocity-Flat-AnymalD"),
        ("Isaac-Velocity-Flat-Unitree-Go2-v0", "Isaac-Velocity-Flat-UnitreeGo2"),
        ("Isaac-Velocity-Rough-Anymal-C-v0", "IsaacContrib-Velocity-Rough-AnymalC"),
        ("Isaac-Velocity-Flat-AnymalC-v0", "IsaacContrib-Velocity-Flat-AnymalC"),
        ("Isaac-Repose-Cube-Allegro-v0", "Isaac-Reorient-Cube-Allegro"),
        ("Isaac-Repose-Cube-Shadow-Vision-Direct-v0", "Isaac-Reorient-Cube-Shadow-Camera-Direct"),
        (
            "Isaac-Repose-Cube-Shadow-OpenAI-FF-Direct-v0",
            "IsaacContrib-Reorient-Cube-Shadow-OpenAI-FF-Direct",
        ),
        ("Isaac-Franka-Cabinet-Direct-v0", "Isaac-Open-Drawer-Franka-Direct"),
        ("Isaac-Shadow-Hand-Over-Direct-v0", "Isaac-Shadow-Handover-Direct"),
        ("Isaac-Dexsuite-Kuka-Allegro-Lift-v0", "Isaac-Lift-KukaAllegro"),
        ("Isaac-DrLegs-Walk-v0", "IsaacContrib-DrLegs-Walk"),
    ],
)
def test_isaaclab_2x_ids_map_to_their_3x_ids(old: str, new: str) -> None:
    assert map_task_id(old, REGISTERED) == new


def test_registered_id_is_returned_unchanged_even_with_a_version_suffix() -> None:
    assert (
        map_task_id("IsaacContrib-Stack-Cube-SO101-v0", REGISTERED)
        == "IsaacContrib-Stack-Cube-SO101-v0"
    )


@pytest.mark.parametrize(
    "task",
    [
        "Isaac-Cartpole-RGB-Camera-Direct-v0",  # retired: Isaac-Cartpole-Camera-Direct presets=rgb
        "Isaac-Quadcopter-Direct-v0",  # removed in 3.0
        "Cartpole-v1",  # gymnasium's, not Isaac Lab's
        "",
    ],
)
def test_ids_without_a_3x_counterpart_map_to_none(task: str) -> None:
    assert map_task_id(task, REGISTERED) is None


def test_ambiguous_ids_are_not_guessed() -> None:
    registered = ("Isaac-Foo-Bar", "IsaacContrib-Foo-Bar")
    assert map_task_id("Isaac-Foo-Bar-v0", registered) is None


def test_renamed_table_targets_are_3x_style_ids() -> None:
    for old, new in RENAMED_TASKS.items():
        assert not old.endswith("-v0"), old
        assert new.startswith(("Isaac-", "IsaacContrib-")), new
        assert not new.endswith("-v0"), new


@given(st.sampled_from(REGISTERED), st.sampled_from(["", "-v0", "-v1", "-V2"]))
def test_every_registered_id_is_found_with_or_without_a_version_suffix(
    task: str, suffix: str
) -> None:
    assert map_task_id(task + suffix, REGISTERED) == task


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("Isaac-Cartpol", "Isaac-Cartpole"),
        ("isaac-cartpole-direct", "Isaac-Cartpole-Direct"),
        ("Isaac-Velocity-Flat-Anymal-C", "IsaacContrib-Velocity-Flat-AnymalC"),
        ("Isaac-Reach-Frnka", "Isaac-Reach-Franka"),
    ],
)
def test_close_matches_suggest_the_intended_task(typo: str, expected: str) -> None:
    suggestions = close_task_ids(typo, REGISTERED)
    assert expected in suggestions
    assert len(suggestions) <= 3


def test_close_matches_of_nonsense_are_empty() -> None:
    assert close_task_ids("zzzzzz", REGISTERED) == []
