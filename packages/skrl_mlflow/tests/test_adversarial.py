"""Regressions from the adversarial pass (issue 15): produced vs stored, on real stores.

Each test reproduces one way metrics were lost or a secret was printed, counts what the
agent produced against what the store holds, and fails on the code before the fix.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import SKRL2, make_runner, metric_histories, runner_cfg, vector_env

TIMESTEPS = 60
INTERVAL = 6  # 10 windows


def _runner(tmp_path):  # type: ignore[no-untyped-def]
    if SKRL2:
        env = vector_env("CartPole-v1", num_envs=2)
    else:
        env = vector_env("Pendulum-v1", num_envs=2, max_episode_steps=20)
    cfg = runner_cfg(
        "PPO",
        directory=str(tmp_path / "runs"),
        timesteps=TIMESTEPS,
        write_interval=0,
        discrete=SKRL2,
    )
    return make_runner(env, cfg)


def _track_every_step(agent, values_at):  # type: ignore[no-untyped-def]
    """Track ``values_at(timestep)`` (tag -> value) after every interaction."""
    original = agent.post_interaction

    def post_interaction(*, timestep: int, timesteps: int) -> None:
        for tag, value in values_at(timestep).items():
            agent.track_data(tag, value)
        original(timestep=timestep, timesteps=timesteps)

    agent.post_interaction = post_interaction


UNREDUCIBLE = {
    "int beyond float range": lambda: 10**400,
    "meta tensor": lambda: torch.empty(3, device="meta"),
    "sparse tensor": lambda: torch.eye(3).to_sparse(),
}


@pytest.mark.parametrize("kind", list(UNREDUCIBLE))
def test_one_unreducible_value_skips_only_itself(tmp_path, store, kind):
    """Item 1: the bad value is skipped and reported once; every window is stored."""
    runner = _runner(tmp_path)
    bad = UNREDUCIBLE[kind]

    def values_at(timestep: int) -> dict[str, object]:
        values: dict[str, object] = {"Probe / good": float(timestep)}
        if timestep == 3:  # once, in the first window
            values["Probe / bad"] = bad()
            values["Probe / good"] = bad()  # a good tag's window holds one bad value too
        return values

    _track_every_step(runner.agent, values_at)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with instrument(runner.agent, interval=INTERVAL, tracking_uri=store, log_config=False) as h:
            runner.run()
    summary = h.summary()
    histories = metric_histories(store, h.run_id)
    windows = TIMESTEPS // INTERVAL
    assert summary.windows == windows
    assert len(histories["Probe/good"]) == windows  # the first window's good values too
    first = dict(histories["Probe/good"])[INTERVAL]
    assert first == pytest.approx(sum(t for t in range(INTERVAL) if t != 3) / (INTERVAL - 1))
    assert len(histories["policy_loss"]) >= 1
    assert "Probe/bad" not in histories
    assert set(summary.skipped_tags) == {"Probe / bad", "Probe / good"}
    skipped = [w for w in caught if "cannot be reduced" in str(w.message)]
    assert len(skipped) == 2  # once per tag
    assert "skipped" in str(summary)


def test_ragged_nested_lists_are_flattened(tmp_path, store):
    """Item 13: the docs say nested lists are flattened; ragged ones were skipped."""
    runner = _runner(tmp_path)
    _track_every_step(runner.agent, lambda t: {"Probe / ragged": [[1.0, 2.0], [3.0, [float(t)]]]})
    with instrument(runner.agent, interval=INTERVAL, tracking_uri=store, log_config=False) as h:
        runner.run()
    histories = metric_histories(store, h.run_id)
    assert h.summary().skipped_tags == {}
    maxima = dict(histories["Probe/ragged/max"])
    assert maxima[INTERVAL] == 5.0  # the largest t of the first window
    assert len(maxima) == TIMESTEPS // INTERVAL
