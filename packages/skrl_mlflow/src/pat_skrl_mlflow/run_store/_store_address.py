"""Which store and experiment a command reads: options, MLflow's variables, defaults."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

__all__ = ["default_tracking_uri", "experiment_choice", "resolve_tracking_uri", "sqlite_path"]


def resolve_tracking_uri(option: str | None) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else MLflow's default store.

    MLflow's default is ``sqlite:///<cwd>/mlflow.db``; pat never falls back to a legacy
    ``./mlruns`` file store on its own (MLflow would, when one exists): that takes an explicit
    ``file:`` URI.
    """
    if option:
        return option
    if env := os.environ.get("MLFLOW_TRACKING_URI"):
        return env
    return default_tracking_uri()


def default_tracking_uri() -> str:
    """``sqlite:///<cwd>/mlflow.db``, as MLflow writes it."""
    return f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:`` URI (``None`` for other stores or in-memory)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = unquote(uri[len(prefix) :].split("?", 1)[0])
    return Path(path) if path and path != ":memory:" else None


def experiment_choice(experiment: str | None) -> tuple[str | None, str | None]:
    """``(name, id)`` of the experiment whose latest run is meant (both ``None``: any).

    ``experiment``, else ``MLFLOW_EXPERIMENT_NAME``, else ``MLFLOW_EXPERIMENT_ID``.
    """
    name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    experiment_id = None if name else os.environ.get("MLFLOW_EXPERIMENT_ID")
    return name or None, experiment_id or None
