"""How a run ends when the store is unreachable at the end: the spool keeps the rest."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from mlflow import MlflowClient

from mlflow_server import free_port
from pat_skrl_mlflow import HTTP_DEFAULTS, BackgroundSender, MetricPoint, MlflowSink
from pat_skrl_mlflow._ending import end_run, forced_exit
from pat_skrl_mlflow._report import Summary
from pat_skrl_mlflow.run_store._run import RunTarget
from pat_skrl_mlflow.run_store._spool import Spool
from pat_skrl_mlflow.run_store._spooling_sink import SpoolingSink
from pat_skrl_mlflow.run_store._sync import find_spools, sync_spool

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.no_skrl  # store-side only: tests_skrl1 leaves it out


def _summary(run_id: str) -> Summary:
    return Summary(
        run_id=run_id,
        points_logged=0,
        points_rejected=0,
        points_filtered=0,
        points_dropped=0,
        points_failed=0,
        points_pending=0,
        windows=3,
        tag_table={"Loss / Policy loss": "Loss/Policy_loss"},
    )


def _unreachable(run_id: str, spool: Spool) -> BackgroundSender:
    dead = MlflowClient(f"http://127.0.0.1:{free_port()}")
    sink = SpoolingSink(MlflowSink(dead, run_id), spool, backoff=0.05, max_backoff=0.1)
    return BackgroundSender(sink, linger_seconds=0.0)


def test_store_down_at_the_end_leaves_names_checkpoints_and_status_to_sync(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in HTTP_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "agent_100.pt").write_bytes(b"weights")
    spool = Spool(tmp_path / "run" / "pat_spool")
    sender = _unreachable(run_id, spool)
    sender.submit([MetricPoint("loss", float(i), i, 1_700_000_000_000 + i) for i in range(50)])
    sender.close(timeout=1.0)
    # the run's own target: the store it was created in (reachable for the check below)
    target = RunTarget(run_id, store, owned=True, client=MlflowClient(store))
    summary = _summary(run_id)
    end_run(target, sender, summary, "FAILED", checkpoints=str(checkpoints), set_status=True)

    info = spool.run_info()
    assert info["status"] == "FAILED"
    assert info["end_pending"] is True
    assert info["artifacts_pending"] is True
    assert info["checkpoints"] == str(checkpoints)
    assert client.get_run(run_id).info.status == "RUNNING"  # nothing was tried on the store
    assert find_spools(tmp_path) == [spool.directory]

    result = sync_spool(spool.directory, store)
    assert (result.delivered, result.waiting, result.ended) == (50, 0, "FAILED")
    assert client.get_run(run_id).info.status == "FAILED"
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert artifacts == {"pat", "checkpoints"}
    names_file = client.download_artifacts(run_id, "pat/metric_names.json", str(tmp_path))
    with open(names_file) as handle:
        assert json.load(handle)["tag_to_key"] == {"Loss / Policy loss": "Loss/Policy_loss"}
    again = sync_spool(spool.directory, store)
    assert (again.delivered, again.ended) == (0, None)


def test_forced_exit_spools_queued_points_and_notes_the_status(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in HTTP_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    spool = Spool(tmp_path / "pat_spool")
    dead = MlflowClient(f"http://127.0.0.1:{free_port()}")
    sink = SpoolingSink(MlflowSink(dead, run_id), spool)
    sender = BackgroundSender(sink, linger_seconds=60.0)  # nothing leaves the queue
    points = [MetricPoint("reward", float(i), i, 1_700_000_000_000 + i) for i in range(300)]
    sender.submit(points)
    target = RunTarget(run_id, store, owned=True, client=client)

    message = forced_exit(target, sender, "FINISHED")

    assert f"300 metric points wait in {spool.directory}" in message
    assert "ends the run as KILLED" in message
    assert [item.point for item in spool.pending()] == points
    assert spool.run_info()["status"] == "KILLED"
    assert sync_spool(spool.directory, store).ended == "KILLED"
    assert len(client.get_metric_history(run_id, "reward")) == 300


def test_mlflows_exit_hook_does_not_overwrite_the_status_left_to_sync(
    tmp_path: Path, store: str
) -> None:
    """Issue 15 item 7: MLflow's atexit end_run() set FINISHED on a run pat ended KILLED."""
    import mlflow
    from mlflow.tracking import fluent

    mlflow.set_tracking_uri(store)
    active = mlflow.start_run()  # pat's own fluent run, as instrument(run="auto") starts it
    run_id = active.info.run_id
    spool = Spool(tmp_path / "pat_spool")
    sender = _unreachable(run_id, spool)
    sender.submit([MetricPoint("loss", float(i), i, 1_700_000_000_000 + i) for i in range(20)])
    sender.close(timeout=1.0)
    target = RunTarget(run_id, store, owned=True, client=MlflowClient(store), fluent=True)
    end_run(target, sender, _summary(run_id), "KILLED", checkpoints=None, set_status=True)
    assert mlflow.active_run() is None
    fluent._safe_end_run()  # what MLflow's atexit hook runs as the process exits
    client = MlflowClient(store)
    assert client.get_run(run_id).info.status == "RUNNING"
    result = sync_spool(spool.directory, store)
    assert (result.delivered, result.ended) == (20, "KILLED")
    assert client.get_run(run_id).info.status == "KILLED"


def test_store_down_and_spool_not_writable_at_the_end_is_one_line_with_the_count(
    tmp_path: Path, store: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15 item 8: a PermissionError traceback, no summary, the run left RUNNING."""
    import logging

    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # the spool's parent is a file: nothing can be written below it
    sender = _unreachable(run_id, Spool(blocker / "pat_spool"))
    sender.submit([MetricPoint("loss", float(i), i, 1_700_000_000_000 + i) for i in range(30)])
    sender.close(timeout=1.0)
    caplog.set_level(logging.WARNING, logger="pat_skrl_mlflow")
    target = RunTarget(run_id, store, owned=True, client=client)
    end_run(target, sender, _summary(run_id), "FINISHED", checkpoints=None, set_status=True)
    assert sender.stats.failed == 30  # counted: not stored and not kept
    lines = [r.getMessage() for r in caplog.records if "kept anywhere" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    assert "30 metric points" in lines[0]
    assert str(blocker) in lines[0]
