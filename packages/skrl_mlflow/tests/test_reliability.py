"""Never lose a metric: a real ``mlflow server`` killed and restarted under a training child.

Run with ``nox -s reliability`` (marker ``reliability``; minutes, not seconds).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from mlflow import MlflowClient

from conftest import SCRIPTS
from mlflow_server import MlflowServer, sqlite_server, wait_for_file
from pat_skrl_mlflow.run_store._spool import Spool
from pat_skrl_mlflow.run_store._sync import sync_spool

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


pytestmark = [pytest.mark.reliability, pytest.mark.server]

FIGURES: dict[str, object] = {}


@pytest.fixture
def server(tmp_path: Path, empty_store: Path) -> Iterator[MlflowServer]:
    """A restartable server on a copy of the empty store; always stopped afterwards."""
    root = tmp_path / "server"
    root.mkdir()
    with sqlite_server(root, empty_store) as srv:
        yield srv


def produced_points(work: Path) -> collections.Counter[tuple[str, int]]:
    """(key, step) -> how often the child produced it (from its independent record)."""
    counter: collections.Counter[tuple[str, int]] = collections.Counter()
    for line in (work / "produced.jsonl").read_text().splitlines():
        key, _value, step = json.loads(line)
        counter[(key, step)] += 1
    return counter


def stored_points(uri: str, run_id: str) -> collections.Counter[tuple[str, int]]:
    """(key, step) -> how many points the store holds."""
    client = MlflowClient(uri)
    counter: collections.Counter[tuple[str, int]] = collections.Counter()
    for key in client.get_run(run_id).data.metrics:
        for metric in client.get_metric_history(run_id, key):
            counter[(key, metric.step)] += 1
    return counter


def test_server_killed_mid_training_and_restarted_loses_nothing(
    server: MlflowServer, tmp_path: Path, child_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    child = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "outage_child.py"), server.url, str(work)],
        cwd=work,
        env=child_env,
        stdout=(work / "child.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_file(work / "kill-now", child, 240)
        killed_at = time.time()
        server.stop()  # SIGKILL: a crash, mid-training
        time.sleep(3)
        restart_seconds = server.start()
        back_at = time.time()
        (work / "resume").write_text("")
        child.wait(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    log = (work / "child.log").read_text()
    assert child.returncode == 0, log[-3000:]
    result = json.loads((work / "result.json").read_text())
    produced = produced_points(work)
    stored = stored_points(server.url, result["run_id"])
    assert result["spooled"] > 0, "the outage must have spooled points"
    assert result["waiting"] == 0
    assert stored == produced  # every point, once, at its step
    assert MlflowClient(server.url).get_run(result["run_id"]).info.status == "FINISHED"
    outage_start, outage_end = result["outages"][0]
    FIGURES["outage"] = {
        "produced": sum(produced.values()),
        "stored": sum(stored.values()),
        "spooled": result["spooled"],
        "outage_seconds": round(back_at - killed_at, 1),
        "server_restart_seconds": round(restart_seconds, 1),
        "recovered_seconds_after_server_back": round(outage_end - back_at, 1),
        "first_failure_after_kill_seconds": round(outage_start - killed_at, 1),
    }
    print("FIGURES", json.dumps(FIGURES["outage"]))


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Iterator[str]:
    """One server for the signal tests (they never stop it)."""
    with sqlite_server(tmp_path_factory.mktemp("signal-server"), empty_store) as srv:
        yield srv.url


@pytest.mark.parametrize(
    ("mode", "seed", "status"),
    [
        ("sigterm", 1, "KILLED"),
        ("sigterm", 2, "KILLED"),
        ("sigint", 3, "KILLED"),
        ("sigint", 4, "KILLED"),
        ("exception", 5, "FAILED"),
        ("exception", 6, "FAILED"),
    ],
)
def test_signal_or_exception_at_a_random_step_stores_every_point(
    shared_server: str,
    tmp_path: Path,
    child_env: dict[str, str],
    *,
    mode: str,
    seed: int,
    status: str,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "outage_child.py"),
            shared_server,
            str(work),
            mode,
            str(seed),
        ],
        cwd=work,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0, done.stdout + done.stderr  # the process was ended, not finished
    result = json.loads((work / "result.json").read_text())
    produced = produced_points(work)
    stored = stored_points(shared_server, result["run_id"])
    assert stored == produced, (done.stderr[-2000:], sum(produced.values()), sum(stored.values()))
    assert MlflowClient(shared_server).get_run(result["run_id"]).info.status == status
    FIGURES[f"{mode}-{seed}"] = {"produced": sum(produced.values()), "stored": sum(stored.values())}
    print("FIGURES", mode, seed, json.dumps(FIGURES[f"{mode}-{seed}"]))


def test_second_ctrl_c_exits_at_once_and_sync_completes_the_run(
    server: MlflowServer, tmp_path: Path, child_env: dict[str, str]
) -> None:
    """A frozen server (SIGSTOP: connections accepted, never answered) while the run ends."""
    work = tmp_path / "work"
    work.mkdir()
    child = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "outage_child.py"), server.url, str(work), "hang"],
        cwd=work,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert server.process is not None
    frozen = server.process.pid
    try:
        wait_for_file(work / "kill-now", child, 240)
        os.killpg(frozen, signal.SIGSTOP)
        wait_for_file(work / "interrupted", child, 240)
        time.sleep(2)  # the first Ctrl-C's flush now waits for the frozen server
        assert child.poll() is None, "the first Ctrl-C alone must wait for the store"
        pressed = time.monotonic()
        child.send_signal(signal.SIGINT)
        output = child.communicate(timeout=30)[0]
        exit_seconds = time.monotonic() - pressed
    finally:
        if child.poll() is None:
            child.kill()
        os.killpg(frozen, signal.SIGCONT)
    assert child.returncode == 130, output[-3000:]
    assert "interrupted again: exiting now" in output, output[-3000:]
    assert exit_seconds < 5, exit_seconds
    result = json.loads((work / "result.json").read_text())
    spool = Spool(result["spool"])
    info = spool.run_info()
    assert info["status"] == "KILLED", info
    assert info["end_pending"], info
    waiting = spool.pending_count()
    assert waiting > 0
    # what the server took before it froze went straight in; everything else waits
    synced = sync_spool(spool.directory, server.url)
    assert synced.waiting == 0
    assert synced.ended == "KILLED"
    produced = produced_points(work)
    stored = stored_points(server.url, result["run_id"])
    assert stored == produced  # every point, once, at its step
    assert MlflowClient(server.url).get_run(result["run_id"]).info.status == "KILLED"
    assert sync_spool(spool.directory, server.url).delivered == 0  # idempotent
    FIGURES["second-ctrl-c"] = {
        "produced": sum(produced.values()),
        "stored": sum(stored.values()),
        "waiting_after_exit": waiting,
        "exit_seconds_after_second_ctrl_c": round(exit_seconds, 2),
    }
    print("FIGURES", json.dumps(FIGURES["second-ctrl-c"]))
