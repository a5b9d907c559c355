"""``pat train`` against a store that cannot be reached: fail fast, or train offline.

Without ``--offline-ok`` an unreachable store stops ``pat train`` within seconds (exit 1,
credentials in the URI masked). With it, training runs against an offline run: metric
points, tags, params and artifacts wait in the run's spool (``<experiment dir>/pat_spool``)
and ``pat sync`` creates the run and delivers them.

Imported only inside command bodies (it imports mlflow).
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import TYPE_CHECKING, Any

from pat_cli._console import err_console
from pat_cli._errors import DOMAIN_ERROR, fail

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from pat_cli._train_plan import TrainPlan
    from pat_skrl_mlflow import Item, ProcessClient, RunTarget

CHECK_SECONDS = 5.0
"""Seconds one reachability request may take (a hung server); refused connections fail at once."""


def store_reachable(tracking_uri: str) -> str | None:
    """None when the store answers, else the reason (one line), within ~10 s."""
    import logging

    from pat_skrl_mlflow import open_store, probing_http

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # no retry chatter on a dead server
    try:
        with probing_http(CHECK_SECONDS):
            open_store(tracking_uri)
    except Exception as error:
        return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return None


def store_writer(tracking_uri: str, system_metrics: bool) -> ProcessClient | None:
    """Start pat's store writer process for the run now; None: MLflow runs in this process.

    For a store MLflow writes in-process (sqlite, a database) the child imports MLflow and
    opens an existing sqlite store while this process resolves the task and imports torch
    (a new one is created by the check, once the command's input is valid); it then
    creates, describes and ends the run and stores its metrics. A tracking server,
    ``PAT_STORE_PROCESS=0`` and ``--system-metrics`` (MLflow's monitor runs beside the
    run's creator) keep MLflow's client in this process.
    """
    from pat_skrl_mlflow import use_process

    if system_metrics or not use_process(tracking_uri):
        return None
    from pat_skrl_mlflow import ProcessClient, sqlite_path

    database = sqlite_path(tracking_uri)
    return ProcessClient(tracking_uri, open_store=database is not None and database.is_file())


def check_store_or_offline(
    tracking_uri: str, offline_ok: bool, writer: ProcessClient | None = None
) -> bool:
    """Exit 1 when the store is unreachable, unless ``offline_ok``; True: train offline.

    ``writer``: the run's store writer process (see :func:`store_writer`), which checks.
    """
    from pat_skrl_mlflow import mask_uri

    reason = store_reachable(tracking_uri) if writer is None else writer.check()
    if reason is None:
        return False
    masked = mask_uri(tracking_uri)
    reason = reason.replace(tracking_uri, masked)
    if not offline_ok:
        fail(
            f"cannot use the MLflow store {masked}: {reason}",
            hint="start the tracking server or fix --tracking-uri / MLFLOW_TRACKING_URI; "
            "--offline-ok trains anyway and spools the metrics for `pat sync`.",
            code=DOMAIN_ERROR,
        )
    err_console.print(
        f"MLflow store {masked} unreachable ({reason}): training offline; metrics are spooled "
        "beside the run's outputs and `pat sync` delivers them.",
        highlight=False,
        soft_wrap=True,
    )
    return True


class OfflineClient:
    """Stands in for ``MlflowClient`` of a run that does not exist yet: keeps what is logged.

    Tags and params go to the spool's ``run.json``, artifacts under ``artifacts/`` of the
    spool, the final status to ``run.json``; metric writes fail as "unavailable", so the
    spooling sink keeps them. ``pat sync`` replays all of it.
    """

    def __init__(self, spool_dir: Path) -> None:
        from pat_skrl_mlflow import Spool

        self.spool = Spool(spool_dir)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Any] = (),
        params: Iterable[Item] = (),
        tags: Iterable[Item] = (),
        synchronous: bool | None = None,
    ) -> None:
        if metrics:
            raise ConnectionError("offline run: metrics wait in the spool")
        info = self.spool.run_info()
        self.spool.update_run_info(
            params={**info.get("params", {}), **{p.key: p.value for p in params}},
            tags={**info.get("tags", {}), **{t.key: t.value for t in tags}},
        )

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        path = self._artifact(artifact_file)
        path.write_text(text)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        import json

        self._artifact(artifact_file).write_text(json.dumps(dictionary, indent=1, default=str))

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        target = self.spool.directory / "artifacts" / (artifact_path or "")
        shutil.copytree(local_dir, target, dirs_exist_ok=True)
        self._pending()

    def set_terminated(self, run_id: str, status: str | None = None) -> None:
        self.spool.update_run_info(status=status or "FINISHED")

    def get_run(self, run_id: str) -> Any:
        raise ConnectionError("offline run: not in the store until `pat sync`")

    def get_experiment(self, experiment_id: str) -> Any:
        raise ConnectionError("offline run: not in the store until `pat sync`")

    def get_metric_history(self, run_id: str, key: str) -> list[Any]:
        raise ConnectionError("offline run: not in the store until `pat sync`")

    def _artifact(self, artifact_file: str) -> Path:
        root = (self.spool.directory / "artifacts").resolve()
        path = (root / artifact_file).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"artifact path escapes the run: {artifact_file!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pending()
        return path

    def _pending(self) -> None:
        # A `pat sync` while the training still ran created the run and replayed what was
        # there then: later artifacts (the name table, checkpoints) are uploaded by the next.
        self.spool.update_run_info(artifacts_pending=True)


def masked(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` (for everything pat prints or writes)."""
    from pat_skrl_mlflow import mask_uri

    return mask_uri(uri)


def open_run(
    plan: TrainPlan,
    agent: Any,
    resume_run: str | None,
    *,
    offline: bool,
    writer: ProcessClient | None,
) -> RunTarget:
    """The run to train into: a new/resumed MLflow run, or an offline one.

    A new run is named ``--run-name``, else after skrl's log directory (``<time>_<algo>``
    under ``runs/<task>/``), so the run and its outputs on disk carry one name.

    ``writer``: the store writer process that creates the run (else MLflow, in this process).
    """
    from pat_skrl_mlflow import RunTarget, mask_uri, protect, start_run

    protect(plan.tracking_uri)  # before any run ends: MLflow would print the URI
    run_name = plan.run_name or _log_directory_name(agent, resume_run)
    if not offline and writer is not None:
        try:
            run_id = writer.start_run(
                experiment_name=plan.experiment, run_name=run_name, run_id=resume_run
            )
        except Exception as error:
            fail(
                f"could not start an MLflow run in {mask_uri(plan.tracking_uri)}: {error}",
                hint="check --experiment, MLFLOW_EXPERIMENT_NAME/_ID and MLFLOW_RUN_ID.",
                code=DOMAIN_ERROR,
            )
        return RunTarget(run_id, plan.tracking_uri, owned=True, client=writer)
    if not offline:
        return start_run(
            experiment_name=plan.experiment,
            run_name=run_name,
            run_id=resume_run,
            tracking_uri=plan.tracking_uri,
            log_system_metrics=plan.system_metrics,
        )
    from pat_skrl_mlflow import OFFLINE_PREFIX, spool_directory

    run_id = f"{OFFLINE_PREFIX}{uuid.uuid4().hex}"
    client = OfflineClient(spool_directory(agent, run_id))
    client.spool.update_run_info(
        tracking_uri=mask_uri(plan.tracking_uri),
        experiment=plan.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME"),
        run_name=run_name,
        resume_run=resume_run,
    )
    return RunTarget(run_id, plan.tracking_uri, owned=True, client=client)


def _log_directory_name(agent: Any, resume_run: str | None) -> str | None:
    """The name of skrl's log directory of ``agent``; None for a resumed run (it keeps its own)."""
    if resume_run or os.environ.get("MLFLOW_RUN_ID"):
        return None
    directory = getattr(agent, "experiment_dir", None)
    return os.path.basename(os.path.normpath(directory)) if directory else None
