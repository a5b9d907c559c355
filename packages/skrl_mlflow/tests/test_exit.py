"""Every queued point is stored however the training process ends (child processes)."""

from __future__ import annotations

import importlib.util
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from conftest import SCRIPTS

MODES = {  # mode -> (return code check, run status)
    "exception": (lambda rc: rc == 1, "FAILED"),
    "keyboard": (lambda rc: rc != 0, "KILLED"),
    "sigterm": (lambda rc: rc == -signal.SIGTERM, "KILLED"),
}


def _stored_points(path, run_id):
    # one query instead of get_metric_history per key (there are thousands of keys)
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", (run_id,)).fetchone()[
            0
        ]


def _load_script():
    spec = importlib.util.spec_from_file_location("exit_child", SCRIPTS / "exit_child.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.no_skrl  # the run's end on each kind of exit: store-side


def test_flush_and_status_on_every_kind_of_exit(empty_store, child_env, tmp_path, monkeypatch):
    paths = {mode: tmp_path / f"{mode}.db" for mode in MODES}
    children = {}
    for mode, path in paths.items():
        shutil.copyfile(empty_store, path)
        children[mode] = subprocess.Popen(
            [sys.executable, str(SCRIPTS / "exit_child.py"), mode, f"sqlite:///{path}", mode],
            cwd=tmp_path,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    # the reference: the same training, ended normally at the same step, in this process
    reference = tmp_path / "normal.db"
    shutil.copyfile(empty_store, reference)
    monkeypatch.chdir(tmp_path)
    _load_script().train("normal", f"sqlite:///{reference}", "normal")
    (normal,) = MlflowClient(tracking_uri=f"sqlite:///{reference}").search_runs(["0"])
    assert normal.info.status == "FINISHED"
    expected = _stored_points(reference, normal.info.run_id)

    outputs = {mode: child.communicate(timeout=300)[0] for mode, child in children.items()}
    counts = {}
    for mode, (returncode_ok, status) in MODES.items():
        assert returncode_ok(children[mode].returncode), (mode, outputs[mode][-3000:])
        client = MlflowClient(tracking_uri=f"sqlite:///{paths[mode]}")
        (run,) = client.search_runs(["0"])
        assert run.info.status == status, (mode, outputs[mode][-3000:])
        counts[mode] = _stored_points(paths[mode], run.info.run_id)
    # the same windows were emitted before each exit, the last one with 3,000 points
    # still queued when the process began to end: every mode stored all of them
    assert expected > 3_000
    assert counts == dict.fromkeys(MODES, expected)
