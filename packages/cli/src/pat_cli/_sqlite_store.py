"""Read runs and metric points straight from MLflow's sqlite file, without importing MLflow.

MLflow's client costs seconds of start-up (mlflow, SQLAlchemy, alembic's schema check) before
its first query; reading a run needs a few plain queries on five of its tables. The file is
opened read-only and used only when those tables have the columns read here. The queries
follow what MLflow's ``SqlAlchemyStore`` does for ``get_run``, ``search_runs``,
``search_experiments``, ``get_experiment(_by_name)``; whenever a case is not the plain one
(no such run or experiment, no runs, MLflow workspaces on), ``find_run`` returns ``None`` and
the caller goes through MLflow's client, which also words each error as before.

MLflow stores a NaN point as ``is_nan = 1`` (its ``value`` is a placeholder) and ±inf as
±(largest double); the rows here keep both conventions, as MLflow's client does.
"""

from __future__ import annotations

import math
import os
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from pat_cli._mlflow_store import PROCESS_TAGS, RunInfo, experiment_choice, sqlite_path

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

# The columns read below, per table; a store without one of them is read through MLflow.
REQUIRED_COLUMNS = {
    "metrics": {"key", "value", "timestamp", "step", "run_uuid", "is_nan"},
    "latest_metrics": {"key", "value", "is_nan", "run_uuid"},
    "runs": {"run_uuid", "name", "status", "start_time", "lifecycle_stage", "experiment_id"},
    "experiments": {"experiment_id", "name", "lifecycle_stage", "creation_time"},
    "tags": {"key", "value", "run_uuid"},
}
# MLflow's client lists this many experiments by default (SEARCH_MAX_RESULTS_DEFAULT).
EXPERIMENTS_LISTED = 1000
# Bound parameters per statement are capped (999 in older SQLite): longer key lists read all.
MAX_KEY_PARAMETERS = 500
RUN_NAME_TAG = "mlflow.runName"
POINT_DTYPE = np.dtype([("step", np.int64), ("timestamp", np.int64), ("value", np.float64)])


