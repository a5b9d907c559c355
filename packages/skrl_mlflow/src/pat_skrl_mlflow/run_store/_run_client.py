"""The client of the store a run lives in: one typed protocol for every client pat uses.

Three clients stand behind a :class:`~pat_skrl_mlflow.RunTarget`: MLflow's own
``MlflowClient`` (wrapped by :class:`MlflowRunClient`), pat's store writer process
(:class:`~pat_skrl_mlflow.ProcessClient`: the training process never imports MLflow) and
the CLI's offline run (its spool, until ``pat sync``). Each takes params and tags as plain
:class:`~pat_skrl_mlflow.run_store._writer_messages.Item` pairs; :class:`MlflowRunClient`
turns them into MLflow's entities.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mlflow import MlflowClient

    from pat_skrl_mlflow.run_store._writer_messages import Item

__all__ = ["MlflowRunClient", "RunClient", "as_run_client"]


class RunClient(Protocol):
    """The calls pat makes on the store of one run (MLflow's signatures, plain items)."""

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Any] = (),
        params: Iterable[Item] = (),
        tags: Iterable[Item] = (),
        synchronous: bool | None = None,
    ) -> None:
        """Log metrics (MLflow ``Metric``-shaped), params and tags in one request."""

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Store ``text`` as the run's artifact ``artifact_file``."""

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Store ``dictionary`` as JSON/YAML (by the file's suffix) artifact ``artifact_file``."""

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload the files of ``local_dir`` under ``artifact_path``."""

    def set_terminated(self, run_id: str, status: str | None = None) -> None:
        """End the run with ``status``."""

    def get_run(self, run_id: str) -> Any:
        """The run (``.info``, ``.data.metrics``/``params``/``tags``)."""

    def get_experiment(self, experiment_id: str) -> Any:
        """The experiment (``.name``, ``.tags``)."""

    def get_metric_history(self, run_id: str, key: str) -> list[Any]:
        """Every stored point of ``key`` (``.value``, ``.step``, ``.timestamp``)."""


class MlflowRunClient:
    """:class:`RunClient` on MLflow's ``MlflowClient`` (MLflow runs in this process).

    Args:
        client: The MLflow client of the store; :attr:`mlflow` gives it back.
    """

    def __init__(self, client: MlflowClient) -> None:
        from pat_skrl_mlflow.run_store._sink import client_uri

        self.mlflow = client
        self.tracking_uri = client_uri(client)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Any] = (),
        params: Iterable[Item] = (),
        tags: Iterable[Item] = (),
        synchronous: bool | None = None,
    ) -> None:
        from mlflow.entities import Param, RunTag

        self.mlflow.log_batch(
            run_id,
            metrics=list(metrics),
            params=[Param(p.key, p.value) for p in params],
            tags=[RunTag(t.key, t.value) for t in tags],
            synchronous=synchronous,
        )

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.mlflow.log_text(run_id, text, artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        self.mlflow.log_dict(run_id, dictionary, artifact_file)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        self.mlflow.log_artifacts(run_id, local_dir, artifact_path)

    def set_terminated(self, run_id: str, status: str | None = None) -> None:
        self.mlflow.set_terminated(run_id, status=status)

    def get_run(self, run_id: str) -> Any:
        return self.mlflow.get_run(run_id)

    def get_experiment(self, experiment_id: str) -> Any:
        return self.mlflow.get_experiment(experiment_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Any]:
        return list(self.mlflow.get_metric_history(run_id, key))


def as_run_client(client: MlflowClient | RunClient) -> RunClient:
    """``client`` as a :class:`RunClient`: an ``MlflowClient`` is wrapped, others are one."""
    mlflow = sys.modules.get("mlflow")  # an MlflowClient was made: MLflow is imported
    if mlflow is not None and isinstance(client, mlflow.MlflowClient):
        return MlflowRunClient(client)
    return cast("RunClient", client)
