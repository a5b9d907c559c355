"""What pat's store writer process and its clients exchange, without MLflow.

A request names one of :data:`CALLS` (the ``MlflowClient`` methods the child runs); params
and tags travel as :class:`Item`; results come back as the plain views below (the
attributes pat reads of MLflow's entities, picklable without MLflow's import). A request
the store fails raises :class:`StoreRequestError` in the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "CALLS",
    "ExperimentView",
    "Item",
    "MetricView",
    "RunDataView",
    "RunInfoView",
    "RunView",
    "StoreRequestError",
]

CALLS = frozenset(
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
