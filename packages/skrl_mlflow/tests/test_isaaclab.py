"""Isaac-Cartpole, kitless on the CPU: Episode_Reward/* once per refresh (``-m isaaclab``).

Uses pat-env-metrics' kitless task creation when it is installed (not a dependency).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from skrl.envs.wrappers.torch import wrap_env

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import (
    SKRL2,
    TensorBoardRecorder,
    group_by_window,
    make_runner,
    metric_histories,
)

pytestmark = [
    pytest.mark.isaaclab,
    pytest.mark.skipif(not SKRL2, reason="Isaac Lab 3.0 is used with skrl 2.x"),
    pytest.mark.usefixtures("in_process_writes"),  # subject: capture, not the writer
]
kitless = pytest.importorskip("pat_env_metrics.kitless")
if not kitless.isaaclab_available():
    pytest.skip("Isaac Lab is not installed", allow_module_level=True)

TIMESTEPS = 640
EVERY = 32


class ResetLog:
    """Records Isaac Lab's episode log on the steps where environments reset.

    Independent of pat's rule (a new dict object): it looks at the done flags.
    """

    def __init__(self, env):
        self.env = env
        self.refreshes: list[tuple[int, dict[str, float]]] = []
        self._step = 0
        original = env.step

        def step(actions):
            observations, rewards, terminated, truncated, infos = original(actions)
            if bool((terminated | truncated).any()):
                log = infos["log"]
                self.refreshes.append(
                    (
                        self._step,
                        {k: float(v) for k, v in log.items() if k.startswith("Episode_Reward/")},
                    )
                )
            self._step += 1
            return observations, rewards, terminated, truncated, infos

        env.step = step


def test_isaac_cartpole_episode_rewards_once_per_refresh(tmp_path, store, monkeypatch):
    monkeypatch.setenv("PAT_OFFLINE_ASSETS", "1")
    env = kitless.make_isaaclab_env("Isaac-Cartpole", num_envs=64, seed=1)
    try:
        cfg = kitless.load_agent_cfg("Isaac-Cartpole", "skrl")
        cfg["trainer"].update(
            timesteps=TIMESTEPS, close_environment_at_exit=False, disable_progressbar=True
        )
        cfg["agent"]["experiment"].update(
            directory=str(tmp_path / "runs"), write_interval=EVERY, checkpoint_interval=0
        )
        wrapped = wrap_env(env, wrapper="isaaclab")
        resets = ResetLog(wrapped)
        runner = make_runner(wrapped, cfg)
        recorder = TensorBoardRecorder(runner.agent)
        with instrument(
            runner.agent, interval=EVERY, tracking_uri=store, task="Isaac-Cartpole"
        ) as handle:
            runner.run()
    finally:
        env.close()
    assert cfg["trainer"]["environment_info"] == "log"
    histories = metric_histories(store, handle.run_id)
    names = {name for _, values in resets.refreshes for name in values}
    assert names  # Episode_Reward/alive, .../terminating, ...
    differs = 0
    for name in names:
        key = handle.tag_table[name]
        events = [(i + 1, values[name]) for i, values in resets.refreshes]
        expected = group_by_window(events, EVERY)
        logged = dict(histories[key])
        assert sorted(logged) == sorted(expected)  # absent in windows without a reset
        for step, values in expected.items():
            assert math.isclose(logged[step], float(np.mean(values)), rel_tol=1e-5, abs_tol=1e-6)
            tensorboard = recorder.reduced.get(step, {}).get(name)
            differs += tensorboard is not None and not math.isclose(
                tensorboard, logged[step], rel_tol=1e-5
            )
    # skrl's own TensorBoard numbers are the time-weighted re-counts pat avoids
    assert differs > 0
    assert "episode_reward_mean" in histories
