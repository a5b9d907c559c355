"""Resume a run from a skrl checkpoint: which MLflow run it belongs to, where steps continue.

pat writes ``pat_run.json`` (the run id and the masked store URI) into the agent's
experiment directory for every run it logs to, next to skrl's ``checkpoints/``. A
checkpoint found there later names its run; a training that loads it continues that run,
its MLflow steps after the checkpoint's timestep and after the run's last logged step, so
its metric histories go on where they stopped instead of starting again at 0.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    from pat_skrl_mlflow.run_store._run import RunTarget

__all__ = [
    "RUN_FILE",
    "checkpoint_timestep",
    "experiment_dir",
    "recorded_run",
    "resume_step",
    "write_run_file",
]

_log = logging.getLogger("pat_skrl_mlflow")

RUN_FILE = "pat_run.json"
"""In an agent's experiment directory: the run pat logs that training to."""
_CHECKPOINT_NAME = re.compile(r"agent_(\d+)\.pt")


def write_run_file(experiment_dir: str | os.PathLike[str], run_id: str, tracking_uri: str) -> Path:
    """Record ``run_id`` (and the store, credentials masked) in ``experiment_dir``."""
    from pat_skrl_mlflow.run_store._secrets import mask_uri

    path = Path(experiment_dir)
    path.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "tracking_uri": mask_uri(tracking_uri)}
    (path / RUN_FILE).write_text(json.dumps(record), encoding="utf-8")
    return path / RUN_FILE


def recorded_run(checkpoint: str | os.PathLike[str]) -> str | None:
    """The run a checkpoint belongs to: ``pat_run.json`` beside its ``checkpoints/``.

    None when there is none (a checkpoint of a training pat did not log) or it is unreadable.
    """
    path = Path(checkpoint)
    for directory in (path.parent.parent, path.parent):
        run_file = directory / RUN_FILE
        if run_file.is_file():
            try:
                return str(json.loads(run_file.read_text(encoding="utf-8"))["run_id"])
            except (ValueError, KeyError, TypeError, OSError):
                return None
    return None


def checkpoint_timestep(checkpoint: str | os.PathLike[str]) -> int | None:
    """The trainer timestep of a skrl checkpoint named ``agent_<timestep>.pt``, else None."""
    match = _CHECKPOINT_NAME.fullmatch(Path(checkpoint).name)
    return int(match.group(1)) if match else None


def resume_step(target: RunTarget, checkpoint: str | os.PathLike[str] | None) -> int:
    """Where a resumed run's steps continue.

    The later of the checkpoint's timestep and the run's last logged step (0 for neither; a
    store that cannot be read is warned about).
    """
    from pat_skrl_mlflow.run_store._run import last_logged_step

    steps = [checkpoint_timestep(checkpoint) or 0] if checkpoint is not None else []
    try:
        steps.append(last_logged_step(target.run_id, target.tracking_uri, target.client) or 0)
    except Exception as error:
        _log.warning("pat: could not read the last step of run %s: %s", target.run_id, error)
    return max(steps, default=0)


def experiment_dir(agent: Any) -> str | None:
    """The agent's experiment directory (skrl's ``experiment_dir``), if it has one."""
    directory = getattr(agent, "experiment_dir", None)
    return str(directory) if directory else None
