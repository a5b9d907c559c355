"""The MLflow client calls of a whole run, made by pat's store writer process.

:class:`ProcessClient` stands in for ``MlflowClient`` where pat owns the run (``pat
train``): the store check, the run's creation, its tags, params and artifacts, its end and
the read-back all run in the writer process that also stores the metrics (see
:mod:`pat_skrl_mlflow.run_store._writer_process`). The training process then never imports
MLflow (1-2 s of start-up) nor opens the store (about 1 s more for a sqlite store): the child does
both on another core while the training process builds the env.

Results come back as the plain views of :mod:`pat_skrl_mlflow.run_store._writer_messages`;
a request the store fails raises
:class:`~pat_skrl_mlflow.run_store._writer_messages.StoreRequestError`. The child's side is
:class:`~pat_skrl_mlflow.run_store._writer_server.StoreServer`.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow.run_store._writer_messages import (
    ExperimentView,
    Item,
    MetricView,
    RunView,
    StoreRequestError,
)
from pat_skrl_mlflow.run_store._writer_process import PendingAnswer, StoreProcess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from pat_skrl_mlflow.run_store._policy_model import LoggedPolicy, PolicyRequest

__all__ = ["ProcessClient", "StoreRequestError"]


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
        params: Iterable[Item] = (),
        tags: Iterable[Item] = (),
        synchronous: bool | None = None,
    ) -> None:
        """``MlflowClient.log_batch``: MLflow ``Metric``-shaped metrics, plain params and tags."""
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

    def set_terminated(self, run_id: str, status: str | None = None) -> None:
        self._call("set_terminated", run_id, status)

    def get_run(self, run_id: str) -> RunView:
        return self._call("get_run", run_id)  # type: ignore[no-any-return]

    def get_experiment(self, experiment_id: str) -> ExperimentView:
        return self._call("get_experiment", experiment_id)  # type: ignore[no-any-return]

    def get_metric_history(self, run_id: str, key: str) -> list[MetricView]:
        return self._call("get_metric_history", run_id, key)  # type: ignore[no-any-return]

    def warm_up_policy_logging(self) -> None:
        """Have the child import, in the background, what logging a policy needs.

        Only a head start: a child that cannot be reached fails the request that logs.
        """
        with contextlib.suppress(StoreRequestError):
            self._request("warm_up_policy_logging", None)

    def log_policy(self, request: PolicyRequest) -> LoggedPolicy:
        """Log a policy :func:`~pat_skrl_mlflow.log_policy` prepared, in the child."""
        return self._request("log_policy", request)  # type: ignore[no-any-return]

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
