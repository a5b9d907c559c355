"""Summarise and read a run's metric histories quickly, whatever the store.

SQL stores (sqlite, PostgreSQL, MySQL, ...): the summaries are computed by the database in ONE
aggregate query over MLflow's ``metrics`` table, instead of one ``get_metric_history`` request per
key moving every point into Python. A sqlite file opened as a ``SqliteStore`` is queried with
Python's ``sqlite3`` (no MLflow import at all); other SQL stores through the store's own SQLAlchemy
engine. Every other store (an HTTP tracking server, Databricks, Azure ML) is read with
``get_metric_history``, several keys at a time in threads, and summarised with numpy. All paths
give the same numbers.

Trend lines bin points by step: the run's step range (over the keys asked for) is cut into
``FINE_BUCKETS`` equal bins, and each key's occupied bins are merged into at most ``width`` bars.

MLflow is imported only for an MLflow client's store (the SQL engine path).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from pat_skrl_mlflow.run_store._sqlite_reader import SqliteStore

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from mlflow import MlflowClient

HTTP_CONCURRENCY = 8
FINE_BUCKETS = 200
HUGE = 1e300
"""Values at or beyond this magnitude (MLflow stores ±inf as ±the largest double) stay out
of trend means, as they stay out of a sparkline's scale."""


@dataclass(frozen=True)
class History:
    """One metric's points, ordered by step then timestamp."""

    key: str
    steps: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray


@dataclass(frozen=True)
class MetricSummary:
    """What ``pat inspect metrics`` shows per key (min/max ignore NaN; NaN when all are NaN).

    ``trend`` holds the mean of each sparkline bar (NaN for a bar with no finite value).
    """

    key: str
    count: int
    nan_count: int
    first_step: int
    last_step: int
    last: float
    min: float
    max: float
    trend: tuple[float, ...]


class MetricReader(Protocol):
    """How one kind of store's metric points are read (:func:`metric_reader` picks it)."""

    method: str
    """``"sql"`` (aggregated by the database) or ``"per-key"`` (one request per key)."""

    def summarize(
        self, run_id: str, keys: Sequence[str], latest: Mapping[str, float], width: int
    ) -> list[MetricSummary]:
        """Summaries of ``keys`` that have points, in that order."""

    def histories(self, run_id: str, keys: Sequence[str]) -> dict[str, History]:
        """Every point of ``keys`` that has any."""


class SqliteFileReader:
    """A sqlite file read with Python's ``sqlite3`` (no MLflow import)."""

    method = "sql"

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def summarize(
        self, run_id: str, keys: Sequence[str], latest: Mapping[str, float], width: int
    ) -> list[MetricSummary]:
        rows = self.store.summary_rows(run_id, keys, FINE_BUCKETS, HUGE)
        return _summaries_from_rows(rows, keys, latest, width)

    def histories(self, run_id: str, keys: Sequence[str]) -> dict[str, History]:
        return {
            key: History(key, points["step"], points["value"], points["timestamp"])
            for key, points in self.store.points(run_id, keys).items()
        }


class SqlStoreReader:
    """An MLflow SQL store (PostgreSQL, MySQL, sqlite through MLflow) queried with its engine."""

    method = "sql"

    def __init__(self, store: Any) -> None:
        self.store = store

    def summarize(
        self, run_id: str, keys: Sequence[str], latest: Mapping[str, float], width: int
    ) -> list[MetricSummary]:
        return _summarize_sql(self.store, run_id, keys, latest, width)

    def histories(self, run_id: str, keys: Sequence[str]) -> dict[str, History]:
        return _read_sql(self.store, run_id, keys)


class RequestReader:
    """Any other store (a tracking server, Databricks): ``get_metric_history`` per key."""

    method = "per-key"

    def __init__(self, client: MlflowClient, workers: int = HTTP_CONCURRENCY) -> None:
        self.client = client
        self.workers = workers

    def summarize(
        self, run_id: str, keys: Sequence[str], latest: Mapping[str, float], width: int
    ) -> list[MetricSummary]:
        histories = self.histories(run_id, keys)
        return summarize_histories([histories[k] for k in keys if k in histories], width=width)

    def histories(self, run_id: str, keys: Sequence[str]) -> dict[str, History]:
        read = _read_per_key(self.client, run_id, keys, workers=self.workers)
        return {key: history for key, history in read.items() if len(history.steps)}