class SqliteStore:
    """A read-only view of one MLflow sqlite store (a new connection per call)."""

    def __init__(self, path: Path, tracking_uri: str) -> None:
        self.path = path
        self.tracking_uri = tracking_uri

    @classmethod
    def open(cls, tracking_uri: str) -> SqliteStore | None:
        """The store of a ``sqlite:`` URI, or ``None`` when MLflow's client must read it."""
        path = sqlite_path(tracking_uri)
        if path is None or not path.is_file() or _workspaces_enabled():
            return None
        store = cls(path, tracking_uri)
        try:
            with closing(store.connect()) as db:
                for table, needed in REQUIRED_COLUMNS.items():
                    columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                    if not needed <= columns:
                        return None
        except sqlite3.Error:
            return None
        return store

    def connect(self) -> sqlite3.Connection:
        """A read-only connection to the file."""
        return sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True)

    def find_run(self, run_id: str | None, experiment: str | None) -> RunInfo | None:
        """As ``_mlflow_store.find_run``; ``None`` where that would fail or MLflow must decide."""
        try:
            with closing(self.connect()) as db:
                uuid = run_id if run_id else self._latest_run(db, experiment)
                return None if uuid is None else self._run_info(db, uuid)
        except sqlite3.Error:
            return None

    def has_run(self, run_id: str) -> bool | None:
        """Whether the store holds the run (deleted ones too); ``None`` if it cannot be read."""
        try:
            with closing(self.connect()) as db:
                row = db.execute("SELECT 1 FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
        except sqlite3.Error:
            return None
        return row is not None

    def summary_rows(
        self, run_id: str, keys: Sequence[str], buckets: int, huge: float
    ) -> list[tuple[Any, ...]]:
        """The per (key, fine bin) aggregate of ``_histories``, as its SQLAlchemy twin.

        Columns: key, fine bin, count, non-NaN count, min step, max step, min and max of the
        non-NaN values, sum and count of the finite values below ``huge``.
        """
        where, parameters = _where(run_id, keys)
        with closing(self.connect()) as db:
            lo, hi = db.execute(
                f"SELECT min(step), max(step) FROM metrics {where}", parameters
            ).fetchone()
            if lo is None:
                return []
            fine = f"(step - {int(lo)}) * {int(buckets)} / {int(hi) - int(lo) + 1}"
            return db.execute(
                f"""
                SELECT key, {fine} AS fine, count(*), count(real), min(step), max(step),
                       min(real), max(real), sum(usable), count(usable)
                FROM (
                    SELECT key, step,
                           CASE WHEN is_nan = 0 THEN value END AS real,
                           CASE WHEN is_nan = 0 AND abs(value) < ? THEN value END AS usable
                    FROM metrics {where}
                )
                GROUP BY key, fine
                ORDER BY key, fine
                """,
                (huge, *parameters),
            ).fetchall()

    def points(self, run_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Every point of each key that has any: a ``POINT_DTYPE`` array by step, timestamp.

        A NaN point's value is NaN.
        """
        found: dict[str, np.ndarray] = {}
        with closing(self.connect()) as db:
            for key in dict.fromkeys(keys):
                rows = db.execute(
                    "SELECT step, timestamp, CASE WHEN is_nan = 0 THEN value ELSE NULL END "
                    "FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp",
                    (run_id, key),
                ).fetchall()
                if rows:
                    # A None value (NaN point) becomes NaN in a float64 field.
                    found[key] = np.array(rows, dtype=POINT_DTYPE)
        return found

    def _latest_run(self, db: sqlite3.Connection, experiment: str | None) -> str | None:
        name, experiment_id = experiment_choice(experiment)
        if name:
            found = db.execute("SELECT experiment_id FROM experiments WHERE name = ?", (name,))
            ids = [row[0] for row in found.fetchall()]
            if len(ids) != 1:
                return None
        elif experiment_id:
            if not experiment_id.isdigit():
                return None
            ids = [int(experiment_id)]
        else:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'active' "
                    "ORDER BY creation_time DESC, experiment_id LIMIT ?",
                    (EXPERIMENTS_LISTED,),
                )
            ]
        if not ids:
            return None
        marks = ", ".join("?" * len(ids))
        row = db.execute(
            "SELECT run_uuid FROM runs "
            f"WHERE experiment_id IN ({marks}) AND lifecycle_stage = 'active' "
            "ORDER BY start_time IS NULL, start_time DESC, run_uuid LIMIT 1",
            ids,
        ).fetchone()
        return None if row is None else str(row[0])

    def _run_info(self, db: sqlite3.Connection, run_id: str) -> RunInfo | None:
        run = db.execute(
            "SELECT r.run_uuid, r.name, r.status, r.experiment_id, e.name "
            "FROM runs AS r JOIN experiments AS e ON e.experiment_id = r.experiment_id "
            "WHERE r.run_uuid = ?",
            (run_id,),
        ).fetchall()
        if len(run) != 1:
            return None
        uuid, name, status, experiment_id, experiment_name = run[0]
        if not name:
            tag = db.execute(
                "SELECT value FROM tags WHERE run_uuid = ? AND key = ?", (uuid, RUN_NAME_TAG)
            ).fetchone()
            name = tag[0] if tag else name
        latest = {
            key: math.nan if is_nan else float(value)
            for key, value, is_nan in db.execute(
                "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", (uuid,)
            )
        }
        tags = dict(
            db.execute(
                "SELECT key, value FROM tags WHERE run_uuid = ? AND key IN (?, ?, ?)",
                (uuid, *PROCESS_TAGS),
            ).fetchall()
        )
        return RunInfo(
            run_id=uuid,
            run_name=name or "",
            status=status,
            experiment_id=str(experiment_id),
            experiment_name=experiment_name,
            tracking_uri=self.tracking_uri,
            latest=latest,
            tags=tags,
        )


def _where(run_id: str, keys: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    unique = sorted(set(keys))
    if len(unique) > MAX_KEY_PARAMETERS:  # read all the run's keys; the caller drops the rest
        return "WHERE run_uuid = ?", (run_id,)
    marks = ", ".join("?" * len(unique))
    return f"WHERE run_uuid = ? AND key IN ({marks})", (run_id, *unique)


def _workspaces_enabled() -> bool:
    # MLflow then scopes every query to a workspace; leave that to MLflow's own store.
    return os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").strip().lower() in ("true", "1")
