"""Deliver a spool's waiting points to the store later (``pat sync``).

Idempotent: points move to the store in sequence order and the spool's ``delivered``
marker moves after each accepted request, so running it twice sends nothing the second
time, and a sync cut short resumes where it stopped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow.run_store._http import fail_fast_over_http
from pat_skrl_mlflow.run_store._liveness import left_running
from pat_skrl_mlflow.run_store._secrets import MASK, mask_secrets, mask_uri, protect
from pat_skrl_mlflow.run_store._sink import MlflowSink, SinkUnavailable
from pat_skrl_mlflow.run_store._spool import POINTS, RUN, SPOOL_DIRNAME, Spool
from pat_skrl_mlflow.run_store._spooling_sink import _BATCH, OFFLINE_PREFIX, drain

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pat_skrl_mlflow.run_store._sink import MetricPoint

__all__ = ["RunNotInStore", "SpoolBusy", "SyncResult", "find_spools", "sync_spool", "target_uri"]


class RunNotInStore(Exception):  # noqa: N818 - reads as "the run is not in the store"
    """The store does not hold the run a spool's points belong to (the wrong store?)."""


class SpoolBusy(Exception):  # noqa: N818 - reads as "the spool is busy"
    """Another process (the training itself, another sync) is delivering this spool."""


@dataclass
class SyncResult:
    """What one ``sync_spool`` did.

    Attributes:
        spool: The spool directory.
        run_id: The run the points went to.
        created_run: Whether the run was created now (an offline run).
        delivered: Points stored by this sync.
        rejected: Points the store refused (see ``rejections``).
        waiting: Points still waiting afterwards.
        rejections: Key -> the store's reason.
        ended: The status this sync gave the run (its training ended while the store
            was unreachable, or ``mark_dead`` ended a run left RUNNING), else None.
        left_running: Why the run is RUNNING with nobody training it (its process was
            killed), when ``mark_dead`` was not asked for; else None.
    """

    spool: Path
    run_id: str | None
    created_run: bool = False
    delivered: int = 0
    rejected: int = 0
    waiting: int = 0
    rejections: dict[str, str] = field(default_factory=dict)
    ended: str | None = None
    left_running: str | None = None


def _is_spool(directory: Path) -> bool:
    # run.json alone: no point waits, but the run's end does (the store was down then)
    return (directory / POINTS).is_file() or (directory / RUN).is_file()


def find_spools(path: str | os.PathLike[str]) -> list[Path]:
    """Spool directories at ``path``: itself if it is one, else every one below it."""
    root = Path(path)
    if _is_spool(root):
        return [root]
    if _is_spool(root / SPOOL_DIRNAME):
        return [root / SPOOL_DIRNAME]
    found = {p.parent for name in (POINTS, RUN) for p in root.rglob(f"{SPOOL_DIRNAME}/**/{name}")}
    return sorted(found)


def sync_spool(
    directory: str | os.PathLike[str], tracking_uri: str | None = None, *, mark_dead: bool = False
) -> SyncResult:
    """Deliver the waiting points of one spool.

    Args:
        directory: The spool directory.
        tracking_uri: The store; default: the one the spool was written for (see
            :func:`target_uri`).
        mark_dead: End the run as KILLED when it is RUNNING and the process that trained
            it is gone (``kill -9``); else only report it in ``left_running``.

    Returns:
        What was delivered.

    Raises:
        SinkUnavailable: The store cannot be reached (nothing changed).
        SpoolBusy: Another process is delivering this spool.
        RunNotInStore: The store does not hold the spool's run (nothing changed).
        ValueError: No store is known for this spool.
    """
    from mlflow import MlflowClient

    fail_fast_over_http()
    spool = Spool(directory)
    info = spool.run_info()
    uri = target_uri(spool, tracking_uri)
    protect(str(uri))
    client = MlflowClient(str(uri))
    result = SyncResult(spool.directory, info.get("run_id"))
    with spool.exclusive(blocking=False) as mine:
        if not mine:
            raise SpoolBusy(f"{spool.directory} is being delivered by another process")
        pending = bool(spool.pending(limit=1))
        if pending or info.get("end_pending"):
            try:
                client.search_experiments(max_results=1)
            except Exception as exc:
                raise SinkUnavailable(f"{mask_uri(str(uri))}: {_first_line(exc)}") from exc
            _check_runs_exist(client, uri, spool, result.run_id)
        if not pending:
            _upload_pending(client, spool)
            result.ended = _finish_run(client, spool) or _end_dead(client, result, mark_dead)
            return result
        if not result.run_id and info.get("resume_run"):
            result.run_id = str(info["resume_run"])
            info = spool.update_run_info(run_id=result.run_id)
        if not result.run_id:
            result.run_id = _create_run(client, info)
            result.created_run = True
            info = spool.update_run_info(run_id=result.run_id)
            _replay(client, result.run_id, spool.directory, info)
            info = spool.update_run_info(artifacts_pending=False)
        run_id = result.run_id

        def write(spooled_run: str, points: Sequence[MetricPoint]) -> None:
            # offline points name a placeholder id: they belong to the run created now
            target = run_id if spooled_run.startswith(OFFLINE_PREFIX) else spooled_run
            MlflowSink(client, target).write(points)

        drained = drain(spool, write)
        result.delivered, result.rejected = drained.delivered, drained.rejected
        result.rejections = drained.rejections
        result.waiting = spool.pending_count()
        if not result.waiting:
            _upload_pending(client, spool)
            result.ended = _finish_run(client, spool) or _end_dead(client, result, mark_dead)
    return result


