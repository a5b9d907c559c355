"""Benchmark 6: ``pat inspect metrics`` vs ``MlflowClient.get_metric_history`` key by key.

The run (100 keys x N steps, sqlite) is created with MLflow's client, then its metric rows
are bulk-inserted with ``sqlite3`` into MLflow's own ``metrics`` / ``latest_metrics``
tables (logging a million points through MLflow would take minutes; reading is measured).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import BIN, Row, bytecode_env, interleave, median, result, run_process, timed

NAME = "inspect"
TITLE = "6. `pat inspect metrics` vs MLflow's client, key by key"
KEYS = 100
PER_KEY_SCRIPT = """
import sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1])
run_id = sys.argv[2]
keys = sorted(client.get_run(run_id).data.metrics)
points = sum(len(client.get_metric_history(run_id, key)) for key in keys)
print(len(keys), points)
"""


def _make_run(path: Path, steps: int) -> tuple[str, list[str]]:
    from mlflow import MlflowClient

    uri = f"sqlite:///{path}"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("bench-inspect")).info.run_id
    keys = [f"group_{i // 10}/metric_{i}" for i in range(KEYS)]
    start = int(time.time() * 1000)
    rng = random.Random(0)
    with sqlite3.connect(path) as db:
        for key in keys:
            db.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                ((key, rng.random(), start + step, run_id, step) for step in range(steps)),
            )
            db.execute(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, ?, 0, ?)",
                (key, rng.random(), start + steps - 1, steps - 1, run_id),
            )
    client.set_terminated(run_id)
    return run_id, keys


def run(quick: bool) -> dict[str, Any]:
    """In-process (pat's reader vs the per-key loop) and as whole commands (subprocesses)."""
    from mlflow import MlflowClient

    from pat_skrl_mlflow import SqliteStore, read_histories, summarize_run

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    steps = 1000 if quick else 10_000
    repeats = 5
    with tempfile.TemporaryDirectory(prefix="pat-bench-inspect-") as tmp:
        path = Path(tmp) / "mlflow.db"
        run_id, keys = _make_run(path, steps)
        uri = f"sqlite:///{path}"
        client = MlflowClient(uri)
        latest = client.get_run(run_id).data.metrics
        store = SqliteStore.open(uri)  # what `pat inspect metrics` reads a sqlite store with
        assert store is not None

        def per_key() -> None:
            points = sum(len(client.get_metric_history(run_id, key)) for key in keys)
            assert points == KEYS * steps, points

        def read_all() -> None:
            histories = read_histories(store, run_id, keys)
            assert sum(len(h.steps) for h in histories.values()) == KEYS * steps

        inproc = interleave(
            {
                "summary": lambda: timed(lambda: summarize_run(store, run_id, keys, latest)),
                "read": lambda: timed(read_all),
                "per_key": lambda: timed(per_key),
            },
            repeats,
        )
        command = [str(BIN / "pat"), "inspect", "metrics", run_id, "--tracking-uri", uri]
        script = [sys.executable, "-c", PER_KEY_SCRIPT, uri, run_id]
        env = bytecode_env(str(Path(tmp) / "pycache"))  # warmed by the discarded round
        process = interleave(
            {"pat": lambda: run_process(command, env), "per_key": lambda: run_process(script, env)},
            repeats,
        )
    base = median(inproc["per_key"])
    goal = ">= 5x faster (ratio <= 0.2)"
    rows = [
        Row(
            "`summarize_run` (what the command shows), in process",
            median(inproc["summary"]),
            "get_metric_history per key, in process",
            base,
            "s",
            goal=goal,
            met=median(inproc["summary"]) <= 0.2 * base,
            samples=inproc["summary"],
            baseline_samples=inproc["per_key"],
        ),
        Row(
            "`read_histories` (every point), in process",
            median(inproc["read"]),
            "get_metric_history per key, in process",
            base,
            "s",
            goal=goal,
            met=median(inproc["read"]) <= 0.2 * base,
            samples=inproc["read"],
            baseline_samples=inproc["per_key"],
        ),
        Row(
            "`pat inspect metrics RUN` (whole command)",
            median(process["pat"]),
            "python script: get_metric_history per key",
            median(process["per_key"]),
            "s",
            goal=goal,
            met=median(process["pat"]) <= 0.2 * median(process["per_key"]),
            samples=process["pat"],
            baseline_samples=process["per_key"],
            note="the script pays MLflow's start-up; pat reads the sqlite file without MLflow "
            "(bytecode cache on, warmed)",
        ),
    ]
    notes = [
        f"{KEYS} keys x {steps:,} steps = {KEYS * steps:,} points, sqlite store; "
        f"interleaved, median of {repeats} after one discarded round. In-process figures "
        "reuse one warmed reader per variant; the subprocess figures include start-up.",
        "pat's reader: `pat_skrl_mlflow.read_histories` on a `SqliteStore` (Python's sqlite3 "
        "on MLflow's file, no MLflow import): one aggregate SQL query for the summary, one "
        "query per key for every point; the baseline reads each key with `get_metric_history`, "
        "sequentially, as a user of MLflow's client would.",
        "The baseline script pays the start-up of Python, MLflow and its store (seconds here) "
        "once; `pat inspect metrics` finds the run and summarises it with sqlite3, without "
        "importing MLflow (other stores go through MLflow's client).",
    ]
    return result(
        NAME,
        TITLE,
        rows,
        quick=quick,
        sizes={"keys": KEYS, "steps": steps, "repeats": repeats},
        notes=notes,
    )
