"""Deliver metric points to a sink from a background thread, never stalling training.

Policy when the store is slower than training: points wait in one queue bounded by
``max_queue_points``. :meth:`BackgroundSender.submit` never waits longer than
``block_seconds`` for room; when the queue is still full after that, the *oldest*
queued points are dropped to make room (recent values are worth more than stale
ones), counted in :attr:`DeliveryStats.dropped` and reported once.

Delivery: points wait up to ``linger_seconds`` to be sent together (fewer, fuller
requests: each request costs the store, and the sender's Python time competes with
training for the GIL), up to ``sink.max_batch`` points per request. A request the store rejects is
split in halves until each rejected point stands alone (``write_bisecting``), so one bad
metric never takes others with it; rejected keys are counted and reported once each with
the reason. The sender does not retry: pat's sink is a spooling one (``_spooling_sink``), which
keeps what the store cannot take and delivers it later; a bare sink's unreachable store is
counted as failed. Nothing here ever raises into the caller's thread.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import TYPE_CHECKING

from pat_skrl_mlflow.run_store._sink import (
    DeliveryStats,
    MetricPoint,
    Sink,
    SinkUnavailable,
    write_bisecting,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["BackgroundSender"]

_log = logging.getLogger("pat_skrl_mlflow")


class BackgroundSender:
    """A bounded queue of metric points and the thread that drains it into a sink.

    Args:
        sink: Where the points go.
        max_queue_points: The most points waiting at once.
        block_seconds: The longest :meth:`submit` waits for room before dropping the
            oldest points.
        linger_seconds: How long queued points may wait for more to fill a request;
            :meth:`flush` and :meth:`close` send at once.
        name: The thread's name.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        max_queue_points: int = 100_000,
        block_seconds: float = 0.25,
        linger_seconds: float = 1.0,
        name: str = "pat-mlflow-sender",
    ) -> None:
        if max_queue_points < 1:
            raise ValueError(f"max_queue_points must be >= 1, got {max_queue_points}")
        self.sink = sink
        self.max_queue_points = max_queue_points
        self.block_seconds = block_seconds
        self.linger_seconds = linger_seconds
        self._first_queued_at = 0.0
        self._flushing = 0
        self._queue: collections.deque[MetricPoint] = collections.deque()
        self._cond = threading.Condition()
        self._stats = DeliveryStats()
        self._in_flight = 0
        self._in_flight_batch: list[MetricPoint] = []
        self._closing = False
        self._abandoned = False  # abandon() took the unsent points: counting is done
        self._warned_drop = False
        self._warned_unavailable = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # --- caller side -------------------------------------------------------------------
    def submit(self, points: Sequence[MetricPoint]) -> None:
        """Queue ``points`` for delivery; waits at most ``block_seconds`` for room."""
        if not points:
            return
        with self._cond:
            self._stats.submitted += len(points)
            if self._closing:
                self._stats.dropped += len(points)
                return
            room_needed = len(self._queue) + len(points) - self.max_queue_points
            if room_needed > 0 and self.block_seconds > 0:
                deadline = time.monotonic() + self.block_seconds
                while len(self._queue) + len(points) > self.max_queue_points:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._cond.wait(remaining):
                        break
            overflow = len(self._queue) + len(points) - self.max_queue_points
            spill: list[MetricPoint] = []
            if overflow > 0 and callable(getattr(self.sink, "keep", None)):
                spill = self._take_oldest(overflow, points)  # to the spool, in order
                points = points[max(0, len(points) - self.max_queue_points) :]
            elif overflow > 0:
                self._drop_oldest(overflow, len(points))
                points = points[-self.max_queue_points :]
            if not self._queue:
                self._first_queued_at = time.monotonic()
            self._queue.extend(points)
            self._cond.notify_all()
        if spill:
            self._keep(spill, deliver=True)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every point submitted so far is delivered or accounted for.

        Args:
            timeout: Seconds to wait at most; None waits as long as it takes.

        Returns:
            True when nothing is pending any more.
        """
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._in_flight:
                    if not self._thread.is_alive():
                        break
                    remaining = None if end is None else end - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._cond.wait(0.05 if remaining is None else min(0.05, remaining))
                return not self._queue and not self._in_flight
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush, then stop the thread; later submissions are counted as dropped.

        Returns:
            True when everything was delivered or accounted for in time.
        """
        done = self.flush(timeout)
        if done:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
        else:  # the store is slower than training was: keep the rest for `pat sync`
            self._keep(self.abandon())
        self._thread.join(timeout=1.0 if timeout is None else max(0.1, min(timeout, 5.0)))
        closer = getattr(self.sink, "close", None)
        if callable(closer):  # a spooling sink: last delivery attempt, then stop its thread
            try:
                closer(timeout)
            except Exception as exc:
                _log.warning("pat: closing the metric sink failed: %r", exc)
        return done

    def abandon(self) -> list[MetricPoint]:
        """Stop now: take every point not yet stored, without waiting for the store.

        The points are those queued and those of the request in flight (which the store
        may or may not take: resending identical points stores nothing new in MLflow's
        SQL stores). The caller accounts for them (see :meth:`_keep`); what the thread
        later makes of the request in flight is no longer counted.
        """
        with self._cond:
            self._closing = True
            self._abandoned = True
            points = [*self._in_flight_batch, *self._queue]
            self._queue.clear()
            self._cond.notify_all()
            return points

    def _keep(self, points: list[MetricPoint], *, deliver: bool = False) -> None:
        """Hand unsent points to the sink's spool (counted delivered), else count them failed.

        ``deliver``: the spool's drainer delivers them while training goes on.
        """
        keep = getattr(self.sink, "keep", None)
        kept = False
        if points and callable(keep):
            try:
                keep(points, deliver=deliver)
                kept = True
            except Exception as exc:
                _log.warning("pat: could not spool %d unsent metric points: %r", len(points), exc)
        with self._cond:
            if kept:
                self._stats.delivered += len(points)
            else:
                self._stats.failed += len(points)

    @property
    def stats(self) -> DeliveryStats:
        """A snapshot of the counters, with the spool's when the sink spools."""
        with self._cond:
            snapshot = self._stats.copy()
        spool = getattr(self.sink, "stats", None)  # a spooling sink's own record
        return snapshot.with_spool(spool) if isinstance(spool, DeliveryStats) else snapshot

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing

    def _take_oldest(self, count: int, incoming: Sequence[MetricPoint]) -> list[MetricPoint]:
        """The ``count`` oldest of the queue followed by ``incoming`` (lock held)."""
        taken = [self._queue.popleft() for _ in range(min(count, len(self._queue)))]
        taken += incoming[: max(0, len(incoming) - self.max_queue_points)]
        if not self._warned_drop:
            self._warned_drop = True
            _log.warning(
                "pat: the MLflow store is slower than training; metric points beyond the "
                "queue limit (%d points) go to the spool and are delivered from there.",
                self.max_queue_points,
            )
        return taken

    def _drop_oldest(self, count: int, incoming: int) -> None:
        dropped = 0
        while count > 0 and self._queue:
            self._queue.popleft()
            count -= 1
            dropped += 1
        dropped += max(0, incoming - self.max_queue_points)  # a submission larger than the queue
        self._stats.dropped += dropped
        if not self._warned_drop:
            self._warned_drop = True
            _log.warning(
                "pat: the MLflow store is slower than training; dropped the %d oldest queued "
                "metric points (queue limit %d points). Further drops are counted silently.",
                dropped,
                self.max_queue_points,
            )

    # --- sender thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue and self._closing:
                    return
                self._linger()
                if not self._queue:  # abandon() took them while this thread lingered
                    continue
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self.sink.max_batch))
                ]
                self._in_flight = len(batch)
                self._in_flight_batch = batch
                self._cond.notify_all()  # room freed for a waiting submit
            try:
                self._deliver(batch)
            except Exception as exc:  # never let the thread die with points in flight
                self._count_failed(len(batch), f"{type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._in_flight_batch = []
                    self._cond.notify_all()

    def _linger(self) -> None:
        """Wait (lock held) for a full request, the linger time, a flush or close."""
        deadline = self._first_queued_at + self.linger_seconds
        while (
            len(self._queue) < self.sink.max_batch
            and not self._closing
            and not self._flushing
            and (remaining := deadline - time.monotonic()) > 0
        ):
            self._cond.wait(remaining)

    def _deliver(self, batch: list[MetricPoint]) -> None:
        delivery = DeliveryStats()
        try:
            write_bisecting(batch, self.sink.write, delivery)
        except SinkUnavailable as exc:
            unsent = len(batch) - delivery.delivered - delivery.rejected
            self._count_failed(unsent, str(exc))
        with self._cond:
            self._stats.requests += delivery.requests
            if not self._abandoned:
                self._stats.delivered += delivery.delivered
        if delivery.rejected:
            self._count_rejected(delivery)

    def _count_rejected(self, delivery: DeliveryStats) -> None:
        with self._cond:
            if self._abandoned:
                return
            self._stats.rejected += delivery.rejected
            new = {k: r for k, r in delivery.rejections.items() if k not in self._stats.rejections}
            self._stats.rejections.update(new)
        for key, reason in new.items():
            _log.warning("pat: MLflow rejected metric %r: %s", key, reason)

    def _count_failed(self, count: int, reason: str) -> None:
        with self._cond:
            if self._abandoned:
                return
            self._stats.failed += count
            self._stats.last_error = reason
            warn = not self._warned_unavailable
            self._warned_unavailable = True
        if warn:
            _log.warning(
                "pat: could not store %d metric points in MLflow (%s). Training continues; "
                "further failures are counted and summarized at the end.",
                count,
                reason,
            )
