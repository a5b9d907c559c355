"""``pat compare``: runs side by side, one row per metric key, each run's last and best value."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pat_cli._console import console
from pat_cli._errors import bad_option
from pat_cli._key_selection import select_keys
from pat_cli._options import JsonOutput, KeyGlobs, TrackingUri
from pat_cli.commands.inspect.metrics import PLOT_SUFFIXES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow import MlflowClient

    from pat_cli._mlflow_store import RunInfo
    from pat_cli._plot import Plotted
    from pat_skrl_mlflow import MetricSummary, SqliteStore


Opened = tuple["MlflowClient | SqliteStore", "RunInfo"]
"""What ``open_run`` returns: how to read a run, and the run."""
MIN_WORDS = ("loss", "error")
"""A key whose name contains one of these (any case) is best at its minimum; others at their max."""


@dataclass(frozen=True)
class ComparedKey:
    """One row of the comparison: a key, whether its best is its max or min, each run's values."""

    key: str
    goal: str
    """``"max"`` or ``"min"`` (``goal``)."""
    values: tuple[tuple[float, float] | None, ...]
    """Per run, in the order compared: ``(last, best)``, or ``None`` where it lacks the key."""


def goal(key: str) -> str:
    """``"min"`` for a key whose name contains ``loss`` or ``error`` (any case), else ``"max"``."""
    lowered = key.lower()
    return "min" if any(word in lowered for word in MIN_WORDS) else "max"


def _two_or_more(runs: list[str]) -> list[str]:
    if len(runs) < 2:
        raise typer.BadParameter(f"got {len(runs)} run id; give 2 or more runs to compare.")
    twice = [run for index, run in enumerate(runs) if run in runs[:index]]
    if twice:
        raise typer.BadParameter(f"run {twice[0]!r} is given twice; give each run once.")
    return runs


def compare(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Ids of the runs to compare (2 or more), e.g. from `pat runs`.",
            show_default=False,
            callback=_two_or_more,
        ),
    ],
    *,
    key: KeyGlobs = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also draw each key as one panel, one curve per run, into this image "
            "(png, pdf, svg, jpg).",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    json_output: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Compare runs side by side: per metric key, each run's last and best value.

    One row per key any of the runs logged; `-` where a run lacks it. Best is the key's
    max, or its min when the key's name contains "loss" or "error" (any case); the goal
    column says which. The header names a run by the first 8 characters of its id and its
    name; the full ids are listed above the table.

    Example: pat compare RUN_A RUN_B --key 'episode_*' --plot compare.png
    """
    if plot is not None:
        _check_plot_path(plot)

    from pat_cli._mlflow_store import open_run, resolve_tracking_uri
    from pat_skrl_mlflow import summarize_run

    uri = resolve_tracking_uri(tracking_uri)
    opened = [open_run(uri, run_id, None) for run_id in runs]  # a sqlite store: no MLflow
    infos = [run for _, run in opened]
    every = sorted({k for run in infos for k in run.latest})
    keys = select_keys(every, key or [], owner="these runs", several=True)

    summaries: list[dict[str, MetricSummary]] = []
    for client, run in opened:
        own = [k for k in keys if k in run.latest]
        found, _ = summarize_run(client, run.run_id, own, run.latest)
        summaries.append({s.key: s for s in found})
    rows = [_compared(k, summaries) for k in keys]

    plotted = None if plot is None else _plot(opened, keys, plot)

    if json_output:
        typer.echo(json.dumps(_payload(infos, rows, plotted), indent=2))
        return

    from pat_cli.commands._runs_tables import compare_tables, run_list

    experiments = {run.experiment_name for run in infos}
    where = (
        f"experiment {infos[0].experiment_name!r} in {infos[0].tracking_uri}"
        if len(experiments) == 1
        else infos[0].tracking_uri
    )
    console.print(f"Comparing {len(infos)} runs of {where}:", highlight=False)
    console.print(run_list(infos, experiments=len(experiments) > 1), crop=False)
    console.print(
        "Best: a key's max, or its min when its name has 'loss' or 'error'.", highlight=False
    )
    for table in compare_tables(infos, rows, width=console.width):
        console.print(table, crop=False)  # a narrow console: lines wider, never cut
    if plotted is not None:
        from pat_cli._plot import describe

        console.print(describe(plotted), highlight=False, soft_wrap=True)


def _compared(key: str, summaries: "Sequence[dict[str, MetricSummary]]") -> ComparedKey:
    best_is = goal(key)
    values: list[tuple[float, float] | None] = []
    for per_run in summaries:
        summary = per_run.get(key)
        if summary is None:
            values.append(None)
        else:
            values.append((summary.last, summary.max if best_is == "max" else summary.min))
    return ComparedKey(key, best_is, tuple(values))


def _plot(opened: "Sequence[Opened]", keys: "Sequence[str]", path: Path) -> "Plotted":
    from pat_cli._plot import plot_runs
    from pat_skrl_mlflow import read_histories

    histories = [
        read_histories(client, run.run_id, [k for k in keys if k in run.latest])
        for client, run in opened
    ]
    labels = [
        f"{run.run_id[:8]} {run.run_name}" if run.run_name else run.run_id[:8] for _, run in opened
    ]
    return plot_runs(histories, labels, keys, path, title=f"{len(opened)} runs compared")


def _payload(
    runs: "Sequence[RunInfo]", rows: "Sequence[ComparedKey]", plotted: "Plotted | None"
) -> dict[str, object]:
    from pat_cli import _format
    from pat_cli._plot import payload as plot_payload

    return {
        "tracking_uri": runs[0].tracking_uri,
        "runs": [
            {
                "run_id": run.run_id,
                "run_name": run.run_name,
                "status": run.status,
                "experiment": run.experiment_name,
                "experiment_id": run.experiment_id,
            }
            for run in runs
        ],
        "metrics": [
            {
                "key": row.key,
                "goal": row.goal,
                "runs": {
                    run.run_id: None
                    if value is None
                    else {
                        "last": _format.json_number(value[0]),
                        "best": _format.json_number(value[1]),
                    }
                    for run, value in zip(runs, row.values, strict=True)
                },
            }
            for row in rows
        ],
        **plot_payload(plotted),
    }


def _check_plot_path(plot: Path) -> None:
    if plot.suffix.lower() not in PLOT_SUFFIXES:
        bad_option("--plot", str(plot), "a file name ending in " + ", ".join(PLOT_SUFFIXES))
    if not plot.parent.is_dir():
        bad_option("--plot", str(plot), "a file in an existing directory")
