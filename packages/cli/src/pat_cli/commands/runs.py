"""``pat runs``: the runs of an experiment, newest first, with a few key metrics."""

import dataclasses
import json
import os
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from pat_cli._console import console, err_console
from pat_cli._errors import bad_option
from pat_cli._options import Experiment, JsonOutput, TrackingUri, WholeNumber

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow import MlflowClient
    from mlflow.entities import Experiment as MlflowExperiment

    from pat_skrl_mlflow import ListedRun, RunListing, UnknownExperimentError

DEFAULT_METRICS = ("episode_reward_mean", "policy_loss")
"""The metric columns shown when ``--metric`` is not given, those of them some run has."""
DEFAULT_LIMIT = 20
MAX_LIMIT = 50_000  # MLflow's search_runs refuses more results per request
STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")  # mlflow.entities.RunStatus


def runs(
    *,
    experiment: Experiment = None,
    tracking_uri: TrackingUri = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            help=f"Show at most this many runs (1 to {MAX_LIMIT:,}).",
            parser=WholeNumber("--limit", 1, 50),
        ),
    ] = DEFAULT_LIMIT,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only runs with this status: " + ", ".join(STATUSES) + " (any case).",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            metavar="<key>",
            help="Show this metric's latest value (repeatable). Default: "
            + " and ".join(DEFAULT_METRICS)
            + ", where the runs have them.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOutput = False,
) -> None:
    """List the runs of an experiment, newest first, with their latest key metrics.

    Each run: its id, name, status, start time (local), duration and the latest value of a
    few metrics. The experiment is --experiment / MLFLOW_EXPERIMENT_NAME, else every
    experiment of the store. --json prints a list of objects, one per run.

    Example: pat runs --experiment cartpole --status failed -m value_loss
    """
    if limit > MAX_LIMIT:
        bad_option("--limit", str(limit), f"a whole number from 1 to {MAX_LIMIT:,}")
    chosen_status = _check_status(status)
    keys = list(dict.fromkeys(metric)) if metric else list(DEFAULT_METRICS)

    from pat_cli._mlflow_store import resolve_tracking_uri
    from pat_skrl_mlflow import UnknownExperimentError

    uri = resolve_tracking_uri(tracking_uri)
    try:
        # One more than shown tells whether there are more (MLflow returns 50,000 at most).
        asked = min(limit + 1, MAX_LIMIT)
        listing = list_runs(uri, experiment, limit=asked, status=chosen_status, keys=keys)
    except UnknownExperimentError as unknown:
        _unknown_experiment(unknown, experiment)
    more = len(listing.runs) > limit or (limit == MAX_LIMIT and len(listing.runs) == limit)
    listing = dataclasses.replace(listing, runs=listing.runs[:limit])
    if not metric:  # the defaults: only those some listed run has
        keys = [k for k in keys if any(k in run.metrics for run in listing.runs)]

    if json_output:
        typer.echo(json.dumps([_payload(run, keys) for run in listing.runs], indent=2))
        return
    if not listing.runs:
        console.print(_nothing_found(listing, chosen_status), highlight=False, soft_wrap=True)
        return

    from pat_cli.commands._runs_tables import runs_table

    console.print(_title(listing, chosen_status, more), highlight=False)
    table, hidden = runs_table(listing.runs, keys, width=console.width)
    console.print(table, crop=False)  # a narrow console: lines wider, never cut
    if hidden:
        console.print(
            f"Not shown at {console.width} columns: {', '.join(hidden)} "
            "(pat runs --json, or a wider terminal).",
            highlight=False,
        )
    absent = [k for k in keys if not any(k in run.metrics for run in listing.runs)]
    if absent:
        err_console.print(
            f"Note: none of these runs has {', '.join(map(repr, absent))}; "
            "`pat inspect metrics RUN_ID` lists a run's keys.",
            highlight=False,
        )


def list_runs(
    tracking_uri: str,
    experiment: str | None,
    *,
    limit: int,
    status: str | None,
    keys: "Sequence[str]",
) -> "RunListing":
    """The newest runs of the chosen experiment(s): one way to read them per kind of store.

    A sqlite file is read directly (no MLflow import); every other store, and a sqlite case
    the direct reader leaves to MLflow, through ``MlflowClient.search_runs``.

    Raises:
        UnknownExperimentError: The chosen experiment is not in the store.
    """
    from pat_skrl_mlflow import SqliteStore

    store = SqliteStore.open(tracking_uri)
    listing = (
        store.list_runs(experiment, limit=limit, status=status, keys=keys)
        if store is not None
        else None
    )
    if listing is not None:
        return listing
    return _search_with_client(tracking_uri, experiment, limit=limit, status=status, keys=keys)


