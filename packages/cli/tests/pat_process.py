"""Run ``pat`` as users do, in a child process with a clean MLflow environment."""

from __future__ import annotations

import os
import sys


def pat_command(*args: str) -> list[str]:
    """The command line of ``pat ARGS`` with this interpreter."""
    return [sys.executable, "-m", "pat_cli", *args]


def clean_env() -> dict[str, str]:
    """This process's environment without ``MLFLOW_*``, at a fixed width and no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(COLUMNS="120", NO_COLOR="1")
    return env
