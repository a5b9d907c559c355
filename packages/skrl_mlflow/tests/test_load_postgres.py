"""Never lose a metric under load: 8 training processes logging at once into one server.

A real ``mlflow server`` backed by a PostgreSQL cluster the test starts on 127.0.0.1;
8 writer processes (``scripts/load_child.py``: a real skrl agent instrumented by pat)
each log 100 keys x 1,000 steps at interval ``step``, all starting together. Every point
must be stored exactly once with its value; the sustained points/s and the slowest
writer's longest stall inside pat's calls are written to ``load.json`` and printed.

When the server is slower than the writers (a busy box), what it has not taken when a
writer's ``close()`` gives up waiting (``flush_timeout``) goes to the writer's spool and
the writer's run ends normally; ``pat sync`` (``sync_spool``) then delivers it. The
figures say how many points waited and how long the sync took.

Run with ``nox -s reliability`` (marker ``reliability``; minutes).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from mlflow import MlflowClient

from conftest import SCRIPTS
from mlflow_server import MlflowServer
from pat_skrl_mlflow.run_store._sync import sync_spool
from postgres_server import PostgresServer, running_postgres

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.reliability, pytest.mark.server]

WRITERS = 8
KEYS = 100
STEPS = 1000
# 2 workers: one uvicorn worker is one Python process (one GIL) for every request; the
# second lets the server use both cores of this box while postgres takes the rest.
SERVER_WORKERS = 2
# 8 processes importing torch, skrl and mlflow at once on a shared 2-core box: minutes
READY_LIMIT = 480.0
LOAD_LIMIT = 600.0  # from the start signal until every writer has exited

Point = tuple[str, str, int]  # (run id, key, step)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster on 127.0.0.1; stopped and removed afterwards."""
    yield from running_postgres()


@pytest.fixture
def server(tmp_path: Path, postgres: PostgresServer) -> Iterator[MlflowServer]:
    """``mlflow server`` on a fresh PostgreSQL database; always stopped afterwards."""
    root = tmp_path / "server"
    root.mkdir()
    srv = MlflowServer(root, store=postgres.create_database("mlflow"), workers=SERVER_WORKERS)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop(signal.SIGTERM)  # let it close its connections before postgres stops


def _wait_all(paths: list[Path], children: list[subprocess.Popen[bytes]], deadline: float) -> None:
    while not all(path.exists() for path in paths):
        for child in children:
            if child.poll() is not None and child.returncode != 0:
                raise AssertionError(f"a writer exited ({child.returncode}) before it was ready")
        if time.monotonic() > deadline:
            raise AssertionError("writers not ready in time")
        time.sleep(0.1)


def _produced(work: Path, index: int, result: dict[str, object]) -> dict[Point, float]:
    """(run id, key, step) -> value, from the writer's own record and its tag table."""
    table = result["tag_table"]
    assert isinstance(table, dict)
    run_id = str(result["run_id"])
    record = json.loads((work / f"produced-{index}.json").read_text())
    return {
        (run_id, table[tag], step): value
        for tag, points in record.items()
        for step, value in points
    }


def _stored(dsn: str, run_ids: list[str]) -> tuple[dict[Point, float], dict[Point, int]]:
    """What the metrics table holds: value per point and how many rows each point has."""
    import psycopg2

    values: dict[Point, float] = {}
    counts: dict[Point, int] = {}
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT run_uuid, key, step, count(*), min(value) FROM metrics "
                "WHERE run_uuid = ANY(%s) GROUP BY run_uuid, key, step",
                (run_ids,),
            )
            for run_id, key, step, count, value in cursor:
                values[(run_id, key, step)] = value
                counts[(run_id, key, step)] = count
    finally:
        connection.close()
    return values, counts


