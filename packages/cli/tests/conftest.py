"""Fixtures for the CLI tests: a CliRunner with a fixed width and real sqlite MLflow stores."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner, Result

from pat_cli._console import console, err_console
from pat_cli.app import app

if TYPE_CHECKING:
    from pathlib import Path

WIDTH = 120
# Variables a developer's shell may set that would change which store or run a test reads.
MLFLOW_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
)

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """Run ``pat ARGS`` in-process, in an empty working directory, 120 columns, no colour."""
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    for each in (console, err_console):
        monkeypatch.setattr(each, "_width", WIDTH)
        monkeypatch.setattr(each, "_color_system", None)
    runner = CliRunner()

    def run(*args: str, env: Mapping[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env=dict(env or {}), catch_exceptions=False)

    return run


def _error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture
def error_line() -> Callable[[Result], str]:
    """The ``Error: ...`` line of a failed command (asserting there is exactly one)."""
    return _error_line


@dataclass
class Store:
    """A real sqlite MLflow store in a temporary directory."""

    uri: str
    path: Path

    def log_run(
        self,
        series: Mapping[str, Sequence[tuple[int, float]]],
        *,
        experiment: str = "Default",
        run_name: str | None = None,
        start_time: int | None = None,
    ) -> str:
        """Create a finished run with ``{key: [(step, value), ...]}`` logged by log_batch."""
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        client = MlflowClient(self.uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        run = client.create_run(experiment_id, run_name=run_name, start_time=start_time)
        points = [
            Metric(key, value, 1_700_000_000_000 + step, step)
            for key, values in series.items()
            for step, value in values
        ]
        client.log_batch(run.info.run_id, metrics=points)
        client.set_terminated(run.info.run_id)
        return run.info.run_id


@pytest.fixture(scope="session")
def _empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Creating MLflow's schema takes seconds (migrations); do it once and copy the file.
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path: Path, _empty_database: Path) -> Store:
    """An empty sqlite store with MLflow's schema at ``tmp_path/store/mlflow.db``."""
    path = tmp_path / "store" / "mlflow.db"
    path.parent.mkdir()
    shutil.copyfile(_empty_database, path)
    return Store(uri=f"sqlite:///{path}", path=path)
