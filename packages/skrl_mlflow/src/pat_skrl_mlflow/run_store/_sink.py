"""Where metric points go: the transport boundary between the sender and a store.

A :class:`Sink` writes one request's worth of points and says, by the exception it
raises, whether the store refused the request (retrying cannot help: a bad name, a
deleted run) or could not be reached (retrying may help). A sink only talks to one
store; the spooling sink (``_spooling_sink``) wraps one and is the only retry mechanism: what
the store cannot take waits in its spool. A refused request is split by
:func:`write_bisecting`, the one bisection the sender and the spool's drain share.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from mlflow import MlflowClient

__all__ = [
    "DeliveryStats",
    "MetricPoint",
    "MlflowSink",
    "Sink",
    "SinkRejected",
    "SinkUnavailable",
    "write_bisecting",
]

MAX_METRICS_PER_REQUEST = 1000
"""MLflow's limit on metrics in one ``log_batch`` request."""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One metric value at one step, ready to be stored.

    Attributes:
        key: The MLflow metric key.
        value: The value (NaN and infinities are allowed).
        step: The trainer timestep it belongs to.
        timestamp_ms: Wall-clock time in milliseconds since the epoch.
    """

    key: str
    value: float
    step: int
    timestamp_ms: int


class SinkRejected(Exception):  # noqa: N818 - reads as "the sink rejected"
    """The store refused the request; sending the same points again cannot succeed."""


class SinkUnavailable(Exception):  # noqa: N818 - reads as "the sink is unavailable"
    """The store could not be reached or failed; the same request may succeed later."""


class SinkUnauthorized(SinkUnavailable):
    """The store refused the credentials (HTTP 401, 403): a person must renew them.

    The points wait as for any outage, but the end of a run does not wait this out: a
    token does not renew itself while the process ends (``pat sync`` delivers later).
    """


@runtime_checkable
class Sink(Protocol):
    """A store that accepts batches of metric points."""

    max_batch: int
    """The most points :meth:`write` accepts in one call."""

    def write(self, points: Sequence[MetricPoint]) -> None:
        """Store ``points`` (at most :attr:`max_batch`) as one request.

        Raises:
            SinkRejected: The store refused the request as invalid.
            SinkUnavailable: The store could not take the request now.
        """


@dataclass
class DeliveryStats:
    """What became of metric points on their way to the store: pat's one counting record.

    The sender counts what it was handed and what came of it, a spooling sink what went
    through its spool; :attr:`BackgroundSender.stats` holds both (a snapshot). A drain of
    the spool and :func:`write_bisecting` count their requests into one too.

    Attributes:
        submitted: Points handed to the sender.
        delivered: Points the store took, or the sink's spool took to deliver later.
        rejected: Points the store refused, each alone in its request (see ``rejections``).
        failed: Points not stored because the store was unreachable and nothing kept them.
        dropped: Points dropped because the sender's queue was full.
        requests: Requests sent to the store.
        rejections: Rejected key -> the store's reason (the first one seen).
        last_error: The last "unavailable" error, if any.
        spool: The spool directory, for a spooling sink.
        spooled: Points written to the spool because the store did not take them.
        delivered_from_spool: Spooled points the store took later.
        rejected_from_spool: Spooled points the store refused later.
        waiting: Points left in the spool when the sink closed.
        outages: (start, end) wall-clock seconds of each outage; end None while it lasts.
    """

    submitted: int = 0
    delivered: int = 0
    rejected: int = 0
    failed: int = 0
    dropped: int = 0
    requests: int = 0
    rejections: dict[str, str] = field(default_factory=dict)
    last_error: str | None = None
    spool: Path | None = None
    spooled: int = 0
    delivered_from_spool: int = 0
    rejected_from_spool: int = 0
    waiting: int = 0
    outages: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Points submitted and not yet delivered, rejected, failed or dropped."""
        return self.submitted - self.delivered - self.rejected - self.failed - self.dropped

    @property
    def in_spool(self) -> int:
        """Spooled points the store has neither taken nor refused yet."""
        return max(0, self.spooled - self.delivered_from_spool - self.rejected_from_spool)

    @property
    def stored(self) -> int:
        """Points the store took (the sender's deliveries less those still in the spool)."""
        return self.delivered - (self.spooled - self.delivered_from_spool)

    def copy(self) -> DeliveryStats:
        """A snapshot that later counting does not change."""
        return dataclasses.replace(
            self, rejections=dict(self.rejections), outages=list(self.outages)
        )

    def with_spool(self, spool: DeliveryStats) -> DeliveryStats:
        """This record with ``spool``'s spool counts (a spooling sink's record)."""
        return dataclasses.replace(
            self,
            spool=spool.spool,
            spooled=spool.spooled,
            delivered_from_spool=spool.delivered_from_spool,
            rejected_from_spool=spool.rejected_from_spool,
            waiting=spool.waiting,
            outages=list(spool.outages),
        )


def write_bisecting(
    points: Sequence[MetricPoint],
    write: Callable[[Sequence[MetricPoint]], None],
    delivery: DeliveryStats,
) -> None:
    """Send ``points`` as one request; a refused one in halves until each bad point is alone.

    Only a refusal of the points themselves is a :class:`SinkRejected` (a refusal of the
    run, of the credentials or of the rate is :class:`SinkUnavailable`), so one bad metric
    never takes others with it. ``delivery`` counts as it goes, so after a
    :class:`SinkUnavailable` (raised, the rest unsent) it says what was sent before.
    """
    stack = [list(points)]
    while stack:
        part = stack.pop()
        delivery.requests += 1
        try:
            write(part)
        except SinkRejected as exc:
            if len(part) == 1:
                delivery.rejected += 1
                delivery.rejections.setdefault(part[0].key, str(exc))
            else:
                middle = len(part) // 2
                stack.extend((part[middle:], part[:middle]))  # the first half next
            continue
        delivery.delivered += len(part)


