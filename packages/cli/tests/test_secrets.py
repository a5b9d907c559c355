"""No command prints or stores a secret: a planted password and tokens are swept for.

Issue 15 item 12: a tracking URI's password appeared in the mid-run "store not taking
points" warning, in `pat sync` errors and in `pat inspect metrics`' footer and `--json`.
Here a real `mlflow server` sits behind a proxy that refuses metric requests with 403 (an
expired token) while `pat train` runs, so the warning, the spool and `pat sync` all meet
the URI; then every command's output, the run's params, tags and artifacts and every file
the commands wrote are searched for the planted values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

SECRETS = {"FOO_TOKEN": "tok-PLANTED-1f9a", "AZURE_X": "az-PLANTED-0b3e"}
URI_PASSWORD = "p@ss-PLANTED-5d1c"  # an "@" in a password was cut wrongly
SKRL_TESTS = Path(__file__).resolve().parents[2] / "skrl_mlflow" / "tests"
PLANTED = (URI_PASSWORD, *SECRETS.values(), "tracking-token-PLANTED-a4e1")

pytestmark = pytest.mark.server


@pytest.fixture
def proxied_server(tmp_path: Path, _empty_database: Path) -> Iterator[tuple[str, object]]:
    sys.path.insert(0, str(SKRL_TESTS))
    from fault_proxy import FaultProxy
    from mlflow_server import sqlite_server

    root = tmp_path / "server"
    root.mkdir()
    with sqlite_server(root, _empty_database) as server, FaultProxy(server.port) as proxy:
        yield server.url, proxy


def _pat(cwd: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(SECRETS, MLFLOW_TRACKING_TOKEN=PLANTED[-1], COLUMNS="120", NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "pat_cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _leaks(text: str) -> list[str]:
    return [secret for secret in PLANTED if secret in text]


def test_no_command_output_param_tag_artifact_or_file_holds_a_secret(
    proxied_server: tuple[str, object], tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    server_url, proxy = proxied_server
    port = proxy.port  # type: ignore[attr-defined]
    uri = f"http://alice:{URI_PASSWORD}@127.0.0.1:{port}"
    work = tmp_path / "work"
    work.mkdir()
    outputs: dict[str, str] = {}

    proxy.refuse_status = 403  # type: ignore[attr-defined]
    proxy.set_mode("refuse")  # type: ignore[attr-defined]
    code, outputs["train"] = _pat(
        work, "train", "--task", "CartPole-v1", "--num-envs", "4", "--timesteps", "200",
        "--log-interval", "step", "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 0, outputs["train"]
    assert "HTTP 403" in outputs["train"]  # the warning was printed, and it names the status
    proxy.set_mode("pass")  # type: ignore[attr-defined]
    code, outputs["sync"] = _pat(work, "sync", "runs", "--tracking-uri", uri, "--json")
    assert code == 0, outputs["sync"]
    code, outputs["inspect"] = _pat(work, "inspect", "metrics", "--tracking-uri", uri)
    assert code == 0, outputs["inspect"]
    assert "alice:***@" in outputs["inspect"]
    code, outputs["inspect --json"] = _pat(
        work, "inspect", "metrics", "--tracking-uri", uri, "--json"
    )
    assert code == 0, outputs["inspect --json"]
    code, outputs["sync to a missing run"] = _pat(
        work,
        "sync",
        "runs",
        "--tracking-uri",
        uri.replace(str(proxy.port), "9"),  # type: ignore[attr-defined]
    )
    code, outputs["inspect a missing run"] = _pat(
        work, "inspect", "metrics", "0" * 32, "--tracking-uri", uri
    )
    assert code == 1

    client = MlflowClient(server_url)
    (run,) = client.search_runs(["0"])
    assert run.data.metrics, "the spooled points were delivered"
    stored = {
        "params": repr(run.data.params),
        "tags": repr(run.data.tags),
    }
    artifacts = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl")))
    files = [p for p in (*work.rglob("*"), *artifacts.rglob("*")) if p.is_file()]
    assert any(p.name == "points.jsonl" for p in files), "the spool is part of the sweep"
    for path in files:
        stored[str(path)] = path.read_bytes().decode("utf-8", "replace")
    leaks = {name: _leaks(text) for name, text in {**outputs, **stored}.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
    shutil.rmtree(tmp_path / "dl", ignore_errors=True)


def test_sync_json_output_is_only_json(proxied_server: tuple[str, object], tmp_path: Path) -> None:
    """Issue 15 item 13: MLflow's "View run ..." lines came before the JSON on stdout."""
    import json

    from mlflow import MlflowClient

    from pat_skrl_mlflow import MetricPoint
    from pat_skrl_mlflow.run_store._spool import Spool

    server_url, _ = proxied_server
    run_id = MlflowClient(server_url).create_run("0").info.run_id
    spool = Spool(tmp_path / "runs" / "pat_spool")
    spool.update_run_info(tracking_uri=server_url, run_id=run_id)
    spool.append(run_id, [MetricPoint("loss", 1.0, s, 1_700_000_000_000 + s) for s in range(5)])
    spool.update_run_info(status="FINISHED", end_pending=True)  # sync ends the run
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = subprocess.run(
        [sys.executable, "-m", "pat_cli", "sync", "runs", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["delivered"], row["ended"]) == (5, "FINISHED")
