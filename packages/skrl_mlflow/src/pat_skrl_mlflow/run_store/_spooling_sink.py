"""A sink that never loses a point: the store when it answers, a durable spool when not.

:class:`SpoolingSink` wraps the store's sink. While the store takes requests, points go
straight to it. When it cannot be reached (down, restarting, 5xx, timeouts:
``SinkUnavailable``) the points are appended to a :class:`~pat_skrl_mlflow.run_store._spool.Spool`
and ``write`` returns at once, so training never waits for the store. A drainer thread
then retries with exponential backoff; once the store answers it delivers the spooled
points in order (original steps and timestamps) and moves the spool's ``delivered``
marker after each accepted request. Until the backlog is empty new points are spooled
too, so the store receives them in order and none twice.

Offline runs (the store was unreachable when training started; run id ``offline-…``)
only spool: ``pat sync`` creates the run and delivers them later.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow.run_store._http import fail_fast_over_http
from pat_skrl_mlflow.run_store._sink import (
    DeliveryStats,
    MetricPoint,
    MlflowSink,
    Sink,
    SinkRejected,
    SinkUnauthorized,
    SinkUnavailable,
    client_uri,
    write_bisecting,
)
from pat_skrl_mlflow.run_store._spool import SPOOL_DIRNAME, Spool
from pat_skrl_mlflow.run_store._writer_client import ProcessClient
from pat_skrl_mlflow.run_store._writer_process import (
    ProcessSink,
    process_enabled,
    store_writes_in_process,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "OFFLINE_PREFIX",
    "SpoolingSink",
    "drain",
    "durable_sink",
    "linger_seconds",
    "spool_directory",
]

_log = logging.getLogger("pat_skrl_mlflow")

OFFLINE_PREFIX = "offline-"
"""Run ids of runs that do not exist in the store yet (created by ``pat sync``)."""
SPOOL_VARIABLE = "PAT_SPOOL_DIR"
_BATCH = 1000
_COMPACT_BYTES = 16 * 1024 * 1024  # a written-ahead spool is emptied once all of it is stored


def drain(
    spool: Spool,
    write: Callable[[str, Sequence[MetricPoint]], None],
    *,
    stop: Callable[[], bool] = lambda: False,
) -> DeliveryStats:
    """Deliver a spool's waiting points in order, ``_BATCH`` per request.

    Args:
        spool: The spool.
        write: Sends points of one run (raises ``SinkRejected`` / ``SinkUnavailable``).
        stop: Checked between requests; True ends the drain early.

    Returns:
        The counts. The marker moves after every accepted request, so a drain cut
        short (or a crash) resumes where it stopped and sends nothing twice.

    Raises:
        SinkUnavailable: The store could not be reached (the rest stays spooled).
    """
    result = DeliveryStats()
    while not stop():
        batch = spool.pending(limit=_BATCH)
        if not batch:
            break
        run_id = batch[0].run_id
        end = 1
        while end < len(batch) and batch[end].run_id == run_id:
            end += 1
        part = batch[:end]
        write_bisecting([item.point for item in part], functools.partial(write, run_id), result)
        spool.mark_delivered(part[-1].seq)
    return result


class SpoolingSink:
    """The store's sink, with a durable spool and a drainer for when it is unreachable.

    Args:
        inner: The store's sink (an :class:`~pat_skrl_mlflow.MlflowSink`).
        spool: Where points wait.
        offline: Only spool (the run does not exist in the store yet).
        write_ahead: Put every request's points in the spool before sending them, and
            mark them delivered once the store took them: for stores whose requests may
            block for long (sqlite waits up to 20 s for another process's lock), so a
            process killed meanwhile (``kill -9``) loses nothing that reached the sink.
        backoff: First retry delay of the drainer in seconds; doubles up to ``max_backoff``.
        max_backoff: The longest delay between retries.

    MLflow's HTTP client is told to fail fast (one retry, 15 s timeout) unless
    ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``_BACKOFF_FACTOR`` / ``_TIMEOUT`` are set: the
    spool does the retrying, and the process-wide setting applies to pat's other calls too.
    """

    def __init__(
        self,
        inner: MlflowSink,
        spool: Spool,
        *,
        offline: bool = False,
        write_ahead: bool = False,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        fail_fast_over_http()
        self.inner = inner
        self.max_batch = inner.max_batch
        self.spool = spool
        self.offline = offline
        self.write_ahead = write_ahead and not offline
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._state = threading.RLock()  # re-entrant: see keep()
        self._backlog = offline or spool.pending_count() > 0
        self._stop = threading.Event()
        self._closing = threading.Event()  # close() is waiting for the drainer
        self._wake = threading.Event()
        self._drainer: threading.Thread | None = None
        self._stats = DeliveryStats(spool=spool.directory)
        self._reachable = not offline
        self._warned = False
        self._described = False
        if offline:
            spool.update_run_info(run_id=None, offline_id=inner.run_id)
        elif self._backlog:
            self._start_drainer()

    # --- the sender's side -------------------------------------------------------------
    def write(self, points: Sequence[MetricPoint]) -> None:
        """Store ``points``, or spool them when the store is unreachable or behind.

        Raises:
            SinkRejected: The store refused the request (the sender splits it).
            SinkUnavailable: Neither the store nor the spool could take the points.
        """
        with self._state:
            if self._backlog:
                self._append(points)
                return
            ahead = self._append_ahead(points) if self.write_ahead else None
        try:
            self.inner.write(points)
            self._reachable = True
        except SinkUnavailable as exc:
            self._reachable = False
            with self._state:
                if ahead is None:
                    self._append(points)
                else:
                    self._stats.spooled += len(points)
                self._backlog = True
                self._stats.outages.append((time.time(), None))
            self._warn(str(exc))
            self._start_drainer()
            return
        except SinkRejected:
            if ahead is not None:  # the sender splits the request and writes the halves anew
                self._delivered_ahead(ahead)
            raise
        if ahead is not None:
            self._delivered_ahead(ahead)

    def _append_ahead(self, points: Sequence[MetricPoint]) -> int | None:
        """Spool a request's points before it is sent (lock held); their last seq."""
        try:
            self._describe_spool()
            return self.spool.append(self.inner.run_id, points)
        except OSError as exc:  # the store may still take them: send without the safety net
            _log.debug("pat: could not write ahead to the spool: %r", exc)
            return None

    def _delivered_ahead(self, seq: int) -> None:
        with self._state:
            if self._backlog:  # the drainer owns the marker now (it resends what is left)
                return
            try:
                self.spool.mark_delivered(seq)
                self.spool.discard_delivered(above_bytes=_COMPACT_BYTES)
            except OSError as exc:
                _log.debug("pat: could not mark spooled points delivered: %r", exc)

    def _describe_spool(self) -> None:
        if not self._described and not self.spool.run_info():
            self.spool.update_run_info(
                tracking_uri=_masked(self.inner), run_id=None if self.offline else self.inner.run_id
            )
        self._described = True

    def _append(self, points: Sequence[MetricPoint]) -> None:
        """Spool ``points`` (lock held)."""
        try:
            self._describe_spool()
            self.spool.append(self.inner.run_id, points)
        except OSError as exc:
            raise SinkUnavailable(f"store unreachable and spool not writable: {exc}") from exc
        self._stats.spooled += len(points)

    def _warn(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            _log.warning(
                "pat: the MLflow store is not taking metric points (%s); training continues, "
                "the points are spooled to %s and delivered when it takes them again.",
                reason,
                self.spool.directory,
            )

    # --- the drainer -------------------------------------------------------------------
    def _start_drainer(self) -> None:
        if self.offline or (self._drainer is not None and self._drainer.is_alive()):
            return
        self._drainer = threading.Thread(target=self._drain_loop, name="pat-spool", daemon=True)
        self._drainer.start()

    def _write_run(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        if run_id == self.inner.run_id:
            try:
                self.inner.write(points)
            except SinkUnavailable:
                self._reachable = False
                raise
            self._reachable = True
        elif run_id.startswith(OFFLINE_PREFIX):  # an earlier offline run: `pat sync` creates it
            raise SinkUnavailable(f"points of offline run {run_id} wait for `pat sync`")
        else:  # an earlier run's leftovers in a reused experiment directory
            MlflowSink(self.inner.client, run_id).write(points)

    def _drain_loop(self) -> None:
        delay = self.backoff
        while not self._stop.is_set():
            closing = self._closing.is_set()
            try:
                with self.spool.exclusive():
                    result = drain(self.spool, self._write_run, stop=self._stop.is_set)
                self._count(result)
                with self._state:
                    if not self.spool.pending(limit=1):
                        self._backlog = False
                        self._end_outage()
                        return
                delay = self.backoff
            except SinkUnavailable as exc:
                if closing and isinstance(exc, SinkUnauthorized):
                    return  # a try made for close() was refused: do not wait out the timeout
                self._wake.wait(delay)
                self._wake.clear()
                delay = min(delay * 2, self.max_backoff)
            except Exception as exc:  # never die silently with points waiting
                _log.warning("pat: spool delivery failed: %r", exc)
                self._wake.wait(delay)
                delay = min(delay * 2, self.max_backoff)

    def _count(self, result: DeliveryStats) -> None:
        with self._state:
            self._stats.delivered_from_spool += result.delivered
            self._stats.rejected_from_spool += result.rejected
        for key, reason in result.rejections.items():
            _log.warning("pat: MLflow rejected spooled metric %r: %s", key, reason)

    def _end_outage(self) -> None:
        if self._stats.outages and self._stats.outages[-1][1] is None:
            self._stats.outages[-1] = (self._stats.outages[-1][0], time.time())

    # --- end ---------------------------------------------------------------------------
    def keep(self, points: Sequence[MetricPoint], *, deliver: bool = False) -> int:
        """Spool ``points`` without trying the store; returns the waiting count.

        For points beyond the sender's queue limit (``deliver``: the drainer sends them
        while training goes on), points the store did not take in time at the end, and a
        forced exit: safe from a signal handler that interrupted a thread inside this
        sink (the locks are re-entrant, each append is one fsynced write).
        """
        with self._state:
            if points:
                self._append(points)
            self._backlog = True
        if deliver:
            self._start_drainer()
            return 0
        return self.spool.pending_count()

    @property
    def reachable(self) -> bool:
        """Whether the store took the last request tried (False during an outage)."""
        return self._reachable

    def record_end(self, status: str) -> None:
        """Note in the spool that the run must still be ended with ``status`` (by `pat sync`)."""
        if self.offline:  # `pat sync` creates the run and gives it this status
            self.spool.update_run_info(status=status)
            return
        if not self.spool.run_info():
            self.spool.update_run_info(tracking_uri=_masked(self.inner))
        self.spool.update_run_info(run_id=self.inner.run_id, status=status, end_pending=True)

    def close(self, timeout: float | None = 30.0) -> int:
        """Try to deliver the backlog for up to ``timeout`` seconds, then stop.

        A store that refuses the credentials (401, 403) gets one try, not the whole timeout.

        Returns:
            The points still waiting in the spool (``pat sync`` delivers them).
        """
        drainer = self._drainer
        if drainer is not None and drainer.is_alive():
            self._closing.set()
            self._wake.set()  # retry now rather than after the current backoff
            drainer.join(timeout=30.0 if timeout is None else max(0.0, timeout))
        self._stop.set()
        self._wake.set()
        if drainer is not None:
            drainer.join(timeout=5.0)
        closer = getattr(self.inner, "close", None)
        if callable(closer):  # pat's store writer process: it finishes, then exits
            closer()
        waiting = self.spool.pending_count() if self._stats.spooled or self._backlog else 0
        with self._state:
            self._stats.waiting = waiting
        if waiting:
            _log.warning(
                "pat: %d metric points wait in %s (the store %s); deliver them with `pat sync %s`.",
                waiting,
                self.spool.directory,
                "did not take them in time" if self._reachable else "is unreachable",
                self.spool.directory,
            )
        return waiting

    @property
    def stats(self) -> DeliveryStats:
        """A snapshot of the spool's counters (``spool``, ``spooled``, ... ``outages``)."""
        with self._state:
            return self._stats.copy()


def _masked(sink: Any) -> str:
    """The store's URI as a spool records it: masked, a relative sqlite path made absolute.

    ``pat sync`` may run from another directory than the training did.
    """
    from pat_skrl_mlflow.run_store._secrets import mask_uri

    uri = getattr(sink, "tracking_uri", "") or client_uri(getattr(sink, "client", None))
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and ":memory:" not in uri:
        uri = prefix + os.path.abspath(uri[len(prefix) :])
    return mask_uri(uri)


def spool_directory(agent: Any, run_id: str) -> Path:
    """Where a run's spool lives: ``PAT_SPOOL_DIR``, else beside the agent's outputs."""
    configured = os.environ.get(SPOOL_VARIABLE)
    if configured:
        return Path(configured)
    experiment_dir = getattr(agent, "experiment_dir", None)
    if experiment_dir:
        return Path(experiment_dir) / SPOOL_DIRNAME
    return Path.cwd() / SPOOL_DIRNAME / run_id


REMOTE_STORE_LINGER_SECONDS = 1.0
LOCAL_STORE_LINGER_SECONDS = 5.0
"""A store MLflow writes itself (sqlite, a database URI, files): each request is MLflow's
Python work (SQLAlchemy, sqlite's I/O) in pat's store writer process -- or, with
``PAT_STORE_PROCESS=0``, in the training process, where it held the GIL and slowed the
training thread (measured: the same skrl/torch code ran 3-32 % longer with 1 s requests to
sqlite, not at all with a null sink) -- so fewer, fuller requests. A server (``http(s)://``,
``databricks``) does that work in its own process."""


def linger_seconds(tracking_uri: str) -> float:
    """How long the sender lets points gather before a request to the store at ``tracking_uri``."""
    if store_writes_in_process(tracking_uri):
        return LOCAL_STORE_LINGER_SECONDS
    return REMOTE_STORE_LINGER_SECONDS


def durable_sink(client: Any, run_id: str, agent: Any = None, tracking_uri: str = "") -> Sink:
    """The sink pat uses for a run: MLflow, spooled when the store is unreachable.

    The metrics are written from a child process (see
    :mod:`pat_skrl_mlflow.run_store._writer_process`), a tracking server's too, unless
    ``PAT_STORE_PROCESS=0``; a
    :class:`~pat_skrl_mlflow.run_store._writer_client.ProcessClient`'s run is written by its
    own child.
    """
    from pat_skrl_mlflow.run_store._secrets import protect

    uri = tracking_uri or client_uri(client)
    protect(uri)
    fail_fast_over_http()  # before the writer process starts: it inherits the environment
    offline = run_id.startswith(OFFLINE_PREFIX)
    inner: MlflowSink
    if isinstance(client, ProcessClient):
        inner = ProcessSink(client, run_id, uri, process=client.process)
    elif uri and not offline and process_enabled():
        inner = ProcessSink(client, run_id, uri)
    else:
        inner = MlflowSink(client, run_id)
    return SpoolingSink(
        inner,
        Spool(spool_directory(agent, run_id)),
        offline=offline,
        write_ahead=store_writes_in_process(uri),
    )
