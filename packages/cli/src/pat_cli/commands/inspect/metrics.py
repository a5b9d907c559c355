"""``pat inspect metrics``: what a run logged, one row per key, read fast."""

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pat_cli import _format
from pat_cli._console import console
from pat_cli._errors import bad_option
from pat_cli._key_selection import select_keys
from pat_cli._options import Experiment, JsonOutput, KeyGlobs, TrackingUri

if TYPE_CHECKING:
    from pat_cli._mlflow_store import RunInfo
    from pat_cli._plot import Plotted
    from pat_skrl_mlflow import History, MetricSummary

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def metrics(
    run_id: Annotated[
        str | None,
        typer.Argument(
            help="Run to inspect. Default: the latest run of the current experiment "
            "(--experiment / MLFLOW_EXPERIMENT_NAME), or of the whole store when none is set.",
            show_default=False,
        ),
    ] = None,
    *,
    key: KeyGlobs = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also draw every chosen key as a curve, 24 panels a page: a .pdf gets one "
            "page per 24 keys; png, svg or jpg get one image per 24 keys (curves.png, "
            "curves-2.png, ...). Keys with no finite value are not drawn; the line after the "
            "table lists the files and names any key left out.",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    json_output: JsonOutput = False,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
) -> None:
    """One row per metric key of a run: count, first/last step, last, min, max, trend.

    Example: pat inspect metrics --key 'episode_*' --plot curves.png
    """
    if plot is not None:
        _check_plot_path(plot)

    from pat_cli._mlflow_store import open_run, resolve_tracking_uri
    from pat_skrl_mlflow import read_histories, summarize_run

    uri = resolve_tracking_uri(tracking_uri)
    client, run = open_run(uri, run_id, experiment)  # a sqlite store is read without MLflow
    keys = select_keys(run.metric_keys, key or [], owner=f"run {run.run_id}")

    started = time.perf_counter()
    summaries, method = summarize_run(client, run.run_id, keys, run.latest)
    elapsed = time.perf_counter() - started

    plotted = None
    if plot is not None:
        from pat_cli._plot import plot_histories

        histories = read_histories(client, run.run_id, keys)
        plotted = plot_histories(
            # A key without any stored point has no history; it is left out like an all-NaN one.
            [histories.get(k) or _empty_history(k) for k in keys],
            plot,
            title=f"run {run.run_id} · {run.experiment_name}",
        )

    if json_output:
        typer.echo(json.dumps(_payload(run, summaries, plotted), indent=2))
        return

    from pat_cli.commands.inspect._tables import metrics_table

    how = "summarised in the database" if method == "sql" else "get_metric_history per key"
    points = sum(s.count for s in summaries)
    caption = (
        f"{len(summaries)} keys, {points:,} points, {how} in {_format.duration(elapsed)}"
        f" · store {run.tracking_uri}"
    )
    console.print(metrics_table(run, summaries, caption, width=console.width))
    reason = _left_running(run)
    if reason:
        console.print(
            f"Note: run {run.run_id} was left RUNNING: {reason}. `pat sync --mark-dead` in "
            "the directory it trained in ends it as KILLED.",
            highlight=False,
            soft_wrap=False,  # wrapped at spaces: the run id stays whole
        )
    if plotted is not None:
        from pat_cli._plot import describe

        console.print(describe(plotted), highlight=False, soft_wrap=True)


def _empty_history(key: str) -> "History":
    import numpy as np

    from pat_skrl_mlflow import History

    empty = np.array([], dtype=np.float64)
    return History(key, empty.astype(np.int64), empty, empty.astype(np.int64))


def _left_running(run: "RunInfo") -> str | None:
    from pat_skrl_mlflow import left_running

    return left_running(run.status, run.tags)


def _payload(
    run: "RunInfo", summaries: "list[MetricSummary]", plotted: "Plotted | None"
) -> dict[str, object]:
    from pat_cli._plot import payload as plot_payload

    return {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "status": run.status,
        "experiment": run.experiment_name,
        "experiment_id": run.experiment_id,
        "tracking_uri": run.tracking_uri,
        "left_running": _left_running(run),
        "metrics": [
            {
                "key": s.key,
                "count": s.count,
                "nan_count": s.nan_count,
                "first_step": s.first_step,
                "last_step": s.last_step,
                "last": _format.json_number(s.last),
                "min": _format.json_number(s.min),
                "max": _format.json_number(s.max),
                "trend": [_format.json_number(v) for v in s.trend],
            }
            for s in summaries
        ],
        **plot_payload(plotted),
    }


def _check_plot_path(plot: Path) -> None:
    if plot.suffix.lower() not in PLOT_SUFFIXES:
        bad_option("--plot", str(plot), "a file name ending in " + ", ".join(PLOT_SUFFIXES))
    if not plot.parent.is_dir():
        bad_option("--plot", str(plot), "a file in an existing directory")
