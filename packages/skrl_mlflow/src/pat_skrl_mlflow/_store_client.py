"""The MLflow client calls of a whole run, made by pat's store writer process.

:class:`ProcessClient` stands in for ``MlflowClient`` where pat owns the run (``pat
train``): the store check, the run's creation, its tags, params and artifacts, its end and
the read-back all run in the writer process that also stores the metrics (see
:mod:`pat_skrl_mlflow._store_process`). The training process then never imports MLflow
(1-2 s of start-up) nor opens the store (about 1 s more for a sqlite store): the child does
both on another core while the training process builds the env.

Results come back as the plain views below (``RunView``, ``ExperimentView``,
``MetricView``): the attributes pat reads of MLflow's entities, picklable without MLflow.
A request the store fails raises :class:`StoreRequestError`.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from pat_skrl_mlflow._sink import (
    MetricPoint,
    MlflowSink,
    SinkRejected,
    SinkUnavailable,
    one_line,
)
from pat_skrl_mlflow._store_creation import open_store
from pat_skrl_mlflow._store_process import PendingAnswer, StoreProcess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from mlflow import MlflowClient

__all__ = [
    "ExperimentView",
    "Item",
    "MetricView",
    "ProcessClient",
    "RunView",
    "StoreRequestError",
    "StoreServer",
]

_log = logging.getLogger("pat_skrl_mlflow")
_CALLS = frozenset(
    {
        "get_experiment",
        "get_metric_history",
        "get_run",
        "log_artifacts",
        "log_batch",
        "log_dict",
        "log_text",
        "search_experiments",
        "set_terminated",
    }
)
"""The ``MlflowClient`` methods the child runs for the parent."""


class Item(NamedTuple):
    """A param or tag as pat's own clients take it (MLflow's ``Param``/``RunTag`` shape)."""

    key: str
    value: str


@dataclass(frozen=True)
class MetricView:
    """A stored metric point (the attributes of MLflow's ``Metric``)."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class RunInfoView:
    """The attributes of MLflow's ``RunInfo`` pat reads."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str


@dataclass(frozen=True)
class RunDataView:
    """A run's latest metrics, params and tags (MLflow's ``RunData``)."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunView:
    """A run as ``MlflowClient.get_run`` returns it: ``info`` and ``data``."""

    info: RunInfoView
    data: RunDataView


@dataclass(frozen=True)
class ExperimentView:
    """The attributes of MLflow's ``Experiment`` pat reads."""

    experiment_id: str
    name: str


class StoreRequestError(Exception):
    """The store (or the writer process) failed a request; the message says why."""

    def __init__(self, message: str, error_code: str = "") -> None:
        super().__init__(message)
        self.error_code = error_code


