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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from pat_skrl_mlflow.run_store._run_info import PROCESS_TAGS, RunInfo
from pat_skrl_mlflow.run_store._store_address import experiment_choice, sqlite_path

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


@dataclass(frozen=True)
class ListedRun:
    """One run of a listing (``pat runs``): what names it, when it ran, a few latest values."""

    run_id: str
    run_name: str
    status: str
    experiment_id: str
    experiment_name: str
    start_time: int | None
    """Milliseconds since the epoch, as MLflow stores it."""
    end_time: int | None
    """Milliseconds since the epoch; ``None`` while the run has not ended."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The latest value of each asked-for key the run has (NaN for a NaN point)."""


@dataclass(frozen=True)
class RunListing:
    """The newest runs of the experiments searched, newest first."""

    runs: list[ListedRun]
    experiments: tuple[str, ...]
    """Names of the experiments searched (one when an experiment was chosen)."""
    tracking_uri: str
    chosen: bool
    """Whether one experiment was chosen (``--experiment``, the environment) or all searched."""


class UnknownExperimentError(LookupError):
    """The chosen experiment is not in the store; ``known`` names those that are."""

    def __init__(self, wanted: str, known: Sequence[str]) -> None:
        super().__init__(wanted)
        self.wanted = wanted
        self.known = tuple(known)


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

    def list_runs(
        self, experiment: str | None, *, limit: int, status: str | None, keys: Sequence[str]
    ) -> RunListing | None:
        """The newest ``limit`` active runs, as MLflow's ``search_runs`` orders them.

        The experiment is chosen as ``find_run`` chooses it (``experiment_choice``): one by
        name or id, else every active experiment. ``status`` keeps only runs with that status;
        ``keys`` are the metric keys whose latest values are read. ``None`` where MLflow must
        decide (an experiment id that is not a number, a name held twice, an unreadable file).

        Raises:
            UnknownExperimentError: The chosen experiment is not in the store.
        """
        try:
            with closing(self.connect()) as db:
                found = self._listed_experiments(db, experiment)
                if found is None:
                    return None
                experiments, chosen = found
                runs = self._listed_runs(db, experiments, limit, status, keys)
        except sqlite3.Error:
            return None
        return RunListing(runs, tuple(experiments.values()), self.tracking_uri, chosen)

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

    def _listed_experiments(
        self, db: sqlite3.Connection, experiment: str | None
    ) -> tuple[dict[int, str], bool] | None:
        """``{id: name}`` of the experiments to list runs of, and whether one was chosen."""
        name, experiment_id = experiment_choice(experiment)
        if name:
            rows = db.execute(
                "SELECT experiment_id, name FROM experiments WHERE name = ?", (name,)
            ).fetchall()
        elif experiment_id:
            if not experiment_id.isdigit():
                return None
            rows = db.execute(
                "SELECT experiment_id, name FROM experiments WHERE experiment_id = ?",
                (int(experiment_id),),
            ).fetchall()
        else:
            return dict(db.execute(_ACTIVE_EXPERIMENTS, (EXPERIMENTS_LISTED,)).fetchall()), False
        if len(rows) > 1:
            return None
        if not rows:
            known = [row[1] for row in db.execute(_ACTIVE_EXPERIMENTS, (EXPERIMENTS_LISTED,))]
            raise UnknownExperimentError(name or str(experiment_id), known)
        return dict(rows), True

    def _listed_runs(
        self,
        db: sqlite3.Connection,
        experiments: dict[int, str],
        limit: int,
        status: str | None,
        keys: Sequence[str],
    ) -> list[ListedRun]:
        if not experiments:
            return []
        ids = list(experiments)
        # Experiment ids are whole numbers read from the file itself: inlined, not bound
        # (a store can hold more experiments than a statement may bind parameters).
        where = f"experiment_id IN ({', '.join(str(int(i)) for i in ids)})"
        where += " AND lifecycle_stage = 'active'"
        parameters: tuple[Any, ...] = ()
        if status:
            where += " AND status = ?"
            parameters = (status,)
        rows = db.execute(
            "SELECT run_uuid, name, status, experiment_id, start_time, end_time FROM runs "
            f"WHERE {where} "
            "ORDER BY start_time IS NULL, start_time DESC, run_uuid LIMIT ?",
            (*parameters, limit),
        ).fetchall()
        uuids = [row[0] for row in rows]
        latest = self._latest_values(db, uuids, keys)
        unnamed = [row[0] for row in rows if not row[1]]
        names = dict(
            self._in_chunks(
                db,
                "SELECT run_uuid, value FROM tags WHERE key = ? AND run_uuid IN ({marks})",
                (RUN_NAME_TAG,),
                unnamed,
            )
        )
        return [
            ListedRun(
                run_id=uuid,
                run_name=name or names.get(uuid, ""),
                status=run_status,
                experiment_id=str(experiment_id),
                experiment_name=experiments.get(experiment_id, ""),
                start_time=start,
                end_time=end,
                metrics=latest.get(uuid, {}),
            )
            for uuid, name, run_status, experiment_id, start, end in rows
        ]

    def _latest_values(
        self, db: sqlite3.Connection, uuids: Sequence[str], keys: Sequence[str]
    ) -> dict[str, dict[str, float]]:
        wanted = sorted(set(keys))
        if not wanted or not uuids:
            return {}
        values: dict[str, dict[str, float]] = {}
        fixed: tuple[str, ...] = ()
        if len(wanted) > MAX_KEY_PARAMETERS // 2:  # read every key; the others are dropped
            query = "SELECT run_uuid, key, value, is_nan FROM latest_metrics"
            query += " WHERE run_uuid IN ({marks})"
        else:
            query = "SELECT run_uuid, key, value, is_nan FROM latest_metrics "
            query += f"WHERE key IN ({', '.join('?' * len(wanted))}) AND run_uuid IN ({{marks}})"
            fixed = tuple(wanted)
        keep = set(wanted)
        for uuid, key, value, is_nan in self._in_chunks(db, query, fixed, uuids):
            if key in keep:
                values.setdefault(uuid, {})[key] = math.nan if is_nan else float(value)
        return values

    @staticmethod
    def _in_chunks(
        db: sqlite3.Connection, query: str, fixed: tuple[Any, ...], items: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """``query`` (its ``{marks}`` an ``IN`` list of ``items``) run over bounded chunks."""
        rows: list[tuple[Any, ...]] = []
        step = MAX_KEY_PARAMETERS // 2
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            rows += db.execute(
                query.format(marks=", ".join("?" * len(chunk))), (*fixed, *chunk)
            ).fetchall()
        return rows

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


_ACTIVE_EXPERIMENTS = (
    "SELECT experiment_id, name FROM experiments WHERE lifecycle_stage = 'active' "
    "ORDER BY creation_time DESC, experiment_id LIMIT ?"
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
