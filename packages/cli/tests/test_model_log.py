"""`pat model log` as a user runs it: a real `pat train` run, then its policy as an MLflow model.

Every command is a subprocess in the directory `pat train` ran in, output to a pipe at 80
columns, against a real sqlite store.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime", "onnxscript"))


IMPORT_PROBE = (
    "import atexit, sys; "
    "atexit.register(lambda: print('probe: mlflow imported:', 'mlflow' in sys.modules)); "
    "from pat_cli.app import main; main()"
)
"""`pat` that prints, as its process ends, whether it imported MLflow itself."""


def pat(
    cwd: Path, *args: str, probe: bool = False, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(COLUMNS="80", NO_COLOR="1", OMP_NUM_THREADS="1")
    command = ["-c", IMPORT_PROBE] if probe else ["-m", "pat_cli"]
    return subprocess.run(
        [sys.executable, *command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line a failed command prints (no traceback)."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@dataclass(frozen=True)
class Trained:
    """A `pat train --task CartPole-v1 --timesteps 64` run: where, which store, which run."""

    work: Path
    uri: str
    run_id: str
    directory: Path  # skrl's experiment directory (pat_run.json, checkpoints/)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    work = tmp_path_factory.mktemp("work")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    done = pat(work, "train", "--task", "CartPole-v1", "--timesteps", "64", "--tracking-uri", uri)
    assert done.returncode == 0, done.stderr
    (run_file,) = work.glob("runs/*/*/pat_run.json")
    return Trained(work, uri, json.loads(run_file.read_text())["run_id"], run_file.parent)


def test_a_trained_run_is_logged_registered_and_loads_from_the_registry(trained):
    import mlflow

    done = pat(
        trained.work,
        "model", "log", "--run", trained.run_id, "--register-model", "cartpole-ppo",
        "--tracking-uri", trained.uri,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "models:/cartpole-ppo/1"
    assert lines[-2] == "Registered as 'cartpole-ppo' version 1:"
    text = " ".join(done.stdout.split())
    assert f"Logged the policy of run {trained.run_id} (PPO on CartPole-v1" in text
    assert "checkpoint runs/CartPole-v1/" in text
    assert "/checkpoints/agent_60.pt, agent from the run's params/agent.yaml)" in text
    assert "the most likely action (argmax) of its categorical policy" in text
    assert "Model metric episode_reward_mean:" in text

    mlflow.set_tracking_uri(trained.uri)
    try:
        model = mlflow.pyfunc.load_model("models:/cartpole-ppo/1")
        observations = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
        actions = model.predict(observations)
        info = mlflow.models.get_model_info("models:/cartpole-ppo/1")
        files = Path(mlflow.artifacts.download_artifacts("models:/cartpole-ppo/1"))
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert actions.shape == (32, 1)
    assert actions.dtype == np.int64
    assert set(np.unique(actions)) <= {0, 1}
    assert info.run_id == trained.run_id
    # the latest checkpoint of the run is the one logged with the model
    latest = trained.directory / "checkpoints" / "agent_60.pt"
    assert (files / "extra_files" / "agent_60.pt").read_bytes() == latest.read_bytes()


@pytest.mark.skipif(not ONNX, reason="the onnx extra is not installed")
def test_onnx_logs_an_onnx_model_next_to_it(trained):
    done = pat(
        trained.work, "model", "log", "--run", trained.run_id, "--onnx",
        "--tracking-uri", trained.uri,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    onnx_lines = [line for line in done.stdout.splitlines() if line.startswith("ONNX model: ")]
    assert len(onnx_lines) == 1
    assert onnx_lines[0].startswith("ONNX model: models:/m-")
    assert "Registered" not in done.stdout


@pytest.mark.skipif(ONNX, reason="the onnx extra is installed")
def test_onnx_without_the_extra_says_what_to_install(trained):
    done = pat(
        trained.work, "model", "log", "--run", trained.run_id, "--onnx",
        "--tracking-uri", trained.uri,
    )  # fmt: skip

    assert done.returncode == 1
    assert "--onnx needs onnx" in error_line(done)
    assert "pip install 'pat-skrl-mlflow[onnx]'" in done.stderr


def test_an_unknown_run_exits_2_naming_it(trained):
    done = pat(trained.work, "model", "log", "--run", "no-such-run", "--tracking-uri", trained.uri)

    assert done.returncode == 2
    line = error_line(done)
    assert "invalid value for --run: 'no-such-run'" in line
    assert "expected the id of a run in sqlite:///" in line


def test_a_run_pat_train_did_not_make_exits_2(trained):
    from mlflow import MlflowClient

    client = MlflowClient(trained.uri)
    foreign = client.create_run(client.get_run(trained.run_id).info.experiment_id).info.run_id
    done = pat(trained.work, "model", "log", "--run", foreign, "--tracking-uri", trained.uri)

    assert done.returncode == 2
    line = error_line(done)
    assert f"invalid value for --run: {foreign!r}" in line
    assert "no pat.task and pat.algorithm tags" in line


def test_without_the_runs_directory_a_checkpoint_is_required(trained, tmp_path):
    done = pat(tmp_path, "model", "log", "--run", trained.run_id, "--tracking-uri", trained.uri)

    assert done.returncode == 2
    line = error_line(done)
    assert "missing option --checkpoint" in line
    assert f"names run {trained.run_id}" in line

    missing = tmp_path / "agent_9.pt"
    done = pat(
        tmp_path, "model", "log", "--run", trained.run_id, "--checkpoint", str(missing),
        "--tracking-uri", trained.uri,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"invalid value for --checkpoint: {str(missing)!r}" in error_line(done)


def test_a_checkpoint_of_another_agent_exits_2(trained, tmp_path):
    import torch

    real = torch.load(trained.directory / "checkpoints" / "agent_60.pt", weights_only=False)
    policy = dict(real["policy"])
    first = next(name for name, value in policy.items() if value.ndim == 2)
    policy[first] = torch.zeros(policy[first].shape[0] + 1, policy[first].shape[1])
    wider = {**real, "policy": policy}  # a wider first layer: another network
    torch.save(wider, tmp_path / "wider.pt")
    torch.save({**real, "critic_1": real["policy"]}, tmp_path / "sac.pt")
    (tmp_path / "notes.pt").write_text("not a checkpoint")

    for name, why in [
        ("wider.pt", "RuntimeError: Error(s) in loading state_dict"),
        ("sac.pt", "it has critic_1"),
        ("notes.pt", "UnpicklingError"),
    ]:
        done = pat(
            trained.work, "model", "log", "--run", trained.run_id,
            "--checkpoint", str(tmp_path / name), "--tracking-uri", trained.uri,
        )  # fmt: skip
        assert done.returncode == 2, (name, done.stderr)
        line = error_line(done)
        assert f"invalid value for --checkpoint: {str(tmp_path / name)!r}" in line, name
        assert "expected a checkpoint of this run's PPO on CartPole-v1" in line, name
        assert why in line, (name, line)


def test_a_run_without_its_agent_config_is_rebuilt_from_the_tasks(trained, tmp_path):
    """A run recorded before ``pat train`` logged params/agent.yaml: the task's own config."""
    from mlflow import MlflowClient

    run = MlflowClient(trained.uri).get_run(trained.run_id)
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    recorded = artifacts / "params" / "agent.yaml"
    assert recorded.is_file()
    kept = tmp_path / "agent.yaml"
    recorded.rename(kept)
    checkpoint = trained.directory / "checkpoints" / "agent_54.pt"
    try:
        done = pat(
            tmp_path, "model", "log", "--run", trained.run_id, "--checkpoint", str(checkpoint),
            "--tracking-uri", trained.uri,
        )  # fmt: skip
    finally:
        kept.rename(recorded)

    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "agent from the task's config (the run has no params/agent.yaml)" in text
    assert f"checkpoint {checkpoint}," in text  # not under the working directory: as given
    assert done.stdout.splitlines()[-1].startswith("Model: models:/m-")


