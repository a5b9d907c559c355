"""Every table pat prints fits 80 columns with each key and task id whole on one line."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from pat_cli._mlflow_store import RunInfo
from pat_cli.commands._filter_tables import decisions_table, unmatched_table
from pat_cli.commands._tasks_table import tasks_table
from pat_cli.commands.inspect._tables import metrics_table, tracking_table
from pat_skrl_mlflow import FilterDecision as Decision
from pat_skrl_mlflow import MetricName as Name
from pat_skrl_mlflow import MetricSummary, PatternReport, TagStats

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from rich.console import RenderableType

WIDTH = 80
LONG_KEYS = [
    "Episode_Metrics/action_l2_penalty_long_name/mean",
    "Episode_Reward/track_lin_vel_xy_exp",
    "Episode_Reward/track_ang_vel_z_exp",
    "Episode_Termination/base_contact",
    "Metrics/base_velocity/error_vel_xy",
    "policy_loss",
]
KIT = (
    "needs Isaac Sim / Kit (a TiledCamera sensor; PhysX deformables), which kitless Isaac Lab "
    "cannot provide: run it on a machine with Isaac Sim, or pick a task without cameras or PhysX"
)
OFFLINE = (
    "needs http://omniverse-content-production.s3.amazonaws.com/Assets/Robots/ANYbotics/"
    "anymal_d.usd, but omniverse-content-production.s3.amazonaws.com is unreachable and pat has "
    "no packaged stand-in: point ISAACSIM_ASSET_ROOT at a local copy"
)
MODULE = (
    "needs the Python module 'dex_retargeting', which is not installed (it is not part of "
    "kitless Isaac Lab's runtime): install it into this environment"
)


def render(renderable: RenderableType, width: int = WIDTH) -> list[str]:
    """What a user sees when ``renderable`` is printed at ``width`` columns to a file."""
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(renderable)
    output = console.file.getvalue()
    assert isinstance(output, str)
    return output.splitlines()


def whole(name: str, line: str) -> bool:
    """``name`` is on ``line`` as a whole word (not the prefix of a longer id or key)."""
    return re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/.-])", line) is not None


def assert_fits(lines: Sequence[str], names: Iterable[str], width: int = WIDTH) -> None:
    shown = "\n".join(lines)
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, f"lines wider than {width}:\n{shown}"
    for name in names:
        assert any(whole(name, line) for line in lines), f"{name!r} is split:\n{shown}"


def summary(key: str, count: int = 1_000) -> MetricSummary:
    return MetricSummary(
        key=key,
        count=count,
        nan_count=3 if key == "policy_loss" else 0,
        first_step=0,
        last_step=99_900,
        last=-12.3456,
        min=-1234.567,
        max=0.0123,
        trend=tuple(float(i) for i in range(20)),
    )


RUN = RunInfo(
    run_id="5b90711001d34e86a95973cdd31abdcc",
    run_name="honorable-shoat-457",
    status="FINISHED",
    experiment_id="0",
    experiment_name="Default",
    tracking_uri="sqlite:////tmp/store/mlflow.db",
    latest={},
)


def test_metrics_table_keeps_long_keys_whole_at_80_columns():
    lines = render(metrics_table(RUN, [summary(k) for k in LONG_KEYS], "6 keys", width=WIDTH))

    assert_fits(lines, LONG_KEYS)
    # The numbers are still there, whole, one metric's on one line.
    numbers = [line for line in lines if "0\u201399,900" in line]
    assert len(numbers) == len(LONG_KEYS)
    assert all("-1235" in line and "1,000" in line for line in numbers)
    assert any("(3 nan)" in line for line in numbers)


def test_metrics_table_is_one_line_per_key_when_it_fits():
    lines = render(metrics_table(RUN, [summary(k) for k in LONG_KEYS], "6 keys", width=120), 120)

    assert_fits(lines, LONG_KEYS, 120)
    for key in LONG_KEYS:
        (line,) = (line for line in lines if whole(key, line))
        assert line.split()[1] == "1,000"
        assert "0\u201399,900" in line
        assert line.rstrip().endswith("\u2588")  # the sparkline ends the row


def test_a_key_wider_than_the_console_folds_without_losing_characters():
    """The one exception: a key longer than the whole line cannot be on one line."""
    key = "Episode_Metrics/" + "very_long_segment_" * 6 + "mean"
    lines = render(metrics_table(RUN, [summary(key), summary("policy_loss")], "2 keys"))

    assert all(cell_len(line) <= WIDTH for line in lines), "\n".join(lines)
    assert key in "".join(line.strip() for line in lines)
    assert_fits(lines, ["policy_loss"])


def test_tracking_table_keeps_tags_and_keys_whole():
    tags = [
        TagStats(f"Info / {k}", k.replace(" ", "_"), "mean", 120, -0.5) for k in LONG_KEYS[:-1]
    ] + [TagStats("Loss / Policy loss", "Loss/Policy_loss", "mean", 12, 0.25)]
    kept = {t.tag: i % 2 == 0 for i, t in enumerate(tags)}

    lines = render(tracking_table(tags, kept, "Isaac-Velocity-Rough-Anymal-D-v0 · PPO · 6 tags"))

    assert_fits(lines, [t.tag for t in tags] + [t.key for t in tags])
    assert sum("kept" in line for line in lines) == 3
    assert sum("dropped" in line for line in lines) == 3


def test_dry_run_tables_keep_keys_and_patterns_whole():
    decisions = [
        Decision(Name(k, f"Info / {k}"), i % 2 == 0, ("Episode_*/*",) if i % 2 == 0 else (), ())
        for i, k in enumerate(LONG_KEYS)
    ]
    reports = [
        PatternReport(
            "Episode_Metrics/action_l2_penalty_long_name/maen",
            "include",
            ("Episode_Metrics/action_l2_penalty_long_name/mean",),
            (),
            (),
        )
    ]

    lines = render(decisions_table(decisions, "a rollout of Isaac-Velocity-Rough-Anymal-D-v0"))
    unmatched = render(unmatched_table(reports))

    assert_fits(lines, [d.name.key for d in decisions] + [f"Info / {k}" for k in LONG_KEYS])
    assert sum("\u2713 logged" in line for line in lines) == 3
    assert_fits(unmatched, ["'Episode_Metrics/action_l2_penalty_long_name/maen'"])
    assert "matches nothing" in " ".join(unmatched)


def isaac_rows(count: int) -> list[dict[str, Any]]:
    """Rows as ``pat tasks --check`` builds them: reasons name their task, most share one."""
    robots = ["Anymal-D", "Anymal-C", "Unitree-Go2", "Unitree-H1", "Spot", "Cassie", "G1"]
    rows = []
    for i in range(count):
        task = f"Isaac-Velocity-{'Rough' if i % 2 else 'Flat'}-{robots[i % 7]}-Play-v{i // 14}"
        reason = [KIT, OFFLINE, MODULE, ""][i % 4]
        rows.append(
            {
                "task": task,
                "framework": f"Isaac Lab {'manager' if i % 3 else 'direct'}",
                "algorithms": ["ppo", "amp", "ippo"] if i % 5 == 0 else ["ppo"],
                "default_algorithm": "ppo",
                "runs_here": not reason,
                "reason": f"task {task!r} {reason}" if reason else "",
            }
        )
    return rows


def test_tasks_check_table_gives_each_reason_once_below_the_table():
    rows = isaac_rows(40)

    lines = render(tasks_table(rows, checked=True))

    ids = [row["task"] for row in rows]
    assert_fits(lines, ids)
    assert len(lines) <= 3 * len(rows), "\n".join(lines)
    # Footnotes wrap at spaces (and fold a URL longer than the line): compare without spaces.
    text = "".join("".join(lines).split())
    for reason in (KIT, OFFLINE, MODULE):
        assert text.count("".join(reason.split())) == 1, "\n".join(lines)
    for row in rows:
        (line,) = (line for line in lines if whole(row["task"], line))
        if row["runs_here"]:
            assert "yes" in line.split()
            continue
        (note,) = re.findall(r"no \[(\d+)\]", line)
        reason = "".join(row["reason"].removeprefix(f"task {row['task']!r} ").split())
        assert f"[{note}]{reason}" in text, (note, "\n".join(lines))


def pat(*args: str, cwd: Path) -> list[str]:
    """Run ``pat ARGS`` as a user would, at 80 columns, output to a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"COLUMNS": str(WIDTH), "LINES": "50", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pat_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_pat_inspect_metrics_at_80_columns(store, tmp_path):
    store.log_run({key: [(i * 100, 0.5 * i) for i in range(30)] for key in LONG_KEYS})

    lines = pat("inspect", "metrics", "--tracking-uri", store.uri, cwd=tmp_path)

    assert_fits(lines, LONG_KEYS)
    assert sum("0\u20132,900" in line for line in lines) == len(LONG_KEYS)