def _search_with_client(
    tracking_uri: str,
    experiment: str | None,
    *,
    limit: int,
    status: str | None,
    keys: "Sequence[str]",
) -> "RunListing":
    from pat_cli._mlflow_store import open_client
    from pat_skrl_mlflow import ListedRun, RunListing, mask_uri

    client = open_client(tracking_uri)  # exits 1 with a hint when there is no store to read
    experiments, chosen = _client_experiments(client, experiment)
    names = {e.experiment_id: e.name for e in experiments}
    wanted = set(keys)
    found = (
        client.search_runs(
            list(names),
            f"attributes.status = '{status}'" if status else "",
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
        if names
        else []
    )
    listed = [
        ListedRun(
            run_id=run.info.run_id,
            run_name=run.info.run_name or "",
            status=run.info.status,
            experiment_id=run.info.experiment_id,
            experiment_name=names.get(run.info.experiment_id, ""),
            start_time=run.info.start_time,
            end_time=run.info.end_time,
            metrics={k: v for k, v in run.data.metrics.items() if k in wanted},
        )
        for run in found
    ]
    return RunListing(listed, tuple(names.values()), mask_uri(tracking_uri), chosen)


def _client_experiments(
    client: "MlflowClient", experiment: str | None
) -> "tuple[list[MlflowExperiment], bool]":
    from mlflow.exceptions import MlflowException

    from pat_skrl_mlflow import UnknownExperimentError, experiment_choice

    name, experiment_id = experiment_choice(experiment)
    if not name and not experiment_id:
        return list(client.search_experiments()), False
    found: MlflowExperiment | None = None
    if name:
        found = client.get_experiment_by_name(name)
    else:
        try:
            found = client.get_experiment(str(experiment_id))
        except MlflowException as error:
            if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
    if found is None:
        known = [e.name for e in client.search_experiments()]
        raise UnknownExperimentError(name or str(experiment_id), known)
    return [found], True


def _check_status(status: str | None) -> str | None:
    if status is None:
        return None
    if status.strip().upper() not in STATUSES:
        bad_option("--status", status, "one of " + ", ".join(STATUSES))
    return status.strip().upper()


def _unknown_experiment(unknown: "UnknownExperimentError", experiment: str | None) -> NoReturn:
    if experiment:
        source = "--experiment"
    elif os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        source = "MLFLOW_EXPERIMENT_NAME"
    else:
        source = "MLFLOW_EXPERIMENT_ID"
    shown = ", ".join(repr(name) for name in unknown.known[:10])
    more = f" and {len(unknown.known) - 10} more" if len(unknown.known) > 10 else ""
    bad_option(
        source,
        unknown.wanted,
        f"an experiment of this store: {shown}{more}" if shown else "an experiment (none yet)",
    )


def _where(listing: "RunListing", status: str | None, count: int = 0) -> str:
    runs = "run" if count == 1 else "runs"
    runs = f"{status} {runs}" if status else runs
    if listing.chosen:
        return f"{runs} of experiment {listing.experiments[0]!r} in {listing.tracking_uri}"
    return f"{runs} in {listing.tracking_uri} (all experiments)"


def _nothing_found(listing: "RunListing", status: str | None) -> str:
    return f"No {_where(listing, status)}."


def _title(listing: "RunListing", status: str | None, more: bool) -> str:
    count = len(listing.runs)
    if more:
        return f"The newest {count} {_where(listing, status, count)}; --limit N shows more."
    return f"{count} {_where(listing, status, count)}, newest first."


def _payload(run: "ListedRun", keys: "Sequence[str]") -> dict[str, object]:
    from pat_cli import _format
    from pat_cli.commands._runs_tables import iso_time, seconds_between

    return {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "status": run.status,
        "experiment": run.experiment_name,
        "experiment_id": run.experiment_id,
        "start_time": iso_time(run.start_time),
        "end_time": iso_time(run.end_time),
        "duration_s": seconds_between(run.start_time, run.end_time),
        "metrics": {
            k: _format.json_number(run.metrics[k]) if k in run.metrics else None for k in keys
        },
    }
