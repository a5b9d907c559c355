"""Run helpers: MLflow's environment, params, tags, artifacts, idempotency, status."""

from __future__ import annotations

import collections
import time

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from pat_skrl_mlflow import instrument, log_agent_config, start_run
from skrl_mlflow_support import make_runner, runner_cfg, vector_env


def _runner(tmp_path, timesteps=32, **agent):
    env = vector_env("Pendulum-v1", num_envs=2, max_episode_steps=16)
    cfg = runner_cfg(
        "PPO", directory=str(tmp_path / "runs"), timesteps=timesteps, write_interval=16, **agent
    )
    return make_runner(env, cfg)


def test_environment_variables_params_tags_and_artifacts(tmp_path, store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "pat-experiment")
    runner = _runner(tmp_path, checkpoint_interval=16)
    with instrument(runner.agent, task="Pendulum-v1") as handle:
        runner.run()
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(handle.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "pat-experiment"
    assert run.info.status == "FINISHED"
    assert run.data.tags["pat.algorithm"] == "PPO"
    assert run.data.tags["pat.task"] == "Pendulum-v1"
    assert run.data.tags["pat.log_interval"] == "rollout"
    assert "pat.version.skrl" in run.data.tags
    assert "pat.version.pat-skrl-mlflow" in run.data.tags
    assert run.data.params["rollouts"] == "16"
    assert run.data.params["experiment/write_interval"] == "16"
    config = yaml.safe_load(
        mlflow.artifacts.load_text(f"runs:/{handle.run_id}/pat/agent_config.yaml")
    )
    assert config["rollouts"] == 16
    checkpoints = {a.path for a in client.list_artifacts(handle.run_id, "checkpoints")}
    assert "checkpoints/agent_16.pt" in checkpoints
    assert "episode_reward_mean" in run.data.metrics
    names = mlflow.artifacts.load_dict(f"runs:/{handle.run_id}/pat/metric_names.json")
    assert names["tag_to_key"]["Reward / Total reward (mean)"] == "episode_reward_mean"


@pytest.mark.no_skrl
def test_mlflow_run_id_resumes_an_externally_managed_run(tmp_path, store, monkeypatch):
    client = MlflowClient(tracking_uri=store)
    external = client.create_run("0", run_name="created-by-azure-ml").info.run_id
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_RUN_ID", external)
    runner = _runner(tmp_path)
    with instrument(runner.agent, log_config=False) as handle:
        runner.run()
    assert handle.run_id == external
    assert len(client.search_runs(["0"])) == 1
    assert "policy_loss" in client.get_run(external).data.metrics


@pytest.mark.no_skrl
def test_default_store_is_sqlite_in_the_working_directory(tmp_path):
    runner = _runner(tmp_path, timesteps=16)
    with instrument(runner.agent, log_config=False) as handle:
        runner.run()
    assert (tmp_path / "mlflow.db").is_file()
    assert not (tmp_path / "mlruns" / "0" / "meta.yaml").exists()  # no legacy file store
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.get_run(handle.run_id).data.metrics


@pytest.mark.no_skrl
def test_large_configs_are_batched_and_truncated(store):
    target = start_run(tracking_uri=store)
    config: dict = collections.defaultdict(dict)
    for i in range(250):
        config[f"group_{i // 50}"][f"item_{i}"] = i
    config["long"] = "x" * 10_000
    config["scheduler"] = collections.OrderedDict  # classes and callables by name
    assert log_agent_config(target, config) == 252
    target.end("FINISHED")
    params = MlflowClient(tracking_uri=store).get_run(target.run_id).data.params
    assert len(params) == 252
    assert params["group_4/item_249"] == "249"
    assert params["long"] == "x" * 6000
    assert params["scheduler"] == "collections.OrderedDict"


def test_instrumenting_twice_neither_double_wraps_nor_double_logs(tmp_path, store):
    runner = _runner(tmp_path)
    agent = runner.agent
    first = instrument(agent, tracking_uri=store)
    wrapped = agent.post_interaction
    second = instrument(agent, tracking_uri=store, interval=1)
    assert second is first
    assert agent.post_interaction is wrapped
    runner.run()
    summary = first.close()
    client = MlflowClient(tracking_uri=store)
    history = client.get_metric_history(first.run_id, "policy_loss")
    assert [m.step for m in history] == [16, 32]  # once per window, not twice
    assert summary.points_logged == sum(
        len(client.get_metric_history(first.run_id, k))
        for k in client.get_run(first.run_id).data.metrics
    )
    # remove() restored the agent: class methods, a plain defaultdict
    assert "post_interaction" not in agent.__dict__
    assert "record_transition" not in agent.__dict__
    assert type(agent.tracking_data) is collections.defaultdict
    third = instrument(agent, tracking_uri=store)
    assert third is not first
    third.close()


@pytest.mark.no_skrl
@pytest.mark.parametrize(
    ("error", "status"), [(RuntimeError, "FAILED"), (KeyboardInterrupt, "KILLED")]
)
def test_context_manager_ends_the_run_with_the_right_status(tmp_path, store, error, status):
    runner = _runner(tmp_path)
    handle = instrument(runner.agent, tracking_uri=store, log_config=False)

    def train_then_fail():
        with handle:
            runner.run()
            raise error

    with pytest.raises(error):
        train_then_fail()
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(handle.run_id)
    assert run.info.status == status
    assert len(client.get_metric_history(handle.run_id, "policy_loss")) == 2


@pytest.mark.no_skrl
def test_system_metrics_behind_one_switch(tmp_path, store, monkeypatch):
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "1")
    runner = _runner(tmp_path, timesteps=16)
    client = MlflowClient(tracking_uri=store)
    with instrument(runner.agent, tracking_uri=store, log_system_metrics=True) as handle:
        runner.run()
        deadline = time.monotonic() + 30  # MLflow's own monitor thread samples the system
        while time.monotonic() < deadline:
            if any(k.startswith("system/") for k in client.get_run(handle.run_id).data.metrics):
                break
            time.sleep(0.2)
    assert any(k.startswith("system/cpu") for k in client.get_run(handle.run_id).data.metrics)
