"""Open an MLflow tracking store and find a run in it, turning failures into one-line errors.

Imported only inside command bodies. MLflow (seconds of start-up) is imported only where its
client is needed: ``open_run`` reads a sqlite store directly when it can (``_sqlite_store``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NoReturn

from pat_cli._errors import DOMAIN_ERROR, fail
from pat_skrl_mlflow import (
    PROCESS_TAGS,
    RunInfo,
    experiment_choice,
    resolve_tracking_uri,
    sqlite_path,
)

__all__ = [
    "RunInfo",  # also here for the commands: they read runs through this module
    "find_run",
    "open_client",
    "open_run",
    "resolve_tracking_uri",
]

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, Run

    from pat_skrl_mlflow import SqliteStore


def open_run(
    tracking_uri: str, run_id: str | None, experiment: str | None
) -> tuple[MlflowClient | SqliteStore, RunInfo]:
    """``find_run`` on the store, and what to read the run's metrics with.

    A sqlite store is read directly (no MLflow import) when its schema has what pat reads and
    the run is found; in every other case, errors included, through MLflow's client.
    """
    _fail_on_missing_database(tracking_uri)
    from pat_skrl_mlflow import SqliteStore

    store = SqliteStore.open(tracking_uri)
    if store is not None and (run := store.find_run(run_id, experiment)) is not None:
        return store, run
    if store is not None and run_id and store.has_run(run_id) is False:
        _run_not_found(run_id, tracking_uri, "no run has this id")  # without MLflow's import
    client = open_client(tracking_uri)
    return client, find_run(client, tracking_uri, run_id, experiment)


def open_client(tracking_uri: str) -> MlflowClient:
    """Return a client on an existing store; exit 1 with a hint when there is none to read.

    A missing sqlite file is reported instead of being created (MLflow would create an empty
    database, which is never what someone inspecting runs means).
    """
    from pat_skrl_mlflow import fail_fast_over_http

    fail_fast_over_http()  # a dead server fails in seconds, not after minutes of retries
    _fail_on_missing_database(tracking_uri)
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # after import: mlflow sets INFO
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)  # touches the store: fails now if unreachable
    except Exception as error:
        fail(
            f"cannot read the MLflow store {tracking_uri}: {_first_line(error)}",
            hint="check --tracking-uri / MLFLOW_TRACKING_URI and that the server is running.",
            code=DOMAIN_ERROR,
        )
    return client


def _fail_on_missing_database(tracking_uri: str) -> None:
    database = sqlite_path(tracking_uri)
    if database is not None and not database.is_file():
        fail(
            f"no MLflow store at {tracking_uri} (file {database} does not exist).",
            hint="run `pat train` here first, or pass --tracking-uri / set MLFLOW_TRACKING_URI.",
            code=DOMAIN_ERROR,
        )


def find_run(
    client: MlflowClient, tracking_uri: str, run_id: str | None, experiment: str | None
) -> RunInfo:
    """The run ``run_id``, else the latest run of ``experiment``, else of the whole store.

    ``experiment`` falls back to ``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID``.
    """
    from mlflow.exceptions import MlflowException

    if run_id:
        try:
            run = client.get_run(run_id)
        except MlflowException as error:
            _run_not_found(run_id, tracking_uri, _first_line(error))
        return _run_info(client, run, tracking_uri)

    experiments = _experiments(client, tracking_uri, experiment)
    runs = client.search_runs(
        [e.experiment_id for e in experiments],
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        where = f"experiment {experiments[0].name!r}" if len(experiments) == 1 else "any experiment"
        fail(
            f"no runs in {where} of {tracking_uri}.",
            hint="start one with `pat train --task CartPole-v1`, or pass --tracking-uri.",
            code=DOMAIN_ERROR,
        )
    return _run_info(client, runs[0], tracking_uri)


def _run_not_found(run_id: str, tracking_uri: str, why: str) -> NoReturn:
    fail(
        f"run {run_id!r} not found in {tracking_uri}: {why}",
        hint="list the runs with `pat runs` (`--experiment NAME` for one experiment), or "
        "omit RUN_ID to use the latest run.",
        code=DOMAIN_ERROR,
    )


def _experiments(
    client: MlflowClient, tracking_uri: str, experiment: str | None
) -> list[Experiment]:
    name, experiment_id = experiment_choice(experiment)
    if name:
        found = client.get_experiment_by_name(name)
        if found is None:
            known = ", ".join(repr(e.name) for e in client.search_experiments()) or "none"
            fail(
                f"experiment {name!r} not found in {tracking_uri}.",
                hint=f"experiments there: {known}.",
                code=DOMAIN_ERROR,
            )
        return [found]
    if experiment_id:
        from mlflow.exceptions import MlflowException

        try:
            return [client.get_experiment(experiment_id)]
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            fail(
                f"experiment id {experiment_id!r} (MLFLOW_EXPERIMENT_ID) not found in "
                f"{tracking_uri}.",
                hint="unset MLFLOW_EXPERIMENT_ID or pass --experiment <name>.",
                code=DOMAIN_ERROR,
            )
    return list(client.search_experiments())


def _run_info(client: MlflowClient, run: Run, tracking_uri: str) -> RunInfo:
    from pat_skrl_mlflow import mask_uri

    experiment = client.get_experiment(run.info.experiment_id)
    return RunInfo(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        status=run.info.status,
        experiment_id=run.info.experiment_id,
        experiment_name=experiment.name,
        tracking_uri=mask_uri(tracking_uri),
        latest=dict(run.data.metrics),
        tags={k: v for k, v in run.data.tags.items() if k in PROCESS_TAGS},
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