def test_pat_train_register_model_logs_and_registers_the_policy_at_the_end(tmp_path):
    """The policy is logged by pat's store writer process: training never imports MLflow."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = pat(
        tmp_path, "train", "--task", "Pendulum-v1", "--num-envs", "2", "--timesteps", "64",
        "--register-model", "pendulum-ppo", "--tracking-uri", uri, probe=True,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "Model: models:/pendulum-ppo/1" in done.stdout
    assert "probe: mlflow imported: False" in done.stdout
    assert "Successfully registered" not in done.stdout + done.stderr  # pat says it, once
    # the next command runs the policy back (the store is the default one here: no URI)
    assert "pat eval --model models:/pendulum-ppo/1 --task Pendulum-v1\n" in done.stdout
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/pendulum-ppo/1")
    actions = np.asarray(model.predict(np.zeros((3, 3), dtype=np.float32)))
    assert actions.shape == (3, 1)
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status == "FINISHED"  # logging the model kept the run's end
    (model,) = mlflow.MlflowClient(uri).search_logged_models([run.info.experiment_id])
    assert model.source_run_id == run.info.run_id


@dataclass(frozen=True)
class Registered:
    """A `pat train --register-model cartpole` run (CartPole-v1, 64 timesteps)."""

    work: Path
    uri: str
    run_id: str


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    work = tmp_path_factory.mktemp("registered")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    trained = pat(
        work, "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "64",
        "--register-model", "cartpole", "--tracking-uri", uri,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    (run_file,) = work.glob("runs/*/*/pat_run.json")
    return Registered(work, uri, json.loads(run_file.read_text())["run_id"])


def test_pat_eval_runs_a_registered_policy_and_logs_eval_metrics(registered):
    """train -> register -> `pat eval --model models:/NAME/1`; a task of other shapes: exit 2."""
    from mlflow import MlflowClient

    tmp_path, uri = registered.work, registered.uri

    done = pat(
        tmp_path, "eval", "--model", "models:/cartpole/1", "--task", "CartPole-v1",
        "--episodes", "4", "--num-envs", "2", "--seed", "1", "--tracking-uri", uri,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "eval/episode_reward_mean" in done.stdout
    client = MlflowClient(uri)
    (run,) = [
        r
        for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
        if r.data.tags.get("pat.evaluated_model") == "models:/cartpole/1"
    ]
    metrics = run.data.metrics
    assert metrics["eval/episodes"] == 4
    assert metrics["eval/episode_reward_min"] <= metrics["eval/episode_reward_mean"]
    assert metrics["eval/episode_reward_mean"] <= metrics["eval/episode_reward_max"]
    assert metrics["eval/episode_length_mean"] == pytest.approx(metrics["eval/episode_reward_mean"])
    assert any(key.startswith("eval/Episode_Metrics/") for key in metrics)

    other = pat(
        tmp_path, "eval", "--model", "models:/cartpole/1", "--task", "Pendulum-v1",
        "--tracking-uri", uri,
    )  # fmt: skip
    assert other.returncode == 2, other.stdout + other.stderr
    line = error_line(other)
    assert "shape (n, 3)" in line
    assert "(-1, 4)" in line


def test_train_warm_starts_from_a_registered_policys_checkpoint(registered, tmp_path):
    """`pat train --checkpoint models:/NAME/VERSION`: the skrl checkpoint the model carries,
    in a new run tagged with the run it came from; a model not there: exit 2, one line."""
    from mlflow import MlflowClient

    done = pat(
        tmp_path, "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "32",
        "--checkpoint", "models:/cartpole/1", "--tracking-uri", registered.uri,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    text = " ".join(done.stdout.split())
    assert "agent_60.pt" in text  # the checkpoint the registered model carries
    assert f"(run {registered.run_id})" in text
    (run_file,) = tmp_path.glob("runs/*/*/pat_run.json")
    run_id = json.loads(run_file.read_text())["run_id"]
    assert run_id != registered.run_id
    tags = MlflowClient(registered.uri).get_run(run_id).data.tags
    assert tags["pat.parent_run"] == registered.run_id

    for missing in ("models:/no-such-model/1", "models:/cartpole/7"):
        bad = pat(
            tmp_path, "train", "--task", "CartPole-v1", "--checkpoint", missing,
            "--tracking-uri", registered.uri,
        )  # fmt: skip
        assert bad.returncode == 2, bad.stdout + bad.stderr
        line = error_line(bad)
        assert f"--checkpoint: {missing!r}" in line
        assert "models:/<name>/<version>" in line


@pytest.mark.isaaclab
def test_isaac_cartpole_trained_registered_and_evaluated_keeps_its_reward(tmp_path):
    """Issue 20: Isaac-Cartpole-v0 at the task's default size (256 envs, 2400 timesteps) ->
    registered -> `pat eval`: the deterministic policy's mean episode reward is at least the
    last logged training episode_reward_mean minus 0.2 (the task pays about 5 at most)."""
    pytest.importorskip("isaaclab")
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trained = pat(
        tmp_path, "train", "--task", "Isaac-Cartpole-v0", "--device", "cpu",
        "--register-model", "isaac-cartpole", "--tracking-uri", uri, timeout=1200,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "256 envs x 2,400 timesteps" in " ".join(trained.stdout.split())
    assert "Model: models:/isaac-cartpole/1" in trained.stdout

    done = pat(
        tmp_path, "eval", "--model", "models:/isaac-cartpole/1", "--task", "Isaac-Cartpole-v0",
        "--episodes", "32", "--num-envs", "32", "--seed", "7", "--tracking-uri", uri,
        timeout=600,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (evaluated,) = [r for r in runs if r.data.tags.get("pat.evaluated_model")]
    (training,) = [r for r in runs if not r.data.tags.get("pat.evaluated_model")]
    history = client.get_metric_history(training.info.run_id, "episode_reward_mean")
    last = max(history, key=lambda m: m.step).value
    reward = evaluated.data.metrics["eval/episode_reward_mean"]
    assert evaluated.data.metrics["eval/episodes"] == 32
    assert last > 4.0, f"the training did not learn: last episode_reward_mean {last}"
    assert reward >= last - 0.2, f"eval/episode_reward_mean {reward} < training's {last} - 0.2"
