"""A2C, RPO, SAC, TD3 and DDPG on Pendulum-v1: every tag, reduced like TensorBoard."""

from __future__ import annotations

import pytest

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import (
    TensorBoardRecorder,
    make_runner,
    metric_histories,
    runner_cfg,
    same_value,
    vector_env,
)

pytestmark = pytest.mark.usefixtures("in_process_writes")  # subject: capture, not the writer

TIMESTEPS = 100
EXPECTED_KEYS = {
    "A2C": {"policy_loss", "value_loss", "entropy_loss", "policy_std", "episode_reward_mean"},
    "RPO": {"policy_loss", "value_loss", "entropy_loss", "policy_std", "episode_length_max"},
    "SAC": {
        "critic_loss",
        "entropy_loss",
        "entropy_coefficient",
        "q1_mean",
        "q2_min",
        "target_max",
    },
    "TD3": {"critic_loss", "policy_loss", "q2_mean", "exploration_noise_mean", "target_mean"},
    "DDPG": {"critic_loss", "policy_loss", "q1_max", "exploration_noise_min", "target_min"},
}


@pytest.mark.parametrize("algorithm", list(EXPECTED_KEYS))
def test_agent_metrics_reach_the_store(tmp_path, store, algorithm):
    env = vector_env("Pendulum-v1", num_envs=4, max_episode_steps=30)
    cfg = runner_cfg(
        algorithm, directory=str(tmp_path / "runs"), timesteps=TIMESTEPS, write_interval=10
    )
    runner = make_runner(env, cfg)
    recorder = TensorBoardRecorder(runner.agent)
    with instrument(runner.agent, tracking_uri=store) as handle:  # interval "rollout"
        runner.run()
    histories = metric_histories(store, handle.run_id)

    # on-policy agents log once per rollout (16); off-policy ones at skrl's write interval
    every = 16 if algorithm in ("A2C", "RPO") else 10
    assert handle.every == every
    assert EXPECTED_KEYS[algorithm] <= set(histories)
    assert {handle.tag_table[tag] for tag in recorder.tags} == set(histories)
    steps = {step for history in histories.values() for step, _ in history}
    assert steps == {*range(every, TIMESTEPS + 1, every), TIMESTEPS}  # last partial window
    if every == 10:  # same windows as TensorBoard: same values
        for tag in recorder.tags:
            logged = dict(histories[handle.tag_table[tag]])
            for step, window in recorder.reduced.items():
                if tag in window:
                    assert same_value(logged[step], window[tag]), (tag, step)
