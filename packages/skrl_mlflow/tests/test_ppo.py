"""PPO on vectorized CartPole-v1 (Pendulum-v1 on skrl 1.x): the store holds what skrl tracked."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import (
    SKRL2,
    STD_TAG,
    TensorBoardRecorder,
    make_runner,
    measured_tags,
    metric_histories,
    runner_cfg,
    same_value,
    vector_env,
)

pytestmark = pytest.mark.usefixtures("in_process_writes")  # subject: capture, not the writer

TIMESTEPS = 160


def _train(tmp_path, store, interval, *, write_interval, **options):
    if SKRL2:
        env = vector_env("CartPole-v1", num_envs=4)
    else:  # skrl 1.x cannot step discrete vector envs (FACTS.md): continuous Pendulum
        env = vector_env("Pendulum-v1", num_envs=4, max_episode_steps=20)
    cfg = runner_cfg(
        "PPO",
        directory=str(tmp_path / "runs"),
        timesteps=TIMESTEPS,
        write_interval=write_interval,
        discrete=SKRL2,
    )
    runner = make_runner(env, cfg)
    recorder = TensorBoardRecorder(runner.agent)
    with instrument(runner.agent, interval=interval, tracking_uri=store, **options) as handle:
        runner.run()
    return runner, recorder, handle, metric_histories(store, handle.run_id)


@pytest.mark.parametrize(("interval", "every"), [("rollout", 16), (10, 10)])
def test_every_tag_reaches_the_store_reduced_like_tensorboard(tmp_path, store, interval, every):
    _runner, recorder, handle, histories = _train(tmp_path, store, interval, write_interval=every)

    # every tag skrl tracked that measures something is logged under its key (no filter here)
    tags = measured_tags(recorder, discrete=SKRL2)
    assert tags
    assert tags <= set(handle.tag_table)
    assert {handle.tag_table[tag] for tag in tags} == set(histories)
    assert "episode_reward_mean" in histories
    assert "policy_loss" in histories

    # values equal skrl's own TensorBoard reduction of the same stream, on the same steps
    for tag in tags:
        key = handle.tag_table[tag]
        expected = {s: w[tag] for s, w in recorder.reduced.items() if tag in w}
        logged = dict(histories[key])
        assert sorted(logged) == sorted(expected), key
        for step, value in expected.items():
            assert same_value(logged[step], value), (key, step)

    # steps are exactly the multiples of the interval reached by the run
    steps = {step for history in histories.values() for step, _ in history}
    assert steps == set(range(every, TIMESTEPS + 1, every))
    assert len(histories["episode_reward_mean"]) == sum(
        "Reward / Total reward (mean)" in w for w in recorder.windows.values()
    )
    summary = handle.summary()
    assert summary.points_logged == sum(len(h) for h in histories.values())
    assert summary.points_rejected == summary.points_dropped == summary.points_failed == 0


def test_interval_is_independent_of_skrl_write_interval(tmp_path, store):
    # skrl writes TensorBoard every 7 steps (and clears its lists); pat logs every 20
    _, recorder, _handle, histories = _train(tmp_path, store, 20, write_interval=7)
    steps = {step for history in histories.values() for step, _ in history}
    assert steps == set(range(20, TIMESTEPS + 1, 20))
    # each value counted once: per-step tags have one value per timestep in each window
    tag = "Reward / Instantaneous reward (mean)"
    raw = [v for w in recorder.windows.values() for v in w.get(tag, [])]
    assert len(raw) == (TIMESTEPS // 7) * 7  # skrl's windows that were written
    logged = dict(histories["instantaneous_reward_mean"])
    assert sorted(logged) == list(range(20, TIMESTEPS + 1, 20))
    # pat's window of step 20 holds steps 1..20: skrl's first two windows and part of its third
    first = recorder.windows[7][tag] + recorder.windows[14][tag] + recorder.windows[21][tag][:6]
    assert same_value(logged[20], float(np.mean(first)))


def test_filters_and_extra_reducers(tmp_path, store):
    _, recorder, handle, histories = _train(
        tmp_path,
        store,
        16,
        write_interval=16,
        include=["episode_reward_mean", "policy_loss", "Loss / Value loss", "grad_norm"],
        exclude=["value_loss"],
        extra_reducers={"episode_reward_*": ["std", "p90"]},
    )
    assert set(histories) == {
        "episode_reward_mean",
        "episode_reward_mean/std",
        "episode_reward_mean/p90",
        "policy_loss",
    }
    tag = "Reward / Total reward (mean)"
    for step, values in ((s, w[tag]) for s, w in recorder.windows.items() if tag in w):
        logged = {key: dict(histories[key])[step] for key in histories if key.startswith("episode")}
        assert math.isclose(logged["episode_reward_mean/std"], np.std(values), abs_tol=1e-6)
        # pNN come from pat-core's quantile sketch: within 1% of numpy's "lower" quantile
        exact = np.quantile(values, 0.9, method="lower")
        assert math.isclose(logged["episode_reward_mean/p90"], exact, rel_tol=0.01)
    summary = handle.summary()
    # every tag is accounted for: logged or filtered
    logged_tags = {t for t, k in summary.tag_table.items() if k in histories}
    assert logged_tags | set(summary.filtered_tags) == measured_tags(recorder, discrete=SKRL2)
    assert summary.points_filtered > 0
    assert [u.pattern for u in summary.unmatched] == ["grad_norm"]


@pytest.mark.skipif(not SKRL2, reason="skrl 1.x cannot step discrete vector envs (FACTS.md)")
def test_a_categorical_policy_logs_no_standard_deviation(tmp_path, store):
    """skrl tracks a NaN policy std for CartPole's categorical policy: it was logged each window."""
    _, recorder, handle, histories = _train(tmp_path, store, 16, write_interval=16)
    tracked = [v for w in recorder.reduced.values() for t, v in w.items() if t == STD_TAG]
    assert tracked
    assert all(math.isnan(v) for v in tracked)  # what skrl tracks: a statistic that isn't there
    assert "policy_std" not in histories
    assert STD_TAG not in handle.tag_table
    assert "policy_loss" in histories