def metric_reader(source: MlflowClient | SqliteStore) -> MetricReader:
    """The reader for ``source``; the one place the kinds of store are told apart.

    A sqlite file read directly, MLflow's SQL store through its engine, else requests.
    """
    if isinstance(source, SqliteStore):
        return SqliteFileReader(source)
    store = _sql_store(source)
    return SqlStoreReader(store) if store is not None else RequestReader(source)


def summarize_run(
    source: MlflowClient | SqliteStore,
    run_id: str,
    keys: Sequence[str],
    latest: Mapping[str, float],
    *,
    width: int = 20,
) -> tuple[list[MetricSummary], str]:
    """Summaries of ``keys`` (in that order) and how they were read: ``"sql"`` or ``"per-key"``.

    ``latest`` is the run's latest value per key (``run.data.metrics``: MLflow's own notion of
    the last value, the one at the highest step).
    """
    if not keys:
        return [], "none"
    reader = metric_reader(source)
    return reader.summarize(run_id, keys, latest, width), reader.method


def read_histories(
    source: MlflowClient | SqliteStore, run_id: str, keys: Sequence[str]
) -> dict[str, History]:
    """Every point of ``keys`` that has any (see :func:`metric_reader`)."""
    return metric_reader(source).histories(run_id, keys) if keys else {}


def read_histories_per_key(
    client: MlflowClient, run_id: str, keys: Sequence[str], *, workers: int = HTTP_CONCURRENCY
) -> dict[str, History]:
    """Read with ``get_metric_history``, ``workers`` keys at a time (works on every store)."""
    return RequestReader(client, workers).histories(run_id, keys)


def summarize_histories(histories: Sequence[History], *, width: int = 20) -> list[MetricSummary]:
    """The numpy twin of the SQL aggregate: same numbers from histories held in memory."""
    present = [h for h in histories if len(h.steps)]
    lo = min((int(h.steps.min()) for h in present), default=0)
    hi = max((int(h.steps.max()) for h in present), default=0)
    summaries = []
    for history in histories:
        values = history.values
        real = values[~np.isnan(values)]
        fine = (history.steps.astype(np.int64) - lo) * FINE_BUCKETS // (hi - lo + 1)
        usable = np.isfinite(values) & (np.abs(values) < HUGE)
        occupied = np.unique(fine)
        sums = np.bincount(fine, weights=np.where(usable, values, 0.0), minlength=FINE_BUCKETS)
        counts = np.bincount(fine, weights=usable.astype(np.float64), minlength=FINE_BUCKETS)
        summaries.append(
            MetricSummary(
                key=history.key,
                count=len(values),
                nan_count=len(values) - len(real),
                first_step=int(history.steps[0]) if len(values) else 0,
                last_step=int(history.steps[-1]) if len(values) else 0,
                last=float(values[-1]) if len(values) else math.nan,
                min=float(real.min()) if len(real) else math.nan,
                max=float(real.max()) if len(real) else math.nan,
                trend=_coarsen(occupied, sums[occupied], counts[occupied], width),
            )
        )
    return summaries


def _coarsen(
    buckets: np.ndarray, sums: np.ndarray, counts: np.ndarray, width: int
) -> tuple[float, ...]:
    """Merge a key's occupied fine bins (sorted) into at most ``width`` bar means."""
    if len(buckets) == 0:
        return ()
    first, last = int(buckets[0]), int(buckets[-1])
    span = last - first + 1
    bars = min(width, span)
    bar = (np.asarray(buckets, dtype=np.int64) - first) * bars // span
    bar_sums = np.bincount(bar, weights=sums, minlength=bars)
    bar_counts = np.bincount(bar, weights=counts, minlength=bars)
    means = np.full(bars, np.nan)
    np.divide(bar_sums, bar_counts, out=means, where=bar_counts > 0)
    return tuple(means.tolist())


def _sql_store(client: MlflowClient) -> Any:
    # MlflowClient keeps its store private; if that ever changes we fall back to per-key reads.
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    return store if isinstance(store, SqlAlchemyStore) else None


def _engine(store: Any) -> Any:
    return getattr(store, "read_engine", None) or store.engine


def _key_clause(column: Any, keys: Sequence[str]) -> Any:
    import sqlalchemy as sa

    # SQL engines cap bound parameters; for long key lists read all and drop the rest here.
    return column.in_(sorted(set(keys))) if len(set(keys)) <= 500 else sa.true()


