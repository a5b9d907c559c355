"""log_policy: a trained skrl agent's policy as an MLflow model of its run, in a real store.

Short real trainings (CartPole-v1 discrete, Pendulum-v1 continuous); the expected actions
are computed from the live agent with skrl's own calls, not with pat's module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import torch
import yaml
from mlflow import MlflowClient

from pat_skrl_mlflow import (
    LoggedPolicy,
    ProcessClient,
    deterministic_policy,
    instrument,
    log_policy,
)
from pat_skrl_mlflow.run_store._writer_messages import StoreRequestError
from skrl_mlflow_support import SKRL2, make_runner, runner_cfg, vector_env

TIMESTEPS = 32
ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime", "onnxscript"))
needs_onnx = pytest.mark.skipif(not ONNX, reason="the onnx extra is not installed")
# skrl 1.x cannot step discrete vector envs (see test_ppo.py)
discrete_only_on_skrl2 = pytest.mark.skipif(not SKRL2, reason="skrl 1.x: no discrete vector envs")
SCALER = {"observation_preprocessor" if SKRL2 else "state_preprocessor": "RunningStandardScaler"}


def train(tmp_path: Path, store: str, *, discrete: bool, algorithm: str = "PPO", **agent: Any):
    """A short real training whose metrics go to a new run of ``store``; (agent, run id)."""
    if discrete:
        env = vector_env("CartPole-v1", num_envs=2)
    else:
        env = vector_env("Pendulum-v1", num_envs=2, max_episode_steps=8)
    timesteps = TIMESTEPS if algorithm == "PPO" else 48  # off-policy: past learning_starts
    cfg = runner_cfg(
        algorithm,
        directory=str(tmp_path / "runs"),
        timesteps=timesteps,
        write_interval=0,
        discrete=discrete,
        **agent,
    )
    runner = make_runner(env, cfg)
    with instrument(runner.agent, tracking_uri=store) as handle:
        runner.run()
    return runner.agent, handle.run_id


def skrl_actions(agent: Any, observations: np.ndarray) -> np.ndarray:
    """The deterministic actions as skrl computes them, on the agent's own device."""
    x = torch.as_tensor(observations, device=agent.device)
    with torch.no_grad():
        if SKRL2:
            inputs = {"observations": agent._observation_preprocessor(x), "states": None}
        else:
            inputs = {"states": agent._state_preprocessor(x)}
        result = agent.policy.act(inputs, role="policy")
    outputs = result[-1]
    if "mean_actions" in outputs:
        return outputs["mean_actions"].cpu().numpy()
    if "net_output" in outputs:
        return outputs["net_output"].argmax(dim=-1, keepdim=True).cpu().numpy()
    return result[0].cpu().numpy()


def spec(column: dict[str, Any]) -> tuple[str, tuple[int, ...]]:
    return column["tensor-spec"]["dtype"], tuple(column["tensor-spec"]["shape"])


def observations_of(agent: Any, rows: int = 9, seed: int = 0) -> np.ndarray:
    size = agent.observation_space.shape[0]
    return np.random.default_rng(seed).normal(size=(rows, size)).astype(np.float32)