def test_eight_writers_into_postgres_backed_server_store_every_point_once(
    tmp_path: Path, server: MlflowServer, postgres: PostgresServer, child_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    children = [
        subprocess.Popen(
            [sys.executable, str(SCRIPTS / "load_child.py"), server.url, str(work), str(index)],
            cwd=work,
            env=child_env,
            stdout=(work / f"writer-{index}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for index in range(WRITERS)
    ]
    try:
        ready_by = time.monotonic() + READY_LIMIT
        _wait_all([work / f"ready-{i}" for i in range(WRITERS)], children, ready_by)
        (work / "go").write_text("")
        deadline = time.monotonic() + LOAD_LIMIT
        for child in children:
            child.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for index, child in enumerate(children):
        log = (work / f"writer-{index}.log").read_text()
        assert child.returncode == 0, log[-3000:]
    results = [json.loads((work / f"result-{i}.json").read_text()) for i in range(WRITERS)]
    produced: dict[Point, float] = {}
    for index, result in enumerate(results):
        produced.update(_produced(work, index, result))
    assert len(produced) == WRITERS * KEYS * STEPS  # each writer's record is complete

    waited = sum(r["waiting_in_spool"] for r in results)
    synced_at = time.monotonic()
    for result in results:
        if result["waiting_in_spool"]:
            assert sync_spool(result["spool"], server.url).waiting == 0
    sync_seconds = time.monotonic() - synced_at
    first_write = min(r["first_write_at"] for r in results)
    last_stored = max(r["done_at"] for r in results)
    delivered = sum(r["delivered"] for r in results)
    slowest = max(results, key=lambda r: r["worst_call_seconds"])
    figures = {
        "writers": WRITERS,
        "points": len(produced),
        "delivered": delivered,
        "server_workers": SERVER_WORKERS,
        "seconds_first_write_to_last_stored": round(last_stored - first_write, 1),
        "sustained_points_per_second": round(delivered / (last_stored - first_write)),
        "slowest_writer_worst_call_ms": round(slowest["worst_call_seconds"] * 1000, 1),
        "slowest_writer_worst_call": f"{slowest['worst_call']} at timestep "
        f"{slowest['worst_call_timestep']}",
        "slowest_writer_worst_gc_pause_ms": round(slowest["gc_worst_pause_seconds"] * 1000, 1),
        "slowest_writer_worst_gc_pause_cpu_ms": round(
            slowest["gc_worst_pause_cpu_seconds"] * 1000, 1
        ),
        "worst_gc_pause_ms": round(max(r["gc_worst_pause_seconds"] for r in results) * 1000, 1),
        "worst_step_ms": round(max(r["worst_step_seconds"] for r in results) * 1000, 1),
        "loop_seconds_max": round(max(r["last_step_at"] - r["first_write_at"] for r in results), 1),
        "end_flush_seconds_max": round(max(r["final_flush_seconds"] for r in results), 1),
        "close_seconds_max": round(max(r["close_seconds"] for r in results), 1),
        "max_backlog_points": max(r["max_backlog_points"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "spooled": sum(r["spooled"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "dropped": sum(r["dropped"] for r in results),
        "waiting_in_spool_at_close": waited,
        "sync_seconds": round(sync_seconds, 1),
        "rejected": sum(r["rejected"] for r in results),
    }
    (tmp_path / "load.json").write_text(json.dumps({"figures": figures, "writers": results}))
    print("FIGURES", json.dumps(figures))

    run_ids = [str(r["run_id"]) for r in results]
    stored, counts = _stored(postgres.dsn("mlflow"), run_ids)
    duplicated = {point: n for point, n in counts.items() if n > 1}
    missing = produced.keys() - stored.keys()
    unexpected = stored.keys() - produced.keys()
    assert not duplicated, f"{len(duplicated)} points stored more than once"
    assert not unexpected, f"{len(unexpected)} points stored that no writer produced"
    wrong = [point for point, value in stored.items() if produced[point] != value]
    assert not wrong, f"{len(wrong)} points stored with another value, e.g. {wrong[:3]}"
    not_stored = [sum(1 for p in missing if p[0] == r["run_id"]) for r in results]
    counted = [r["failed"] + r["dropped"] for r in results]
    assert not missing, (
        f"{len(missing)} of {len(produced)} points not stored, per writer {not_stored}; "
        f"pat's own count of failed + dropped {counted} ({figures})"
    )
    client = MlflowClient(server.url)
    for result in results:
        assert client.get_run(result["run_id"]).info.status == "FINISHED"
