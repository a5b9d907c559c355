"""A run as pat's read commands name it (``inspect``, ``runs``, ``compare``, ``dry-run``)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PROCESS_TAGS", "RunInfo"]

PROCESS_TAGS = ("pat.host", "pat.pid", "pat.boot_id")
"""The tags ``pat_skrl_mlflow.left_running`` reads."""


@dataclass(frozen=True)
class RunInfo:
    """What a command needs to name a run in its output."""

    run_id: str
    run_name: str
    status: str
    experiment_id: str
    experiment_name: str
    tracking_uri: str
    latest: dict[str, float]
    """The latest value of each metric key (MLflow's: the one at the highest step)."""
    tags: dict[str, str] = field(default_factory=dict)
    """pat's process tags (``PROCESS_TAGS``): what tells a run left RUNNING."""

    @property
    def metric_keys(self) -> tuple[str, ...]:
        """The run's metric keys, sorted."""
        return tuple(sorted(self.latest))