class MlflowSink:
    """Write points to one MLflow run with ``MlflowClient.log_batch``.

    Args:
        client: The client of the tracking store.
        run_id: The run the points belong to.
    """

    max_batch = MAX_METRICS_PER_REQUEST

    def __init__(self, client: MlflowClient, run_id: str, *, verify: bool | None = None) -> None:
        self.client = client
        self.run_id = run_id
        self.verify = _over_http(client) if verify is None else verify
        self._stored: dict[str, float] = {}  # key -> the latest value known to be stored

    def write(self, points: Sequence[MetricPoint]) -> None:
        """Send ``points`` in one ``log_batch`` request.

        Raises:
            SinkRejected: MLflow refused the request for what it holds (HTTP 400 class:
                an invalid name or value); splitting it finds the bad point.
            SinkUnavailable: Any other failure: connection, server error, database, and
                the refusals that say nothing about the points -- authentication (401,
                403: an expired token), throttling (429), a run that is missing (404: a
                server restarted on an empty database) or not active.
        """
        from mlflow.entities import Metric  # lazily: importing mlflow takes seconds
        from mlflow.exceptions import MlflowException

        metrics = [Metric(p.key, p.value, p.timestamp_ms, p.step) for p in points]
        try:
            self.client.log_batch(self.run_id, metrics=metrics, synchronous=True)
        except MlflowException as exc:
            message = one_line(exc)
            retried = _RETRIED_STATUS.search(message)  # MLflow's retries ran out on it
            status = int(retried.group(1)) if retried else _http_status(exc)
            if status in _CREDENTIALS:
                raise SinkUnauthorized(
                    f"HTTP {status}, {_NOT_ABOUT_THE_POINTS[status]}: {message}"
                ) from exc
            if status in _NOT_ABOUT_THE_POINTS:
                raise SinkUnavailable(
                    f"HTTP {status}, {_NOT_ABOUT_THE_POINTS[status]}: {message}"
                ) from exc
            if 400 <= status < 500 and self.run_id not in str(exc):
                raise SinkRejected(message) from exc
            if 400 <= status < 500:  # names the run, not a point: "must be in the 'active' state"
                raise SinkUnavailable(f"the run is not taking metrics: {message}") from exc
            raise SinkUnavailable(message) from exc
        except Exception as exc:
            raise SinkUnavailable(one_line(exc)) from exc
        if self.verify:
            self._check_stored(points)

    def _check_stored(self, points: Sequence[MetricPoint]) -> None:
        """Read one point of an accepted request back from the server.

        A gateway or proxy that answers 200 (an empty body, ``{}``) without passing the
        request on would otherwise lose every point of it. The run's latest value of a key
        whose value changed in this request tells at the cost of one ``get_run``; a key's
        whole history is read only when that does not settle it.

        Raises:
            SinkUnavailable: The point is not in the run (or could not be read back).
        """
        probe, telling = points[-1], False
        seen: set[str] = set()
        for point in reversed(points):  # each key's last point: its latest in the run
            if point.key in seen:
                continue
            seen.add(point.key)
            if not _same(self._stored.get(point.key), point.value):
                probe, telling = point, True
                break
        try:
            found = telling and _same(
                self.client.get_run(self.run_id).data.metrics.get(probe.key), probe.value
            )
            if not found:
                history = self.client.get_metric_history(self.run_id, probe.key)
                found = any(
                    m.step == probe.step and m.timestamp == probe.timestamp_ms for m in history
                )
        except Exception as exc:
            message = f"the stored points could not be read back: {one_line(exc)}"
            raise SinkUnavailable(message) from exc
        if not found:
            raise SinkUnavailable(
                "the store answered the request but did not store it (a proxy or gateway "
                "answering in the server's place?)"
            )
        for point in points:
            self._stored[point.key] = point.value


def _same(a: float | None, b: float) -> bool:
    if a is None:
        return False
    return a == b or (math.isnan(a) and math.isnan(b))


def _over_http(client: Any) -> bool:
    return client_uri(client).startswith(("http://", "https://"))


def client_uri(client: Any) -> str:
    """The tracking URI an ``MlflowClient`` (or pat's ``ProcessClient``) was made for, else ""."""
    uri = getattr(client, "tracking_uri", None)  # ProcessClient's
    if uri is None:
        uri = getattr(getattr(client, "_tracking_client", None), "tracking_uri", None)
    return str(uri or "")


_NOT_ABOUT_THE_POINTS = {
    401: "not authenticated (a missing or expired token?)",
    403: "permission denied (an expired token?)",
    404: "the run was not found in this store",
    408: "request timeout",
    429: "too many requests",
}
"""Client-error answers that refuse the request, not its points: the points wait (spooled)."""
_CREDENTIALS = (401, 403)


_RETRIED_STATUS = re.compile(r"too many (\d{3}) error responses")


def _http_status(exc: Exception) -> int:
    try:
        return int(exc.get_http_status_code())  # type: ignore[attr-defined]
    except Exception:
        return 500


def one_line(exc: BaseException, limit: int = 300) -> str:
    from pat_skrl_mlflow.run_store._secrets import mask_secrets

    text = " ".join(mask_secrets(str(exc)).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
