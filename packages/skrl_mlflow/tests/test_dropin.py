"""The replaced integration's documented examples work by changing only the import."""

from __future__ import annotations

import logging
import os
import types

import mlflow
import pytest
from mlflow import MlflowClient

from pat_skrl_mlflow import create_mlflow_logging_wrapper, instrument
from skrl_mlflow_support import SKRL2, make_runner, metric_histories, runner_cfg, vector_env

pytestmark = pytest.mark.usefixtures("in_process_writes")  # subject: capture, not the writer

TIMESTEPS = 48

# verbatim from the replaced integration's documentation
basic_metrics = {
    "episode_reward_mean",
    "episode_length_mean",
    "policy_loss",
    "value_loss",
}
optimization_metrics = {
    "learning_rate",
    "grad_norm",
    "kl_divergence",
    "policy_loss",
    "value_loss",
}


def _documented_usage(tmp_path, metric_filter, attribute):
    env = vector_env("Pendulum-v1", num_envs=4, max_episode_steps=16)
    agent_cfg = runner_cfg(
        "PPO",
        directory=str(tmp_path / "runs"),
        timesteps=TIMESTEPS,
        learning_rate_scheduler="KLAdaptiveLR",
        learning_rate_scheduler_kwargs={"kl_threshold": 0.008},
    )
    with mlflow.start_run() as run:
        runner = make_runner(env, agent_cfg)

        wrapper_func = create_mlflow_logging_wrapper(
            agent=runner.agent,
            mlflow_module=mlflow,
            metric_filter=metric_filter,
        )

        setattr(runner.agent, attribute, wrapper_func)
        runner.run()
    return run.info.run_id, wrapper_func


UPDATE = "update" if SKRL2 else "_update"


@pytest.mark.parametrize("attribute", sorted({UPDATE, "_update"}))
def test_basic_metrics_example_logs_exactly_those_metrics(tmp_path, store, attribute):
    mlflow.set_tracking_uri(store)
    run_id, wrapper = _documented_usage(tmp_path, basic_metrics, attribute)
    histories = metric_histories(store, run_id)
    assert set(histories) == basic_metrics
    # the interval is applied: "balanced" = every 10 timesteps, plus the last window
    steps = {step for history in histories.values() for step, _ in history}
    assert steps <= {*range(10, TIMESTEPS + 1, 10), TIMESTEPS}
    assert len(histories["episode_reward_mean"]) == len(steps)
    assert wrapper.instrumentation.summary().points_rejected == 0


def test_unknown_documented_names_are_reported(tmp_path, store, caplog):
    mlflow.set_tracking_uri(store)
    with caplog.at_level(logging.WARNING, logger="pat_skrl_mlflow"):
        run_id, wrapper = _documented_usage(tmp_path, optimization_metrics, UPDATE)
    assert set(metric_histories(store, run_id)) == {"learning_rate", "policy_loss", "value_loss"}
    assert "'grad_norm' matches no metric" in caplog.text  # reported at start
    unmatched = {u.pattern for u in wrapper.instrumentation.summary().unmatched}
    assert unmatched == {"grad_norm", "kl_divergence"}


def test_no_filter_logs_everything_and_bad_arguments_fail_early(tmp_path, store):
    mlflow.set_tracking_uri(store)
    run_id, _ = _documented_usage(tmp_path, None, UPDATE)
    assert {"episode_reward_mean", "policy_loss", "instantaneous_reward_max"} <= set(
        metric_histories(store, run_id)
    )
    with pytest.raises(ValueError, match="empty"):
        create_mlflow_logging_wrapper(agent=object(), mlflow_module=mlflow, metric_filter=set())
    with pytest.raises(AttributeError, match="tracking_data"):
        create_mlflow_logging_wrapper(agent=object(), mlflow_module=mlflow)


# --- the replaced training script's own call orders (issue 17) -------------------------


def _runner(tmp_path):  # type: ignore[no-untyped-def]
    env = vector_env("Pendulum-v1", num_envs=4, max_episode_steps=16)
    return make_runner(
        env, runner_cfg("PPO", directory=str(tmp_path / "runs"), timesteps=TIMESTEPS)
    )


