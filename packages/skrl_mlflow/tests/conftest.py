"""Fixtures of pat-skrl-mlflow's tests (support code lives in skrl_mlflow_support.py)."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import pytest
import torch
from mlflow import MlflowClient

if TYPE_CHECKING:
    from collections.abc import Iterator

torch.set_num_threads(1)  # 2 shared cores: more threads only contend (and slow tests 4x)

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))  # skrl_mlflow_support, for tests and child scripts alike


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty sqlite store (creating the schema takes seconds: copy it)."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path: Path, empty_store: Path) -> str:
    """A fresh sqlite MLflow store in the test's temporary directory."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, path)
    return f"sqlite:///{path}"


@pytest.fixture
def in_process_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the store from pat's sender thread, not from pat's store writer process.

    For tests whose subject is what is captured, reduced and named, not how it is written:
    starting the writer process (MLflow's import, the store's opening) costs each run 2-4 s
    on these 2 cores. The points take the same sink either way; the writer process has its
    own tests (test_store_process, test_store_client, test_exit, test_distributed, ...).
    """
    monkeypatch.setenv("PAT_STORE_PROCESS", "0")


MLFLOW_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING",  # the drop-in's collect_gpu_metrics sets it
)


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees another's MLflow environment, active run or working directory."""
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)
    # start_run(experiment_name=...) is mlflow.set_experiment: MLflow keeps it process-wide
    from mlflow.tracking import fluent

    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    monkeypatch.chdir(tmp_path)
    logging.getLogger("pat_skrl_mlflow").setLevel(logging.INFO)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    for name in MLFLOW_ENV:  # mlflow.set_experiment() sets MLFLOW_EXPERIMENT_ID itself
        os.environ.pop(name, None)


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    """Environment for child-process scripts: the support module on PYTHONPATH."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_RUN_ID", None)
    return env


SCRIPTS = TESTS / "scripts"