@pytest.mark.usefixtures("in_process_writes")  # the training's metrics are incidental here
def test_a_gaussian_policy_is_logged_with_its_signature_files_and_metrics(tmp_path, store):
    agent, run_id = train(tmp_path, store, discrete=False, **SCALER)
    client = MlflowClient(store)
    before = client.get_run(run_id).info

    logged = log_policy(agent, run_id, tracking_uri=store)

    assert isinstance(logged, LoggedPolicy)
    assert logged.kind == "gaussian"
    assert logged.registered_model_uri is None
    assert logged.uri == logged.model_uri
    info = mlflow.models.get_model_info(logged.model_uri)
    assert info.run_id == run_id
    assert info.flavors.keys() >= {"pytorch", "python_function"}
    inputs, outputs = info.signature.inputs.to_dict(), info.signature.outputs.to_dict()
    assert [spec(s) for s in inputs] == [("float32", (-1, 3))]
    assert [spec(s) for s in outputs] == [("float32", (-1, 1))]

    # predict == the policy's mean action, the observation scaler applied
    observations = observations_of(agent)
    predicted = mlflow.pyfunc.load_model(logged.model_uri).predict(observations)
    expected = skrl_actions(agent, observations)
    np.testing.assert_allclose(predicted, expected, atol=1e-6)
    scaler = agent._observation_preprocessor if SKRL2 else agent._state_preprocessor
    assert scaler.running_mean.abs().sum() > 0  # trained statistics: the scaler matters
    unscaled = agent.policy.act(
        {"observations" if SKRL2 else "states": torch.as_tensor(observations, device=agent.device)},
        role="policy",
    )[-1]["mean_actions"]
    assert not np.allclose(predicted, unscaled.detach().cpu().numpy(), atol=1e-4)

    # the run's metrics at its last episode_reward_mean step are the model's
    history = client.get_metric_history(run_id, "episode_reward_mean")
    last = max(history, key=lambda m: (m.step, m.timestamp))
    assert logged.metrics["episode_reward_mean"] == pytest.approx(last.value)
    assert {m.key: m.value for m in client.get_logged_model(logged.model_id).metrics}[
        "episode_reward_mean"
    ] == pytest.approx(last.value)

    # the skrl checkpoint (the logged weights) and the agent config come with the model
    files = Path(mlflow.artifacts.download_artifacts(logged.model_uri, dst_path=str(tmp_path)))
    checkpoint = torch.load(files / "extra_files" / "agent.pt", weights_only=False)
    assert "policy" in checkpoint
    weights = agent.policy.state_dict()
    for name, value in checkpoint["policy"].items():
        torch.testing.assert_close(value.cpu(), weights[name].cpu())
    config = yaml.safe_load((files / "extra_files" / "agent_config.yaml").read_text())
    assert config["rollouts"] == 16
    assert "RunningStandardScaler" in str(
        config["observation_preprocessor" if SKRL2 else "state_preprocessor"]
    )
    assert info.metadata["pat"]["algorithm"] == "PPO"

    # a torch.export graph: loading it needs torch, neither skrl nor pat
    requirements = (files / "requirements.txt").read_text()
    assert "torch==" in requirements
    assert "skrl" not in requirements
    assert "pat" not in requirements
    blocked = (
        "import sys; sys.modules.update(skrl=None, pat_skrl_mlflow=None, pat_core=None); "
        "import mlflow, numpy; "
        f"m = mlflow.pyfunc.load_model({logged.model_uri!r}); "
        f"print(m.predict(numpy.array({observations.tolist()!r}, dtype=numpy.float32)).tolist())"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    done = subprocess.run(
        [sys.executable, "-c", blocked],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(json.loads(done.stdout.splitlines()[-1]), expected, atol=1e-6)

    # the run was not resumed: status and end time are as training left them
    after = client.get_run(run_id).info
    assert (after.status, after.end_time) == (before.status, before.end_time)


@discrete_only_on_skrl2
@pytest.mark.usefixtures("in_process_writes")  # the training's metrics are incidental here
def test_a_categorical_policy_registered_loads_from_the_registry(tmp_path, store):
    agent, run_id = train(tmp_path, store, discrete=True)

    logged = log_policy(agent, run_id, tracking_uri=store, register_as="cartpole-policy")

    assert logged.kind == "categorical"
    assert logged.uri == "models:/cartpole-policy/1"
    observations = observations_of(agent, rows=64)
    mlflow.set_tracking_uri(store)
    predicted = mlflow.pyfunc.load_model("models:/cartpole-policy/1").predict(observations)
    assert predicted.dtype == np.int64
    assert predicted.shape == (64, 1)
    np.testing.assert_array_equal(predicted, skrl_actions(agent, observations))
    version = MlflowClient(store).get_model_version("cartpole-policy", "1")
    assert version.run_id == run_id

    again = log_policy(agent, run_id, tracking_uri=store, register_as="cartpole-policy")
    assert again.uri == "models:/cartpole-policy/2"
    assert again.model_id != logged.model_id


def test_the_store_writer_process_logs_the_policy_the_same_way(tmp_path, store):
    """``writer=``: pat train's store writer logs it (skrl's run-time model classes and the
    preprocessor travel pickled); the same actions, registry version and model metrics."""
    agent, run_id = train(tmp_path, store, discrete=False, **SCALER)
    writer = ProcessClient(store)
    try:
        assert writer.check() is None
        writer.warm_up_policy_logging()
        logged = log_policy(agent, run_id, register_as="pendulum-policy", writer=writer)
        with pytest.raises(StoreRequestError, match="no-such-run"):
            log_policy(agent, "no-such-run", writer=writer)  # MLflow's error, from the child
        metrics = MlflowClient(store).get_run(run_id).data.metrics
    finally:
        writer.close()

    assert logged.kind == "gaussian"
    assert logged.uri == "models:/pendulum-policy/1"
    assert logged.metrics["episode_reward_mean"] == pytest.approx(metrics["episode_reward_mean"])
    observations = observations_of(agent)
    mlflow.set_tracking_uri(store)
    predicted = mlflow.pyfunc.load_model(logged.uri).predict(observations)
    np.testing.assert_allclose(predicted, skrl_actions(agent, observations), atol=1e-6)


@pytest.mark.usefixtures("in_process_writes")  # the training's metrics are incidental here
@pytest.mark.parametrize("algorithm", ["TD3", "SAC"])
def test_off_policy_agents_log_their_deterministic_actions(tmp_path, store, algorithm):
    agent, run_id = train(tmp_path, store, discrete=False, algorithm=algorithm)

    logged = log_policy(agent, run_id, tracking_uri=store, artifact_path="actor")

    assert logged.kind == ("deterministic" if algorithm == "TD3" else "gaussian")
    assert logged.artifact_path == "actor"
    observations = observations_of(agent)
    predicted = mlflow.pyfunc.load_model(logged.model_uri).predict(observations)
    np.testing.assert_allclose(predicted, skrl_actions(agent, observations), atol=1e-6)


@needs_onnx
@pytest.mark.usefixtures("in_process_writes")  # the training's metrics are incidental here
@pytest.mark.parametrize(
    "discrete",
    [pytest.param(True, marks=discrete_only_on_skrl2), False],
    ids=["cartpole", "pendulum"],
)
def test_the_onnx_policy_acts_as_the_torch_one(tmp_path, store, discrete):
    import onnxruntime

    agent, run_id = train(tmp_path, store, discrete=discrete, **SCALER)

    logged = log_policy(agent, run_id, tracking_uri=store, onnx=True)

    assert logged.onnx_model_uri is not None
    assert mlflow.models.get_model_info(logged.onnx_model_uri).flavors.keys() >= {"onnx"}
    observations = observations_of(agent, rows=257, seed=1)
    torch_actions = mlflow.pyfunc.load_model(logged.model_uri).predict(observations)
    files = Path(mlflow.artifacts.download_artifacts(logged.onnx_model_uri, dst_path=str(tmp_path)))
    session = onnxruntime.InferenceSession(
        str(files / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (onnx_actions,) = session.run(["actions"], {"observations": observations})
    assert onnx_actions.shape == torch_actions.shape
    if discrete:
        np.testing.assert_array_equal(onnx_actions, torch_actions)
    else:
        np.testing.assert_allclose(onnx_actions, torch_actions, atol=1e-5, rtol=0)
    np.testing.assert_allclose(onnx_actions, skrl_actions(agent, observations), atol=1e-5)


@pytest.mark.usefixtures("in_process_writes")  # the training's metrics are incidental here
@pytest.mark.no_skrl  # argument checks: skrl's version plays no part
def test_an_unusable_request_fails_before_anything_is_logged(tmp_path, store):
    agent, run_id = train(tmp_path, store, discrete=False)
    client = MlflowClient(store)

    with pytest.raises(mlflow.exceptions.MlflowException, match="no-such-run"):
        log_policy(agent, "no-such-run", tracking_uri=store)
    with pytest.raises(ValueError, match=r"shape \(2, 5\).*\(n, 3\)"):
        log_policy(agent, run_id, tracking_uri=store, input_example=np.zeros((2, 5)))
    with pytest.raises(ValueError, match="register_as"):
        log_policy(agent, run_id, tracking_uri=store, register_as=" ")
    with pytest.raises(TypeError, match="no single policy"):
        log_policy(object(), run_id, tracking_uri=store)

    experiment = client.get_run(run_id).info.experiment_id
    assert list(client.search_logged_models([experiment])) == []


@pytest.mark.usefixtures("in_process_writes")  # the training's metrics are incidental here
def test_the_module_is_a_cpu_copy_that_leaves_the_agent_alone(tmp_path, store):
    agent, _ = train(tmp_path, store, discrete=False, **SCALER)
    before = {k: v.clone() for k, v in agent.policy.state_dict().items()}

    module = deterministic_policy(agent)

    assert module.kind == "gaussian"
    assert all(p.device.type == "cpu" and not p.requires_grad for p in module.parameters())
    assert module.policy is not agent.policy
    observations = observations_of(agent)
    np.testing.assert_allclose(
        module(torch.from_numpy(observations)).detach().numpy(),
        skrl_actions(agent, observations),
        atol=1e-6,
    )
    for name, value in agent.policy.state_dict().items():
        torch.testing.assert_close(value, before[name])
    assert any(p.requires_grad for p in agent.policy.parameters())  # still trainable
