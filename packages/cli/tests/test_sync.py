"""Unreachable stores: `pat train` fails fast or trains offline, `pat sync` delivers later."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from conftest import Invoke, Store

ROOT = Path(__file__).resolve().parents[3]
SECRETS = {
    "FOO_TOKEN": "tok-PLANTED-1f9a",
    "BAR_SECRET": "sec-PLANTED-77c2",
    "AZURE_X": "az-PLANTED-0b3e",
}
URI_PASSWORD = "pw-PLANTED-5d1c"


def pat_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pat_cli", *args]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(COLUMNS="120", NO_COLOR="1")
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cwd: Path, *args: str, extra_env: dict[str, str] | None = None) -> tuple[int, str]:
    import subprocess

    done = subprocess.run(
        pat_command(*args),
        cwd=cwd,
        env={**clean_env(), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_train_against_an_unreachable_store_exits_1_with_the_uri_masked(tmp_path: Path) -> None:
    uri = f"http://alice:{URI_PASSWORD}@127.0.0.1:{_free_port()}"
    code, output = _run(tmp_path, "train", "--task", "CartPole-v1", "--tracking-uri", uri)
    assert code == 1, output
    assert "cannot use the MLflow store http://alice:***@127.0.0.1" in output
    assert URI_PASSWORD not in output
    assert "--offline-ok" in output
    assert not list(tmp_path.rglob("pat_spool")), "nothing may be trained or spooled"


def test_train_against_an_unusable_sqlite_store_exits_1_before_training(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")  # a file where the store's directory should be
    uri = f"sqlite:///{tmp_path / 'taken' / 'mlflow.db'}"
    code, output = _run(tmp_path, "train", "--task", "CartPole-v1", "--tracking-uri", uri)
    assert code == 1, output
    error = [line for line in output.splitlines() if line.startswith("Error:")]
    assert error == [f"Error: cannot use the MLflow store {uri}: {tmp_path / 'taken'} is a file, "
                     "not a directory"], output  # fmt: skip
    assert "Traceback" not in output
    # checked before the env is built, or (the writer still starting) before the run is made
    assert not list(tmp_path.rglob("pat_run.json")), "no run may be made, nothing trained"
    assert not list(tmp_path.rglob("agent_*.pt"))


def test_sync_of_a_directory_without_spools_exits_1(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("sync", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "no pat spool" in result.output


@pytest.mark.reliability
@pytest.mark.server
def test_offline_training_then_sync_twice_stores_every_point_once_and_leaks_no_secret(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(ROOT / "packages" / "skrl_mlflow" / "tests"))
    from mlflow import MlflowClient

    from mlflow_server import MlflowServer
    from pat_skrl_mlflow.run_store._spool import Spool
    from pat_skrl_mlflow.run_store._sync import find_spools

    work = tmp_path / "work"
    work.mkdir()
    root = tmp_path / "server"
    root.mkdir()
    server = MlflowServer(root)
    uri = f"http://alice:{URI_PASSWORD}@127.0.0.1:{server.port}"
    train = (
        "train", "--task", "CartPole-v1", "--num-envs", "4", "--timesteps", "400",
        "--log-interval", "step", "--tracking-uri", uri, "--experiment", "offline-exp",
    )  # fmt: skip
    code, refused = _run(work, *train, extra_env=SECRETS)
    assert code == 1, refused  # no --offline-ok: refused
    code, trained = _run(work, *train, "--offline-ok", extra_env=SECRETS)
    assert code == 0, trained
    (spool_dir,) = find_spools(work)
    spool = Spool(spool_dir)
    spooled = spool.pending()
    assert len(spooled) > 400
    produced = sorted((p.point.key, p.point.step) for p in spooled)
    server.start()
    try:
        code, first = _run(work, "sync", "--tracking-uri", uri, "--json", extra_env=SECRETS)
        assert code == 0, first
        code, second = _run(work, "sync", "--tracking-uri", uri, "--json", extra_env=SECRETS)
        assert code == 0, second
        (one,), (two,) = json.loads(first), json.loads(second)
        assert one["created_run"]
        assert one["delivered"] == len(spooled)
        assert (two["delivered"], two["waiting"]) == (0, 0)
        client = MlflowClient(server.url)
        run = client.get_run(one["run_id"])
        stored = sorted(
            (key, m.step)
            for key in run.data.metrics
            for m in client.get_metric_history(run.info.run_id, key)
        )
        assert stored == produced  # every point once, at its step
        assert run.info.status == "FINISHED"
        assert client.get_experiment(run.info.experiment_id).name == "offline-exp"
        assert run.data.params, "the agent config is replayed as params"
        artifacts = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl")))
        texts = [
            json.dumps(run.data.params), json.dumps(run.data.tags), refused, trained, first, second,
            *(p.read_text(errors="replace") for p in artifacts.rglob("*") if p.is_file()),
            *(p.read_text(errors="replace") for p in spool_dir.rglob("*") if p.is_file()),
        ]  # fmt: skip
    finally:
        server.stop()
    for planted in [*SECRETS.values(), URI_PASSWORD]:
        assert not any(planted in text for text in texts), planted


def _spool_of_a_running_run(store: Store, directory: Path, points: int = 300) -> tuple[str, Path]:
    """What a training leaves when its store went down: a RUNNING run and its spool."""
    from mlflow import MlflowClient

    from pat_skrl_mlflow import MetricPoint
    from pat_skrl_mlflow.run_store._spool import Spool

    run_id = MlflowClient(store.uri).create_run("0").info.run_id
    spool = Spool(directory)
    spool.update_run_info(tracking_uri=store.uri, run_id=run_id)
    spool.append(
        run_id, [MetricPoint("loss", float(s), s, 1_700_000_000_000 + s) for s in range(points)]
    )
    spool.update_run_info(status="KILLED", end_pending=True)
    return run_id, directory


def test_sync_goes_to_the_spools_own_store_not_the_shells(
    invoke: Invoke,
    error_line: Callable[[Result], str],
    tmp_path: Path,
    store: Store,
) -> None:
    """Issue 15 item 3: MLFLOW_TRACKING_URI naming another store destroyed the spool."""
    from mlflow import MlflowClient

    from pat_skrl_mlflow.run_store._spool import Spool

    other = tmp_path / "other.db"
    shutil.copyfile(store.path, other)  # an empty store too: a copy of the template
    other_uri = f"sqlite:///{other}"
    run_id, directory = _spool_of_a_running_run(store, tmp_path / "runs" / "pat_spool")

    refused = invoke("sync", str(directory), "--tracking-uri", other_uri)  # explicitly wrong
    assert refused.exit_code == 1
    line = error_line(refused)
    assert f"run {run_id} is not in {other_uri}" in line
    assert "unchanged" in line
    spool = Spool(directory)
    assert (spool.pending_count(), spool.delivered_seq()) == (300, 0)
    assert spool.run_info()["end_pending"]

    synced = invoke("sync", str(directory), "--json", env={"MLFLOW_TRACKING_URI": other_uri})
    assert synced.exit_code == 0, synced.output
    (row,) = json.loads(synced.output)
    assert (row["run_id"], row["delivered"], row["waiting"], row["ended"]) == (
        run_id,
        300,
        0,
        "KILLED",
    )
    client = MlflowClient(store.uri)
    assert len(client.get_metric_history(run_id, "loss")) == 300
    assert client.get_run(run_id).info.status == "KILLED"
    assert MlflowClient(other_uri).search_runs(["0"]) == []


def test_sync_help_states_the_default_store(invoke: Invoke) -> None:
    result = invoke("sync", "--help")
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())
    assert "Default: the store the spool was written for" in text


def test_an_offline_run_synced_while_it_trains_gets_its_last_artifacts_and_status(
    tmp_path: Path, store: Store
) -> None:
    """Issue 15 item 10: the final metric_names.json and checkpoints never reached the run."""
    from mlflow import MlflowClient

    from pat_cli._offline import OfflineClient
    from pat_skrl_mlflow import MetricPoint
    from pat_skrl_mlflow.run_store._sync import sync_spool

    offline_id = "offline-" + "ab" * 16
    training = OfflineClient(tmp_path / "runs" / "pat_spool")  # what `pat train --offline-ok` uses
    training.spool.update_run_info(tracking_uri=store.uri, experiment="offline-exp")
    training.log_text(offline_id, "config", "config/agent.yaml")
    training.spool.append(
        offline_id, [MetricPoint("loss", 1.0, s, 1_700_000_000_000 + s) for s in range(5)]
    )

    first = sync_spool(training.spool.directory)  # while the training still runs
    assert first.created_run
    assert first.delivered == 5
    client = MlflowClient(store.uri)
    run_id = str(first.run_id)
    assert client.get_run(run_id).info.status == "RUNNING"

    training.spool.append(
        offline_id, [MetricPoint("loss", 2.0, s, 1_700_000_000_000 + s) for s in range(5, 8)]
    )
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "agent_8.pt").write_bytes(b"weights")
    training.log_dict(offline_id, {"tag_to_key": {}}, "pat/metric_names.json")  # the run's end
    training.log_artifacts(offline_id, str(checkpoints), "checkpoints")
    training.set_terminated(offline_id, "FINISHED")

    second = sync_spool(training.spool.directory)
    assert (second.delivered, second.waiting, second.ended) == (3, 0, "FINISHED")
    assert len(client.get_metric_history(run_id, "loss")) == 8
    paths = {a.path for a in client.list_artifacts(run_id)}
    assert {"config", "pat", "checkpoints"} <= paths
    assert [a.path for a in client.list_artifacts(run_id, "checkpoints")] == [
        "checkpoints/agent_8.pt"
    ]
    assert client.get_run(run_id).info.status == "FINISHED"


def test_a_run_left_running_by_kill_9_is_reported_and_marked_dead(
    invoke: Invoke, tmp_path: Path
) -> None:
    """Issue 15 item 9: `kill -9` left a RUNNING run forever and nothing mentioned it."""
    import signal
    import sqlite3
    import subprocess
    import time

    from mlflow import MlflowClient

    database = tmp_path / "mlflow.db"
    training = subprocess.Popen(
        pat_command("train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "1000000",
                    "--log-interval", "step"),
        cwd=tmp_path, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        began = time.monotonic()
        while True:  # until the run has stored some points
            assert training.poll() is None, "pat train ended early"
            assert time.monotonic() - began < 300
            if database.exists():
                with contextlib.suppress(sqlite3.Error), sqlite3.connect(database) as db:
                    if db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] > 50:
                        break
            time.sleep(0.5)
        training.send_signal(signal.SIGKILL)
        training.wait(timeout=30)
    finally:
        if training.poll() is None:
            training.kill()
    uri = f"sqlite:///{database}"
    (run,) = MlflowClient(uri).search_runs(["0"])
    assert run.info.status == "RUNNING"
    inspected = invoke("inspect", "metrics", "--tracking-uri", uri)
    assert inspected.exit_code == 0, inspected.output
    gone = f"process {run.data.tags['pat.pid']}"
    assert f"run {run.info.run_id} was left RUNNING: {gone}" in " ".join(inspected.output.split())
    reported = invoke("sync", "runs", "--json")
    assert reported.exit_code == 0, reported.output
    (row,) = json.loads(reported.output)
    assert gone in row["left_running"]
    assert row["ended"] is None
    marked = invoke("sync", "runs", "--mark-dead")
    assert marked.exit_code == 0, marked.output
    assert "ended as KILLED" in marked.output
    assert MlflowClient(uri).get_run(run.info.run_id).info.status == "KILLED"


def test_the_train_summary_does_not_call_waiting_points_unlogged() -> None:
    """Issue 15 item 13: "episode_reward_mean not logged" / "in 0 keys" with points waiting."""
    from rich.console import Console

    from pat_cli._train_summary import TrainOutcome, summary_table

    outcome = TrainOutcome(
        status="FINISHED", task="CartPole-v1", algorithm="PPO", device="cpu", num_envs=4,
        run_id="r", experiment="Default", tracking_uri="http://h", timesteps_done=10,
        timesteps_total=10, wall_seconds=1.0, points_logged=100, points_waiting=40,
        spool="runs/pat_spool",
    )  # fmt: skip
    console = Console(width=200, record=True, color_system=None)
    console.print(summary_table(outcome))
    text = console.export_text()
    assert "not logged" not in text
    assert "in 0 keys" not in text
    assert "40 points in runs/pat_spool" in text