class ProcessClient:
    """The ``MlflowClient`` calls pat makes for a run, answered by a store writer process.

    Args:
        tracking_uri: The store. The child starts at once and imports MLflow.
        open_store: Whether the child also opens the store at once (an existing one; a
            sqlite file that is not there would be created before the command knows it
            will train). Else :meth:`check` opens it.

    Use :meth:`check` before anything else (it waits for the child's store to open), then
    :meth:`start_run`; hand the client to ``instrument`` in a ``RunTarget`` and its metrics
    go through the same child. :meth:`close` ends the child.
    """

    takes_plain_items = True
    """``log_batch`` takes any ``(key, value)`` items: callers need no MLflow entities."""

    def __init__(self, tracking_uri: str, *, open_store: bool = True) -> None:
        self.tracking_uri = tracking_uri
        self.process = StoreProcess(tracking_uri, open_store=open_store)
        self._check: PendingAnswer | None = None

    def begin_check(self) -> None:
        """Have the child check (and open) the store now; :meth:`check` reads the answer.

        Until then the client serves no other request. A child that cannot be reached is
        reported by :meth:`check`.
        """
        if self._check is None:
            with contextlib.suppress(OSError, ValueError, EOFError, pickle.UnpicklingError):
                self._check = self.process.submit(("check", None))

    def check_answered(self) -> bool:
        """Whether :meth:`check` would answer without waiting (begins the check)."""
        self.begin_check()
        return self._check is None or self._check.ready()

    def check(self) -> str | None:
        """None when the store answers, else why not (one line)."""
        try:
            return self._outcome(self._check_answer)  # type: ignore[no-any-return]
        except StoreRequestError as error:
            return str(error)

    def _check_answer(self) -> Any:
        self.begin_check()
        pending, self._check = self._check, None
        assert pending is not None
        return pending.answer()

    def start_run(
        self,
        *,
        experiment_name: str | None = None,
        run_name: str | None = None,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Start a run as :func:`pat_skrl_mlflow.start_run` would here; returns its id.

        One run per client: the child keeps it as MLflow's active run.

        Honours ``MLFLOW_EXPERIMENT_NAME``/``_ID`` and ``MLFLOW_RUN_ID`` (the child has
        this process's environment) and names the run's source after this program.
        """
        options = {
            "experiment_name": experiment_name,
            "run_name": run_name,
            "run_id": run_id,
            "tags": dict(tags or {}),
            "argv": list(sys.argv),
        }
        return str(self._request("start_run", options))

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Any] = (),
        params: Iterable[Any] = (),
        tags: Iterable[Any] = (),
        **_: Any,
    ) -> None:
        """``MlflowClient.log_batch`` with any items that have MLflow's entity attributes."""
        plain = {
            "metrics": [(m.key, m.value, m.timestamp, m.step) for m in metrics],
            "params": [(p.key, p.value) for p in params],
            "tags": [(t.key, t.value) for t in tags],
        }
        self._call("log_batch", run_id, **plain)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._call("log_text", run_id, text, artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        self._call("log_dict", run_id, dictionary, artifact_file)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        self._call("log_artifacts", run_id, local_dir, artifact_path)

    def set_terminated(self, run_id: str, status: str | None = None, **_: Any) -> None:
        self._call("set_terminated", run_id, status)

    def get_run(self, run_id: str) -> RunView:
        return self._call("get_run", run_id)  # type: ignore[no-any-return]

    def get_experiment(self, experiment_id: str) -> ExperimentView:
        return self._call("get_experiment", experiment_id)  # type: ignore[no-any-return]

    def get_metric_history(self, run_id: str, key: str) -> list[MetricView]:
        return self._call("get_metric_history", run_id, key)  # type: ignore[no-any-return]

    def close(self, timeout: float = 10.0) -> None:
        """End the child once its last request is answered."""
        self.process.close(timeout)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._request("call", (method, args, kwargs))

    def _request(self, kind: str, payload: Any) -> Any:
        return self._outcome(lambda: self.process.request((kind, payload)))

    def _outcome(self, read: Callable[[], Any]) -> Any:
        """The value of the answer ``read`` returns; raises for a failed request."""
        try:
            outcome, value = read()
        except ValueError as error:
            raise StoreRequestError("pat's store writer process was closed") from error
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            raise StoreRequestError(f"pat's store writer process ended: {error!r}") from error
        if outcome == "error":
            message, error_code = value
            raise StoreRequestError(message, error_code)
        return value


class StoreServer:
    """The child's side of :class:`ProcessClient`: MLflow's client on the store.

    Args:
        tracking_uri: The store.
        open_store: Open it at once (MLflow's import and the store's schema check run
            while the parent builds its env); else at the first request. A failure is
            answered to the request that needs the store, which tries again.
    """

    def __init__(self, tracking_uri: str, open_store: bool = True) -> None:
        self.tracking_uri = tracking_uri
        self._client: MlflowClient | None = None
        if not open_store:
            import mlflow  # noqa: F401 - the import is most of the child's start-up

            return
        with contextlib.suppress(Exception):  # answered to the first request that needs it
            self._opened()

    def _opened(self) -> MlflowClient:
        if self._client is None:
            import mlflow  # noqa: F401 - MLflow sets its loggers' levels on import

            for name in ("mlflow", "alembic"):  # after the import: MLflow sets INFO on import
                logging.getLogger(name).setLevel(logging.WARNING)
            self._client = open_store(self.tracking_uri)
        return self._client

    def answer(self, kind: str, payload: Any) -> tuple[str, Any]:
        """``("ok", result)`` or ``("error", (message, error_code))`` for one request.

        A ``metrics`` request is answered as :meth:`store_metrics` says.
        """
        if kind == "metrics":
            return self.store_metrics(*payload)
        try:
            if kind == "check":
                self._opened().search_experiments(max_results=1)
                return ("ok", None)
            if kind == "start_run":
                return ("ok", self._start_run(**payload))
            if kind == "call":
                method, args, kwargs = payload
                return ("ok", self._run_call(method, args, kwargs))
            raise ValueError(f"unknown request {kind!r}")
        except Exception as error:
            return ("error", (one_line(error), str(getattr(error, "error_code", "") or "")))

    def store_metrics(self, run_id: str, rows: list[Any]) -> tuple[str, str]:
        """Store one request's points as ``MlflowSink.write`` would.

        Returns ``("ok", "")``, ``("rejected", reason)`` or ``("unavailable", reason)``.
        """
        try:
            client = self._opened()
        except Exception as error:
            return ("unavailable", one_line(error))
        try:
            MlflowSink(client, run_id).write([MetricPoint(*row) for row in rows])
        except SinkRejected as error:
            return ("rejected", str(error))
        except SinkUnavailable as error:
            return ("unavailable", str(error))
        return ("ok", "")

    def _start_run(self, *, argv: list[str], **options: Any) -> str:
        from pat_skrl_mlflow._run import start_run

        sys.argv = argv  # MLflow names the run's source (mlflow.source.name) after argv[0]
        self._opened()
        target = start_run(tracking_uri=self.tracking_uri, **options)
        # The parent ends the run (set_terminated); if this child dies with it (kill -9 of
        # the training), MLflow's exit hook here must not end the run as FINISHED.
        target.detach()
        return target.run_id

    def _run_call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if method not in _CALLS:
            raise ValueError(f"pat's store writer does not run MlflowClient.{method}")
        if method == "log_batch":
            from mlflow.entities import Metric, Param, RunTag

            kwargs = {
                "metrics": [Metric(*row) for row in kwargs["metrics"]],
                "params": [Param(*row) for row in kwargs["params"]],
                "tags": [RunTag(*row) for row in kwargs["tags"]],
            }
        return _plain(getattr(self._opened(), method)(*args, **kwargs))


def _plain(result: Any) -> Any:
    """``result`` with MLflow's entities replaced by the views above."""
    from mlflow.entities import Experiment, Metric, Run

    if isinstance(result, list):
        return [_plain(each) for each in result]
    if isinstance(result, Run):
        info = result.info
        return RunView(
            info=RunInfoView(info.run_id, info.experiment_id, info.run_name or "", info.status),
            data=RunDataView(
                dict(result.data.metrics), dict(result.data.params), dict(result.data.tags)
            ),
        )
    if isinstance(result, Experiment):
        return ExperimentView(result.experiment_id, result.name)
    if isinstance(result, Metric):
        return MetricView(result.key, result.value, result.timestamp, result.step)
    if result is None or isinstance(result, bool | int | float | str):
        return result
    raise TypeError(f"pat's store writer cannot send back a {type(result).__name__}")