def test_pat_dry_run_filter_at_80_columns(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(LONG_KEYS) + "\n")

    lines = pat("dry-run", "filter", "Episode_Reward/*", "--keys-file", str(keys), cwd=tmp_path)

    assert_fits(lines, LONG_KEYS)


@pytest.mark.parametrize("check", [False, True])
def test_pat_tasks_at_80_columns(tmp_path, check):
    from pat_cli.tasks import GYM_TASKS

    lines = pat("tasks", *(["--check"] if check else []), cwd=tmp_path)

    assert_fits(lines, list(GYM_TASKS))


def test_pat_inspect_tracking_data_at_80_columns(tmp_path):
    lines = pat(
        "inspect",
        "tracking-data",
        "--task",
        "CartPole-v1",
        "--timesteps",
        "64",
        "--num-envs",
        "2",
        "--metric-filter",
        "episode_reward_*",
        "--metric-filter",
        "Loss/Policy_lo",
        cwd=tmp_path,
    )

    assert_fits(
        lines,
        [
            "Reward / Total reward (mean)",
            "episode_reward_mean",
            "Stats / Algorithm update time (ms)",
            "algorithm_update_time_ms",
            "Episode_Metrics/cart_position_abs_max",
            "'Loss/Policy_lo'",
        ],
    )
    assert not (tmp_path / "mlflow.db").exists()
