"""A `pat train` run records what reproduces it: its options, configs, name and kind.

Real `pat train` subprocesses on CartPole-v1 into real sqlite stores, read back with
MLflow's client as `mlflow ui` and a user's script would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from conftest import Store

KIND_TAG = "mlflow.experimentKind"
SCHEDULER = "skrl.resources.schedulers.torch.KLAdaptiveLR"


def _pat(cwd: Path, *args: str, extra_env: dict[str, str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WORLD_SIZE"))}
    env.update(COLUMNS="80", NO_COLOR="1", **(extra_env or {}))
    done = subprocess.run(
        [sys.executable, "-m", "pat_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def _only_log_directory(work: Path) -> Path:
    (directory,) = (work / "runs" / "CartPole-v1").iterdir()
    return directory


def _artifact_yaml(client: Any, run_id: str, path: str, into: Path) -> Any:
    local = client.download_artifacts(run_id, path, str(into))
    return yaml.safe_load(Path(local).read_text(encoding="utf-8"))


def _assert_readable(params: dict[str, str]) -> None:
    for key, value in params.items():
        assert "<class" not in value, (key, value)
        assert "<function" not in value, (key, value)


def test_a_run_stores_its_options_configs_and_the_log_directory_name(
    tmp_path: Path, store: Store
) -> None:
    from mlflow import MlflowClient

    work = tmp_path / "work"
    work.mkdir()
    _pat(
        work, "train", "--task", "CartPole-v1", "--algorithm", "ppo", "--num-envs", "2",
        "--timesteps", "64", "--seed", "7", "--device", "cpu", "--log-interval", "16",
        "--tracking-uri", store.uri, "--experiment", "record",
        "agent.agent.rollouts=16", "env.max_episode_steps=50",
    )  # fmt: skip

    client = MlflowClient(store.uri)
    experiment = client.get_experiment_by_name("record")
    (run,) = client.search_runs([experiment.experiment_id])
    params = run.data.params
    assert {k: params[k] for k in ("task", "algorithm", "num_envs", "seed", "timesteps")} == {
        "task": "CartPole-v1", "algorithm": "ppo", "num_envs": "2", "seed": "7", "timesteps": "64",
    }  # fmt: skip
    assert (params["device"], params["log_interval"], params["world_size"]) == ("cpu", "16", "1")
    assert params["learning_rate_scheduler"] == f"({SCHEDULER}, {SCHEDULER})"  # PPO's policy, value
    _assert_readable(params)

    agent = _artifact_yaml(client, run.info.run_id, "params/agent.yaml", tmp_path / "a")
    assert agent["agent"]["rollouts"] == int(params["rollouts"]) == 16
    assert agent["trainer"]["timesteps"] == 64
    assert agent["seed"] == 7
    env = _artifact_yaml(client, run.info.run_id, "params/env.yaml", tmp_path / "e")
    assert env["id"] == "CartPole-v1"
    assert env["max_episode_steps"] == 50  # the env. override, as the env was made
    assert (env["num_envs"], env["vectorization_mode"], env["seed"]) == (2, "sync", 7)

    assert run.info.run_name == _only_log_directory(work).name  # e.g. 26-01-02_10-11-12-123_PPO
    assert run.info.run_name.endswith("_PPO")
    assert experiment.tags[KIND_TAG] == "custom_model_development"  # mlflow ui: training view


def test_run_name_option_names_the_run_and_the_default_experiment_gets_the_kind(
    tmp_path: Path, store: Store
) -> None:
    from mlflow import MlflowClient

    work = tmp_path / "work"
    work.mkdir()
    # MLflow in the training process (no store writer): the other path that creates runs
    _pat(
        work, "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "32",
        "--tracking-uri", store.uri, "--run-name", "baseline-1",
        extra_env={"PAT_STORE_PROCESS": "0", "WORLD_SIZE": "1"},
    )  # fmt: skip

    client = MlflowClient(store.uri)
    (run,) = client.search_runs(["0"])
    assert run.info.run_name == "baseline-1"
    assert run.data.params["task"] == "CartPole-v1"
    assert run.data.params["timesteps"] == "32"
    _assert_readable(run.data.params)
    assert client.get_experiment("0").tags[KIND_TAG] == "custom_model_development"


def test_an_offline_run_keeps_its_name_params_and_configs_for_sync(
    tmp_path: Path, store: Store
) -> None:
    from mlflow import MlflowClient

    work = tmp_path / "work"
    work.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _pat(
        work, "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "32",
        "--seed", "5", "--tracking-uri", f"http://127.0.0.1:{port}", "--offline-ok",
    )  # fmt: skip
    directory = _only_log_directory(work)
    (run_file,) = directory.glob("pat_spool*/**/run.json")
    spooled = json.loads(run_file.read_text())
    assert spooled["run_name"] == directory.name
    assert spooled["params"]["seed"] == "5"
    assert (run_file.parent / "artifacts" / "params" / "env.yaml").is_file()

    synced = _pat(work, "sync", "--tracking-uri", store.uri, "--json")
    (result,) = json.loads(synced)
    client = MlflowClient(store.uri)
    run = client.get_run(result["run_id"])
    assert run.info.run_name == directory.name
    assert (run.data.params["task"], run.data.params["seed"]) == ("CartPole-v1", "5")
    _assert_readable(run.data.params)
    agent = _artifact_yaml(client, run.info.run_id, "params/agent.yaml", tmp_path / "a")
    assert agent["agent"]["rollouts"] == int(run.data.params["rollouts"])
    # the experiment pat sync put the run in (Default here) opens in mlflow ui's training view
    assert (
        client.get_experiment(run.info.experiment_id).tags[KIND_TAG] == "custom_model_development"
    )
