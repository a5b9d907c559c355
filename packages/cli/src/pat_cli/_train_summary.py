"""What ``pat train`` prints at the end: a summary table and the exact next commands."""

from __future__ import annotations

import contextlib
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from pat_cli import _format
from pat_skrl_mlflow import default_tracking_uri

REWARD_KEY = "episode_reward_mean"
ENV_PREFIXES = ("Episode_Metrics/", "Episode_Reward/", "Episode_Termination/", "Metrics/")


@dataclass
class TrainOutcome:
    """The facts of one finished (or interrupted) training."""

    status: str
    task: str
    algorithm: str
    device: str
    num_envs: int
    run_id: str | None
    experiment: str
    tracking_uri: str
    timesteps_done: int
    timesteps_total: int
    wall_seconds: float
    reward_first: float | None = None
    reward_last: float | None = None
    env_metrics: dict[str, float] = field(default_factory=dict)
    points_logged: int = 0
    points_rejected: int = 0
    points_filtered: int = 0
    points_dropped: int = 0
    points_failed: int = 0
    points_waiting: int = 0
    spool: str | None = None
    keys_logged: int = 0
    tags_filtered: tuple[str, ...] = ()
    rejections: dict[str, str] = field(default_factory=dict)
    unmatched: tuple[Any, ...] = ()
    checkpoint: Path | None = None
    model: str | None = None
    """The logged policy's URI (``models:/NAME/VERSION`` when registered)."""
    stopped_by: str = ""
    """What ended a KILLED training: ``Ctrl-C`` or ``SIGTERM``."""
    world_size: int = 1
    """Ranks that trained together (``pat train --nproc-per-node``)."""


def summary_table(outcome: TrainOutcome) -> Table:
    """Two columns: what and value."""
    table = Table(
        title=f"pat train · {outcome.task} · {outcome.status}",
        title_justify="left",
        show_header=False,
        box=box.SIMPLE,
        pad_edge=False,
    )
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("run id", outcome.run_id or "-")
    table.add_row("experiment", outcome.experiment)
    table.add_row("tracking URI", outcome.tracking_uri)
    ranks = f" x {outcome.world_size} ranks" if outcome.world_size > 1 else ""
    table.add_row(
        "agent", f"{outcome.algorithm} on {outcome.device}, {outcome.num_envs} envs{ranks}"
    )
    table.add_row("timesteps", f"{outcome.timesteps_done:,} of {outcome.timesteps_total:,}")
    table.add_row("wall time", _format.duration(outcome.wall_seconds))
    if outcome.reward_last is None and outcome.points_waiting:  # not read back: not stored yet
        reward = "not read back: its points may be among those waiting in the spool"
    elif outcome.reward_last is None:
        reward = "not logged (no episode ended in a logged window, or filtered out)"
    else:
        reward = _format.number(outcome.reward_last)
        if outcome.reward_first is not None:
            reward = f"{_format.number(outcome.reward_first)} (first) -> {reward} (last)"
    table.add_row(REWARD_KEY, reward)
    for key, value in sorted(outcome.env_metrics.items()):
        table.add_row(key, _format.number(value))
    logged = f"{outcome.points_logged:,} points"
    if not outcome.points_waiting:  # with points waiting the run is not read back
        logged += f" in {outcome.keys_logged} keys"
    problems = [
        f"{outcome.points_rejected:,} rejected" if outcome.points_rejected else "",
        f"{outcome.points_dropped:,} dropped (queue full)" if outcome.points_dropped else "",
        f"{outcome.points_failed:,} not stored (store unavailable)"
        if outcome.points_failed
        else "",
    ]
    table.add_row("metrics logged", logged + "".join(f", {p}" for p in problems if p))
    if outcome.points_waiting:
        table.add_row(
            "metrics waiting",
            f"{outcome.points_waiting:,} points in {outcome.spool} (the store was unreachable): "
            "`pat sync` delivers them",
        )
    for key, reason in list(outcome.rejections.items())[:5]:
        table.add_row("  rejected", f"{key}: {reason}")
    table.add_row(
        "filtered out",
        f"{outcome.points_filtered:,} points of {len(outcome.tags_filtered)} tags"
        if outcome.tags_filtered
        else "nothing",
    )
    if outcome.unmatched:
        for item in outcome.unmatched:
            hint = (
                f" (did you mean {', '.join(map(repr, item.suggestions))}?)"
                if item.suggestions
                else ""
            )
            table.add_row(f"unmatched {item.kind}", f"{item.pattern!r} matched nothing{hint}")
    else:
        table.add_row("unmatched patterns", "none")
    return table


def checkpoints_line(latest: Path | None) -> str:
    """Where skrl saved the agent (what ``--checkpoint`` takes), relative when under here."""
    if latest is None:
        return "none saved (skrl saves every checkpoint_interval timesteps)"
    directory = latest.parent
    with contextlib.suppress(ValueError):
        directory = directory.resolve().relative_to(Path.cwd().resolve())
    return f"{directory}{os.sep} (latest {latest.name})"


def launcher() -> str:
    """How the user started pat, to print commands they can paste: ``uv run `` or nothing."""
    if os.environ.get("UV") and os.environ.get("VIRTUAL_ENV"):  # `uv run` sets both
        return "uv run "
    return ""


def next_commands(outcome: TrainOutcome) -> list[str]:
    """The commands to look at the run (and to resume it, when a checkpoint exists).

    They run as printed: with the launcher the user used (``uv run``), a store URI that
    works (a masked password is not pasteable: ``"$MLFLOW_TRACKING_URI"`` when that names
    the store), and run ids that exist (an offline run gets its id from ``pat sync``).
    """
    from pat_skrl_mlflow import OFFLINE_PREFIX, mask_uri

    run = launcher()
    uri = outcome.tracking_uri
    quoted = shlex.quote(uri)
    environment = os.environ.get("MLFLOW_TRACKING_URI", "")
    if environment != uri and mask_uri(environment) == uri:  # `uri` is it, masked
        quoted = '"$MLFLOW_TRACKING_URI"'
    store = "" if uri == default_tracking_uri() else f" --tracking-uri {quoted}"
    commands = []
    offline = bool(outcome.run_id and outcome.run_id.startswith(OFFLINE_PREFIX))
    if outcome.points_waiting and outcome.spool:
        commands.append(f"{run}pat sync {shlex.quote(outcome.spool)}{store}")
    if outcome.run_id and not offline:
        commands.append(f"{run}pat inspect metrics {outcome.run_id}{store}")
    elif offline:  # the run exists once `pat sync` created it: the latest run then
        commands.append(f"{run}pat inspect metrics{store}")
    if uri.startswith(("sqlite:", "file:", "postgresql", "mysql", "mssql")):
        commands.append(f"{run}mlflow ui --backend-store-uri {quoted}")
    elif uri.startswith("http"):
        commands.append(f"open {uri} in a browser")
    if outcome.model:  # a logged (registered) policy: run it back on the task
        commands.append(
            f"{run}pat eval --model {shlex.quote(outcome.model)} --task "
            f"{shlex.quote(outcome.task)}{store}"
        )
    if outcome.checkpoint is not None and outcome.status != "FINISHED":
        commands.append(
            f"{run}pat train --task {shlex.quote(outcome.task)} --checkpoint "
            f"{shlex.quote(str(outcome.checkpoint))} --resume{store}"
        )
    return commands
