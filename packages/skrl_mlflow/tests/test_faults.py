"""A tracking server that fails mid-run: 5xx answers, timeouts, a hung server, lost answers.

A training child (``scripts/fault_child.py``) logs through :class:`FaultProxy` in front of
a real ``mlflow server``; the test switches the proxy to one fault for ``FAULT_SECONDS``
mid-run, then back to ``pass``, and checks that training did not stall, every produced
point is stored once at its step with its timestamp, and the backlog was delivered by
itself (before ``close()``). Run with ``nox -s reliability`` (marker ``reliability``).

``PAT_FAULTS_HTTP_TIMEOUT`` (default 2 s) is the child's ``MLFLOW_HTTP_REQUEST_TIMEOUT``;
pat's own default is 15 s (set it to 15 to see what a user gets, at a longer run).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from mlflow import MlflowClient

from conftest import SCRIPTS
from fault_proxy import FaultProxy
from mlflow_server import MlflowServer, sqlite_server, wait_for_file
from pat_skrl_mlflow.run_store._spool import Spool

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.reliability, pytest.mark.server]

CLIENT_TIMEOUT = int(os.environ.get("PAT_FAULTS_HTTP_TIMEOUT", "2"))  # MLflow wants whole seconds
FAULT_SECONDS = float(os.environ.get("PAT_FAULTS_SECONDS", str(max(8.0, 4 * CLIENT_TIMEOUT))))
TIMESTEPS = int(os.environ.get("PAT_FAULTS_TIMESTEPS", "1500"))
RECOVERY_LIMIT = 60.0 + 2 * CLIENT_TIMEOUT
# A step that waited for one failing request would wait at least MLflow's retry backoff
# (1 s plus up to 1 s jitter) and, when slow or hung, twice the client timeout.
STALL_LIMIT = 1.5
FAULT_AT = 100  # the child's step that signals "inject the fault now" (after a flush)
NEVER_FORWARDED = ("error", "hang")  # the server never sees these requests

Point = tuple[str, int, int, str]
"""(key, step, timestamp ms, repr of the value: NaN compares equal to NaN this way)"""

FIGURES: dict[str, dict[str, object]] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Iterator[MlflowServer]:
    """One server for every fault (each child logs its own run); always stopped."""
    with sqlite_server(tmp_path_factory.mktemp("fault-server"), empty_store) as srv:
        yield srv


@pytest.fixture(scope="module")
def proxy(server: MlflowServer) -> Iterator[FaultProxy]:
    """The fault-injecting proxy in front of the server; always shut down."""
    with FaultProxy(server.port, slow_delay=CLIENT_TIMEOUT + 2.0) as running:
        yield running


def _drained(spool: Spool) -> bool:
    """Whether the spool holds points and every one of them is in the store."""
    return spool.points_path.exists() and spool.delivered_seq() > 0 and spool.pending_count() == 0


def _wait_until_drained(spool: Spool, process: subprocess.Popen[bytes], timeout: float) -> float:
    """Seconds until the spool was delivered (the child trains or holds meanwhile)."""
    began = time.monotonic()
    while not _drained(spool):
        if process.poll() is not None:
            raise AssertionError(f"child exited ({process.returncode}) before the spool drained")
        if time.monotonic() - began > timeout:
            raise AssertionError(
                f"spool not delivered {timeout} s after the fault ended: "
                f"{spool.pending_count()} points wait in {spool.directory}"
            )
        time.sleep(0.1)
    return time.monotonic() - began


def _produced(work: Path) -> collections.Counter[Point]:
    counter: collections.Counter[Point] = collections.Counter()
    for line in (work / "produced.jsonl").read_text().splitlines():
        key, value, step, timestamp = json.loads(line)
        counter[(key, step, timestamp, repr(float(value)))] += 1
    return counter


def _stored(uri: str, run_id: str) -> collections.Counter[Point]:
    client = MlflowClient(uri)
    counter: collections.Counter[Point] = collections.Counter()
    for key in client.get_run(run_id).data.metrics:
        for metric in client.get_metric_history(run_id, key):
            counter[(key, metric.step, metric.timestamp, repr(float(metric.value)))] += 1
    return counter


def _gaps(times: list[float], start: float, end: float) -> list[float]:
    """Gaps between consecutive trainer steps that fall inside [start, end]."""
    inside = [t for t in times if start <= t <= end]
    return [b - a for a, b in itertools.pairwise(inside)]


@pytest.mark.parametrize("mode", ["error", "slow", "hang", "error_after_forward"])
def test_fault_mid_training_neither_stalls_nor_loses_nor_duplicates(
    server: MlflowServer,
    proxy: FaultProxy,
    tmp_path: Path,
    child_env: dict[str, str],
    mode: str,
) -> None:
    proxy.set_mode("pass")
    work = tmp_path / "work"
    work.mkdir()
    env = {**child_env, "MLFLOW_HTTP_REQUEST_TIMEOUT": str(CLIENT_TIMEOUT)}
    requests_before = proxy.log_batches[mode]
    child = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "fault_child.py"), proxy.url, str(work), str(TIMESTEPS)],
        cwd=work,
        env=env,
        stdout=(work / "child.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_file(work / "fault-now", child, 120)
        spool = Spool((work / "fault-now").read_text())
        with proxy.fault(mode):
            fault_start = time.time()
            time.sleep(FAULT_SECONDS)
        fault_end = time.time()
        drained_after = _wait_until_drained(spool, child, RECOVERY_LIMIT)
        (work / "resume").write_text("")
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    log = (work / "child.log").read_text()
    assert child.returncode == 0, log[-3000:]
    result = json.loads((work / "result.json").read_text())
    run_id = result["run_id"]

    # the fault was really met, and pat took the spool path
    assert proxy.log_batches[mode] > requests_before, f"no log-batch request met {mode}"
    assert result["spooled"] > 0, "the fault must have spooled points"
    assert result["waiting"] == 0
    assert result["sender"] == {"failed": 0, "dropped": 0, "rejected": 0}

    # every point, once, at its step, with the timestamp it was produced with
    produced = _produced(work)
    stored = _stored(server.url, run_id)
    assert max(produced.values()) == 1
    assert len({(key, step) for key, step, _, _ in produced}) == len(produced)
    assert stored == produced
    assert MlflowClient(server.url).get_run(run_id).info.status == "FINISHED"

    # what reached the server how often (the store keeps exact duplicates out by itself)
    on_wire = proxy.stored_for(run_id)
    assert set(on_wire) == {(key, step, ts) for key, step, ts, _ in produced}
    resent = sum(count - 1 for count in on_wire.values())
    if mode in NEVER_FORWARDED:
        assert resent == 0, f"{resent} points were sent twice although none was forwarded"

    # delivery resumed by itself, before close(), and close() did not wait long
    outage_start, outage_end = result["outages"][0]
    assert all(end is not None for _, end in result["outages"]), result["outages"]
    assert result["outages"][-1][1] <= result["close_started"]
    assert result["close_seconds"] < 10

    # training went on at full speed during the fault
    steps = json.loads((work / "steps.json").read_text())
    times = steps["times"]
    trained_until = min(fault_end, steps["hold"][0])
    during = _gaps(times, fault_start, trained_until)
    before = _gaps(times[10:FAULT_AT], times[10], fault_start)  # warm, before the flush
    assert trained_until - fault_start > FAULT_SECONDS / 2, "training ended before the fault"
    assert during, "no training step during the fault"
    longest = max(during)
    at = next(b for a, b in itertools.pairwise(times) if b - a == longest)
    assert longest < STALL_LIMIT, (
        f"a step waited {longest:.2f} s during the fault ({at - fault_start:.1f} s into it; "
        f"first failure seen {outage_start - fault_start:.1f} s into it); "
        f"longest before: {max(before):.2f} s"
    )
    rate_before = len(before) / (times[FAULT_AT - 1] - times[10])
    rate_during = len(during) / (trained_until - fault_start)
    recovering = _gaps(times, fault_end, min(result["outages"][-1][1], steps["hold"][0]))

    FIGURES[mode] = {
        "client_timeout_s": CLIENT_TIMEOUT,
        "fault_s": round(fault_end - fault_start, 1),
        "log_batch_requests_in_fault": proxy.log_batches[mode] - requests_before,
        "produced": sum(produced.values()),
        "stored": sum(stored.values()),
        "spooled": result["spooled"],
        "resent_points_on_wire": resent,
        "outages": len(result["outages"]),
        "first_failure_after_fault_start_s": round(outage_start - fault_start, 1),
        "backlog_delivered_after_fault_end_s": round(outage_end - fault_end, 1),
        "spool_seen_drained_after_fault_end_s": round(drained_after, 1),
        "max_step_gap_before_ms": round(1000 * max(before), 1),
        "max_step_gap_during_ms": round(1000 * max(during), 1),
        "steps_per_s_before": round(rate_before, 1),
        "steps_per_s_during": round(rate_during, 1),
        # None: training reached its hold before the backlog was delivered
        "max_step_gap_recovering_ms": round(1000 * max(recovering), 1) if recovering else None,
        "steps_per_s_recovering": round(len(recovering) / sum(recovering), 1)
        if recovering
        else None,
        "close_s": round(result["close_seconds"], 2),
    }
    print("FIGURES", mode, json.dumps(FIGURES[mode]))