def target_uri(spool: Spool, explicit: str | None = None) -> str:
    """The store a spool is delivered to: ``explicit``, else the one it was written for.

    The spool's own store wins over ``MLFLOW_TRACKING_URI`` (a shell set up for another
    store must not receive, and refuse, another store's points). A recorded URI that had
    credentials is stored masked; then ``MLFLOW_TRACKING_URI`` is used if it names the
    same store.

    Raises:
        ValueError: No usable URI is known (the message says what to pass).
    """
    if explicit:
        return explicit
    recorded = str(spool.run_info().get("tracking_uri") or "")
    environment = os.environ.get("MLFLOW_TRACKING_URI", "")
    if recorded and MASK not in recorded:
        return recorded
    if recorded and environment and mask_uri(environment) == recorded:
        return environment
    if recorded:
        other = f"; MLFLOW_TRACKING_URI names {mask_uri(environment)}" if environment else ""
        raise ValueError(
            f"{spool.directory} was written for {recorded} (credentials are never stored "
            f"in a spool){other}: pass --tracking-uri with the store's credentials"
        )
    if environment:
        return environment
    raise ValueError(f"no tracking URI for {spool.directory}: pass --tracking-uri")


def _check_runs_exist(client: Any, uri: str, spool: Spool, run_id: str | None) -> None:
    """Refuse to deliver into a store that does not hold the spool's runs (nothing changes)."""
    from mlflow.exceptions import MlflowException

    runs = {item.run_id for item in spool.pending(limit=_BATCH)}
    if run_id:
        runs.add(run_id)
    for run in sorted(r for r in runs if not r.startswith(OFFLINE_PREFIX)):
        try:
            client.get_run(run)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise SinkUnavailable(f"{mask_uri(uri)}: {_first_line(exc)}") from exc
            recorded = spool.run_info().get("tracking_uri") or "an unrecorded store"
            raise RunNotInStore(
                f"run {run} is not in {mask_uri(uri)} (the spool was written for {recorded}); "
                f"nothing was delivered and {spool.directory} is unchanged"
            ) from exc


def _create_run(client: Any, info: dict[str, Any]) -> str:
    from pat_skrl_mlflow.run_store._run import mark_training_experiment

    experiment_id, created = "0", False
    name = info.get("experiment")
    if name:
        found = client.get_experiment_by_name(name)
        created = found is None
        experiment_id = found.experiment_id if found else client.create_experiment(name)
    mark_training_experiment(client, experiment_id, created=created)
    tags = {str(k): str(v) for k, v in (info.get("tags") or {}).items()}
    if info.get("offline_id"):
        tags["pat.offline_id"] = str(info["offline_id"])
    run = client.create_run(experiment_id, run_name=info.get("run_name"), tags=tags)
    return str(run.info.run_id)


def _replay(client: Any, run_id: str, directory: Path, info: dict[str, Any]) -> None:
    """Params and artifacts an offline training kept in its spool."""
    from mlflow.entities import Param

    params = [Param(str(k), str(v)) for k, v in (info.get("params") or {}).items()]
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start : start + 100])
    artifacts = directory / "artifacts"
    if artifacts.is_dir():
        client.log_artifacts(run_id, str(artifacts))


def _upload_pending(client: Any, spool: Spool) -> None:
    """Artifacts an online run could not upload at its end (the store was down then)."""
    info = spool.run_info()
    run_id = info.get("run_id")
    if not info.get("artifacts_pending") or not run_id:
        return
    artifacts = spool.directory / "artifacts"
    if artifacts.is_dir():
        client.log_artifacts(run_id, str(artifacts))
    checkpoints = info.get("checkpoints")
    if checkpoints and Path(checkpoints).is_dir() and any(Path(checkpoints).iterdir()):
        client.log_artifacts(run_id, str(checkpoints), "checkpoints")
    spool.update_run_info(artifacts_pending=False)


def _finish_run(client: Any, spool: Spool) -> str | None:
    """Give the run the status training ended with, if the store never got it.

    Returns:
        The status set now, or None (nothing to set, or the store still unreachable:
        the spool keeps asking for it).
    """
    info = spool.run_info()
    status, run_id = info.get("status"), info.get("run_id")
    if not status or not run_id or str(run_id).startswith(OFFLINE_PREFIX):
        return None
    try:
        if client.get_run(run_id).info.status != "RUNNING":
            spool.update_run_info(end_pending=False)
            return None
        client.set_terminated(run_id, status=status)
    except Exception:  # the points are what matters; the status is best effort
        return None
    spool.update_run_info(end_pending=False)
    return str(status)


def _end_dead(client: Any, result: SyncResult, mark_dead: bool) -> str | None:
    """End (``mark_dead``) or report a run whose training process was killed."""
    if not result.run_id or result.run_id.startswith(OFFLINE_PREFIX):
        return None
    try:
        run = client.get_run(result.run_id)
    except Exception:
        return None
    reason = left_running(run.info.status, run.data.tags)
    if reason is None:
        return None
    if not mark_dead:
        result.left_running = reason
        return None
    client.set_terminated(result.run_id, status="KILLED")
    return "KILLED"


def _first_line(exc: BaseException) -> str:
    return (mask_secrets(str(exc)).strip().splitlines() or [type(exc).__name__])[0][:200]
