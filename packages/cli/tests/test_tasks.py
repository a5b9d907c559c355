"""`pat tasks` and the agent / env-metrics configs pat ships for gymnasium tasks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pat_cli.tasks import GYM_TASKS, load_yaml

SHIPPED = [(task.id, algo) for task in GYM_TASKS.values() for algo in task.configs]


def test_tasks_json_lists_the_shipped_gymnasium_tasks(invoke):
    result = invoke("tasks", "--json")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    rows = {row["task"]: row for row in payload["tasks"]}
    assert rows["CartPole-v1"]["algorithms"] == ["ppo"]
    assert rows["Pendulum-v1"]["algorithms"] == ["ppo", "sac"]
    assert rows["CartPole-v1"]["runs_here"] is True
    assert rows["InvertedPendulum-v5"]["runs_here"] is True  # mujoco is in the dev group
    if payload["isaaclab_installed"]:
        assert rows["Isaac-Cartpole"]["algorithms"][0] == "ppo"
    else:
        assert "pat setup isaaclab" in payload["note"]


def test_tasks_table_says_what_runs_here(invoke):
    result = invoke("tasks")

    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "Pendulum-v1" in line)
    assert line.split()[1:] == ["gymnasium", "ppo,", "sac", "yes"]


@pytest.mark.parametrize(("task", "algorithm"), SHIPPED)
def test_shipped_config_builds_a_skrl_agent_on_its_env(task, algorithm):
    from skrl.utils.runner.torch import Runner

    from pat_cli._setup import finish_cfg, prepare
    from pat_cli._train_env import EnvSpec, make_env

    ready = prepare(task, algorithm, None, 2, "cpu")
    env = make_env(EnvSpec(ready.choice, 2, "cpu", 0, ready.env_metrics))
    try:
        runner = Runner(env, finish_cfg(ready.cfg, ready.choice, 10, 0, directory="unused"))
        assert type(runner.agent).__name__.lower() == algorithm
        assert runner.trainer.cfg.environment_info == "log"
        assert env.observation_space.dtype == np.float32
    finally:
        env.close()


@pytest.mark.parametrize("task", list(GYM_TASKS))
def test_env_metrics_config_reports_episode_metrics(task):
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    from pat_cli._train_env import gym_metrics
    from pat_env_metrics.gymnasium import RecordEpisodeMetrics

    spec = GYM_TASKS[task]
    terms = gym_metrics(load_yaml(spec.metrics), spec.metrics)
    env = gym.make_vec(
        task,
        num_envs=2,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        max_episode_steps=5,
    )
    env = RecordEpisodeMetrics(env, terms)
    env.reset(seed=0)
    env.action_space.seed(0)
    logged = {}
    for _ in range(6):
        *_, info = env.step(env.action_space.sample())
        logged |= info.get("log", {})
    env.close()
    assert set(logged) == {f"Episode_Metrics/{name}" for name in terms}
    assert all(np.isfinite(float(v)) and float(v) >= 0 for v in logged.values())
