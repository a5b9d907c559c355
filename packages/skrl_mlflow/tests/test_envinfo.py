"""Environment log values count once per refresh; custom values of every shape."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from pat_skrl_mlflow import SkippedMetricWarning, instrument
from skrl_mlflow_support import (
    SKRL2,
    RefreshingLog,
    group_by_window,
    make_runner,
    metric_histories,
    runner_cfg,
    vector_env,
)

pytestmark = pytest.mark.usefixtures("in_process_writes")  # subject: capture, not the writer

TIMESTEPS = 100


def _env_tag(name: str) -> str:
    return name if SKRL2 else f"Info / {name}"  # skrl 1.x always prefixes "Info / "


def test_env_log_is_counted_once_per_refresh(tmp_path, store):
    wrappers: list[RefreshingLog] = []

    def refreshing(env):
        wrappers.append(RefreshingLog(env))
        return wrappers[-1]

    env = vector_env("Pendulum-v1", num_envs=4, wrappers=(refreshing,), max_episode_steps=30)
    cfg = runner_cfg(
        "PPO",
        directory=str(tmp_path / "runs"),
        timesteps=TIMESTEPS,
        write_interval=10,
        environment_info="log",
    )
    runner = make_runner(env, cfg)
    with instrument(runner.agent, interval=10, tracking_uri=store) as handle:
        runner.run()
    histories = metric_histories(store, handle.run_id)
    refreshes = wrappers[0].refreshes
    assert [step for step, _ in refreshes] == [29, 59, 89]  # episodes end every 30 steps

    for name in ("Episode_Reward/return", "Episode_Metrics/length"):
        key = handle.tag_table[_env_tag(name)]
        # trainer step of the env step with index i is i + 1 (skrl's TensorBoard numbering)
        expected = group_by_window([(i + 1, values[name]) for i, values in refreshes], 10)
        logged = dict(histories[key])
        assert sorted(logged) == sorted(expected) == [30, 60, 90]  # absent without a refresh
        for step, values in expected.items():
            assert math.isclose(logged[step], float(np.mean(values)), rel_tol=1e-6)
    summary = handle.summary()
    assert summary.env_refreshes == len(refreshes)
    # skrl copied the stale dict on every other step; those copies were left out
    assert summary.env_stale_values == 2 * (TIMESTEPS - 29 - len(refreshes))


def test_tensor_nested_and_non_numeric_values(tmp_path, store):
    env = vector_env("Pendulum-v1", num_envs=4, max_episode_steps=30)
    # TensorBoard off: skrl's own writer cannot reduce dicts or strings
    cfg = runner_cfg("PPO", directory=str(tmp_path / "runs"), timesteps=20, write_interval=0)
    runner = make_runner(env, cfg)
    agent = runner.agent
    handle = instrument(agent, interval=10, tracking_uri=store, flatten_depth=2)
    with handle, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.track_data("Custom / vector", torch.arange(4.0))
        agent.track_data("Custom / vector", np.array([10.0, 20.0]))
        agent.track_data("Custom / one", torch.tensor([2.5]))
        agent.track_data("Custom / nested", {"a": 1.0, "b": {"c": 2.0, "d": {"e": 3.0}}})
        agent.track_data("Custom / text", "hello")
        agent.track_data("Custom / text", "again")
        runner.run()
    histories = metric_histories(store, handle.run_id)
    values = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 20.0])
    first = {key: dict(history).get(10) for key, history in histories.items()}
    assert first["Custom/vector/mean"] == pytest.approx(values.mean())
    assert first["Custom/vector/std"] == pytest.approx(values.std())
    assert first["Custom/vector/min"] == 0.0
    assert first["Custom/vector/max"] == 20.0
    assert first["Custom/one"] == 2.5
    assert first["Custom/nested/a"] == 1.0
    assert first["Custom/nested/b/c"] == 2.0
    assert not any(key.startswith("Custom/text") or key.endswith("/e") for key in histories)
    skipped = handle.summary().skipped_tags
    assert set(skipped) == {"Custom / text", "Custom / nested/b/d"}
    # one warning per tag, however often the value comes
    texts = [str(w.message) for w in caught if issubclass(w.category, SkippedMetricWarning)]
    assert sum("Custom / text" in t for t in texts) == 1
    # with TensorBoard off skrl never clears tracking_data: pat keeps only the latest value
    assert all(len(v) <= 1 for v in agent.tracking_data.values())
