"""The replaced integration's documented examples work by changing only the import."""

from __future__ import annotations

import logging

import mlflow
import pytest

from pat_skrl_mlflow import create_mlflow_logging_wrapper
from skrl_mlflow_support import SKRL2, make_runner, metric_histories, runner_cfg, vector_env

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
