"""Where metric points go: the transport boundary between the sender and a store.

A :class:`Sink` writes one request's worth of points and says, by the exception it
raises, whether the store refused the request (retrying cannot help: a bad name, a
deleted run) or could not be reached (retrying may help). The sender owns batching,
retries and bisection; a sink only talks to one store. A later durable on-disk spool
is another sink (or wraps one) without touching the sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow import MlflowClient

__all__ = ["MetricPoint", "MlflowSink", "Sink", "SinkRejected", "SinkUnavailable"]

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


class MlflowSink:
    """Write points to one MLflow run with ``MlflowClient.log_batch``.

    Args:
        client: The client of the tracking store.
        run_id: The run the points belong to.
    """

    max_batch = MAX_METRICS_PER_REQUEST

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def write(self, points: Sequence[MetricPoint]) -> None:
        """Send ``points`` in one ``log_batch`` request.

        Raises:
            SinkRejected: MLflow answered with a client error (HTTP 4xx class), such as
                an invalid metric name.
            SinkUnavailable: Any other failure (connection, server error, database).
        """
        from mlflow.entities import Metric  # lazily: importing mlflow takes seconds
        from mlflow.exceptions import MlflowException

        metrics = [Metric(p.key, p.value, p.timestamp_ms, p.step) for p in points]
        try:
            self.client.log_batch(self.run_id, metrics=metrics, synchronous=True)
        except MlflowException as exc:
            status = _http_status(exc)
            if 400 <= status < 500:  # HTTP client errors: the request itself is bad
                raise SinkRejected(one_line(exc)) from exc
            raise SinkUnavailable(one_line(exc)) from exc
        except Exception as exc:
            raise SinkUnavailable(one_line(exc)) from exc


def _http_status(exc: Exception) -> int:
    try:
        return int(exc.get_http_status_code())  # type: ignore[attr-defined]
    except Exception:
        return 500


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