def _summarize_sql(
    store: Any, run_id: str, keys: Sequence[str], latest: Mapping[str, float], width: int
) -> list[MetricSummary]:
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlMetric

    M: Any = SqlMetric  # noqa: N806 - reads like the table in the queries below

    where = (M.run_uuid == run_id, _key_clause(M.key, keys))
    with _engine(store).connect() as connection:
        lo, hi = connection.execute(
            sa.select(sa.func.min(M.step), sa.func.max(M.step)).where(*where)
        ).one()
        if lo is None:
            return []
        # The stored value of a NaN point is a placeholder: is_nan says what it really was.
        real = sa.case((M.is_nan == sa.false(), M.value), else_=None)
        usable = sa.case(((M.is_nan == sa.false()) & (sa.func.abs(M.value) < HUGE), M.value))
        fine = ((M.step - int(lo)) * FINE_BUCKETS // (int(hi) - int(lo) + 1)).label("fine")
        query = (
            sa.select(
                M.key,
                fine,
                sa.func.count(),
                sa.func.count(real),
                sa.func.min(M.step),
                sa.func.max(M.step),
                sa.func.min(real),
                sa.func.max(real),
                sa.func.sum(usable),
                sa.func.count(usable),
            )
            .where(*where)
            .group_by(M.key, fine)
            .order_by(M.key, fine)
        )
        rows = connection.execute(query).all()
    return _summaries_from_rows(rows, keys, latest, width)


def _summaries_from_rows(
    rows: Sequence[Sequence[Any]], keys: Sequence[str], latest: Mapping[str, float], width: int
) -> list[MetricSummary]:
    """Summaries of ``keys`` from the rows of the per (key, fine bin) aggregate.

    Row columns: key, fine bin, count, non-NaN count, min step, max step, min, max, sum and
    count of the usable values; rows sorted by key then bin.
    """
    by_key: dict[str, list[Any]] = {}
    for row in rows:
        by_key.setdefault(row[0], []).append(row)
    summaries = []
    for key in keys:
        group = by_key.get(key)
        if not group:
            continue
        count = sum(r[2] for r in group)
        mins = [r[6] for r in group if r[6] is not None]
        maxs = [r[7] for r in group if r[7] is not None]
        summaries.append(
            MetricSummary(
                key=key,
                count=count,
                nan_count=count - sum(r[3] for r in group),
                first_step=min(r[4] for r in group),
                last_step=max(r[5] for r in group),
                last=float(latest.get(key, math.nan)),
                min=float(min(mins)) if mins else math.nan,
                max=float(max(maxs)) if maxs else math.nan,
                trend=_coarsen(
                    np.array([r[1] for r in group], dtype=np.int64),
                    np.array([r[8] or 0.0 for r in group], dtype=np.float64),
                    np.array([r[9] for r in group], dtype=np.float64),
                    width,
                ),
            )
        )
    return summaries


def _read_sql(store: Any, run_id: str, keys: Sequence[str]) -> dict[str, History]:
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlMetric

    M: Any = SqlMetric  # noqa: N806 - reads like the table in the queries below

    query = (
        sa.select(M.key, M.step, M.timestamp, M.value, M.is_nan)
        .where(M.run_uuid == run_id, _key_clause(M.key, keys))
        .order_by(M.key, M.step, M.timestamp)
    )
    with _engine(store).connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return {}
    names, steps, timestamps, values, is_nan = zip(*rows, strict=True)
    count = len(rows)
    step_array = np.fromiter(steps, dtype=np.int64, count=count)
    time_array = np.fromiter(timestamps, dtype=np.int64, count=count)
    value_array = np.fromiter(values, dtype=np.float64, count=count)
    value_array[np.fromiter(is_nan, dtype=bool, count=count)] = np.nan
    # Rows come sorted by key: each key is one contiguous slice.
    name_array = np.array(names, dtype=object)
    starts = [0, *(np.flatnonzero(name_array[1:] != name_array[:-1]) + 1).tolist()]
    wanted = set(keys)
    histories = {}
    for start, end in zip(starts, [*starts[1:], count], strict=True):
        key = names[start]
        if key in wanted:
            histories[key] = History(
                key, step_array[start:end], value_array[start:end], time_array[start:end]
            )
    return histories


def _read_per_key(
    client: MlflowClient, run_id: str, keys: Sequence[str], *, workers: int = HTTP_CONCURRENCY
) -> dict[str, History]:
    def one(key: str) -> History:
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
        return History(
            key,
            np.array([m.step for m in points], dtype=np.int64),
            np.array([m.value for m in points], dtype=np.float64),
            np.array([m.timestamp for m in points], dtype=np.int64),
        )

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(keys)))) as pool:
        return {history.key: history for history in pool.map(one, keys)}
