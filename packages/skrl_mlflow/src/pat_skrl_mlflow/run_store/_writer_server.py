"""The store writer process's side: MLflow's client on the store, answering requests.

:mod:`pat_skrl_mlflow.run_store._writer_process` runs :class:`StoreServer` in the child;
:class:`~pat_skrl_mlflow.run_store._writer_client.ProcessClient` is the training process's side.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow.run_store._creation import open_store, store_writes_in_process
from pat_skrl_mlflow.run_store._policy_model import warm_up_policy_logging
from pat_skrl_mlflow.run_store._run import start_run
from pat_skrl_mlflow.run_store._sink import (
    MetricPoint,
    MlflowSink,
    SinkRejected,
    SinkUnauthorized,
    SinkUnavailable,
    one_line,
)
from pat_skrl_mlflow.run_store._writer_messages import (
    CALLS,
    ExperimentView,
    MetricView,
    RunDataView,
    RunInfoView,
    RunView,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from pat_skrl_mlflow.run_store._policy_model import LoggedPolicy, PolicyRequest

__all__ = ["StoreServer"]


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
        self._sinks: dict[str, MlflowSink] = {}  # per run: what a server has stored, read back
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
            if store_writes_in_process(self.tracking_uri):
                self._client = open_store(self.tracking_uri)
            else:  # a server has nothing to open: its first request says whether it answers
                from mlflow import MlflowClient

                self._client = MlflowClient(self.tracking_uri)
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
            if kind in ("warm_up_policy_logging", "log_policy"):
                return ("ok", self._policy(kind, payload))
            raise ValueError(f"unknown request {kind!r}")
        except Exception as error:
            return ("error", (one_line(error), str(getattr(error, "error_code", "") or "")))

    def store_metrics(self, run_id: str, rows: list[Any]) -> tuple[str, str]:
        """Store one request's points as ``MlflowSink.write`` would.

        Returns ``("ok", "")``, ``("rejected", reason)``, ``("unauthorized", reason)`` or
        ``("unavailable", reason)``.
        """
        try:
            client = self._opened()
        except Exception as error:
            return ("unavailable", one_line(error))
        sink = self._sinks.get(run_id)
        if sink is None:
            sink = self._sinks[run_id] = MlflowSink(client, run_id)
        try:
            sink.write([MetricPoint(*row) for row in rows])
        except SinkRejected as error:
            return ("rejected", str(error))
        except SinkUnauthorized as error:
            return ("unauthorized", str(error))
        except SinkUnavailable as error:
            return ("unavailable", str(error))
        return ("ok", "")

    def _start_run(self, *, argv: list[str], **options: Any) -> str:
        sys.argv = argv  # MLflow names the run's source (mlflow.source.name) after argv[0]
        self._opened()
        target = start_run(tracking_uri=self.tracking_uri, **options)
        # The parent ends the run (set_terminated); if this child dies with it (kill -9 of
        # the training), MLflow's exit hook here must not end the run as FINISHED.
        target.detach()
        return target.run_id

    def _policy(self, kind: str, request: PolicyRequest | None) -> LoggedPolicy | None:
        """The MLflow half of ``pat_skrl_mlflow.log_policy`` (or a head start on it)."""
        if kind == "warm_up_policy_logging" or request is None:
            warm_up_policy_logging()
            return None
        self._opened()
        logging.getLogger("mlflow").setLevel(logging.ERROR)  # its notes on pip, conda
        with contextlib.redirect_stderr(io.StringIO()):  # "Successfully registered model"
            return request.log(self.tracking_uri)

    def _run_call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if method not in CALLS:
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