def _runs(store):  # type: ignore[no-untyped-def]
    client = MlflowClient(store)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


@pytest.mark.no_skrl
def test_script_order_wrapper_first_then_its_own_run(tmp_path, store):  # type: ignore[no-untyped-def]
    """(a) skrl_training.py: wrapper after the Runner, then mlflow.start_run(run_name=...)."""
    mlflow.set_tracking_uri(store)
    runner = _runner(tmp_path)
    wrapper = create_mlflow_logging_wrapper(
        agent=runner.agent, mlflow_module=mlflow, metric_filter=None
    )
    assert mlflow.active_run() is None  # making the wrapper starts no run
    setattr(runner.agent, UPDATE, wrapper)
    mlflow.start_run(run_name="2026-12-04_PPO")  # no "Run ... is already active"
    mlflow.log_params({"algorithm": "PPO", "seed": 42})
    mlflow.set_tags({"entrypoint": "training/scripts/train.py"})
    runner.run()
    mlflow.end_run()
    summary = wrapper.instrumentation.close()
    (run,) = _runs(store)  # exactly one run: the script's
    assert run.info.run_name == "2026-12-04_PPO"
    assert run.info.status == "FINISHED"
    assert run.data.params["seed"] == "42"
    assert run.data.tags["pat.algorithm"] == "PPO"  # pat's tags went to the script's run
    histories = metric_histories(store, run.info.run_id)
    assert {"episode_reward_mean", "policy_loss"} <= set(histories)
    # MLflow's system metrics (on by default in the wrapper, one sample per 10 s) are not pat's
    stored = sum(len(v) for k, v in histories.items() if not k.startswith("system/"))
    assert stored == summary.points_logged
    assert summary.points_failed == summary.points_rejected == 0


@pytest.mark.no_skrl
def test_azure_ml_order_resumes_the_platforms_run(tmp_path, store, monkeypatch):  # type: ignore[no-untyped-def]
    """(b) A run made beforehand by the platform, MLFLOW_RUN_ID set, the script resumes it."""
    mlflow.set_tracking_uri(store)
    platform_run = MlflowClient(store).create_run("0").info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", platform_run)
    runner = _runner(tmp_path)
    wrapper = create_mlflow_logging_wrapper(runner.agent, mlflow, None, False)  # positional
    setattr(runner.agent, UPDATE, wrapper)
    mlflow.start_run(run_id=platform_run)
    runner.run()
    wrapper.instrumentation.close()
    (run,) = _runs(store)  # no second run
    assert run.info.run_id == platform_run
    assert "episode_reward_mean" in metric_histories(store, platform_run)


@pytest.mark.no_skrl
def test_no_run_opened_by_the_caller_pat_starts_and_ends_one(tmp_path, store, caplog):  # type: ignore[no-untyped-def]
    """(c) Nobody opens a run: pat starts one at the first window and ends it."""
    mlflow.set_tracking_uri(store)
    runner = _runner(tmp_path)
    with caplog.at_level(logging.INFO, logger="pat_skrl_mlflow"):
        wrapper = create_mlflow_logging_wrapper(
            runner.agent, mlflow_module=mlflow, collect_gpu_metrics=True
        )
    assert "no NVIDIA GPU found" in caplog.text  # this machine has none
    assert os.environ.get("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "").lower() == "true"
    setattr(runner.agent, UPDATE, wrapper)
    runner.run()
    wrapper.instrumentation.close()
    assert "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING" not in os.environ  # restored
    (run,) = _runs(store)
    assert run.info.status == "FINISHED"
    assert "policy_loss" in metric_histories(store, run.info.run_id)
    assert mlflow.active_run() is None


@pytest.mark.no_skrl
def test_a_failed_instrumentation_leaves_no_run_running(store):  # type: ignore[no-untyped-def]
    """A failure after pat started a run (an agent without tracking_data) leaked it."""
    not_an_agent = types.SimpleNamespace(cfg={})
    with pytest.raises(AttributeError):
        instrument(not_an_agent, tracking_uri=store)
    assert mlflow.active_run() is None
    assert all(run.info.status != "RUNNING" for run in _runs(store))
