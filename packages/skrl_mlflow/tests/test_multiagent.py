"""IPPO and MAPPO on PettingZoo's simple_spread: per-agent names, drop-in wrapper with uid."""

from __future__ import annotations

import mlflow
import pytest
from skrl.envs.wrappers.torch import wrap_env

from pat_skrl_mlflow import create_mlflow_logging_wrapper, instrument
from skrl_mlflow_support import (
    SKRL2,
    TensorBoardRecorder,
    make_runner,
    metric_histories,
    runner_cfg,
    same_value,
)

pytestmark = [
    pytest.mark.skipif(not SKRL2, reason="multi-agent update(uid=...) is skrl 2.x"),
    pytest.mark.usefixtures("in_process_writes"),  # subject: capture, not the writer
]
simple_spread_v3 = pytest.importorskip("mpe2.simple_spread_v3")

TIMESTEPS = 64
_EMPTY_PER_AGENT = (
    "learning_rate_scheduler_kwargs",
    "observation_preprocessor_kwargs",
    "state_preprocessor_kwargs",
    "value_preprocessor_kwargs",
)


def _runner(tmp_path, algorithm):
    env = wrap_env(
        simple_spread_v3.parallel_env(N=2, max_cycles=25, continuous_actions=True),
        wrapper="pettingzoo",
    )
    cfg = runner_cfg(
        algorithm, directory=str(tmp_path / "runs"), timesteps=TIMESTEPS, write_interval=16
    )
    cfg["models"]["policy"]["clip_actions"] = True
    for name in _EMPTY_PER_AGENT:  # skrl's Runner needs these per agent (FACTS.md)
        cfg["agent"][name] = {uid: {} for uid in env.possible_agents}
    return make_runner(env, cfg)


@pytest.mark.parametrize("algorithm", ["IPPO", "MAPPO"])
def test_multi_agent_tags_get_per_agent_keys(tmp_path, store, algorithm):
    runner = _runner(tmp_path, algorithm)
    recorder = TensorBoardRecorder(runner.agent)
    with instrument(runner.agent, tracking_uri=store) as handle:
        runner.run()
    histories = metric_histories(store, handle.run_id)
    for uid in ("agent_0", "agent_1"):
        assert handle.tag_table[f"Loss / Policy loss ({uid})"] == f"{uid}/policy_loss"
        assert {f"{uid}/policy_loss", f"{uid}/value_loss", f"{uid}/policy_std"} <= set(histories)
    assert "episode_reward_mean" in histories
    assert {handle.tag_table[tag] for tag in recorder.tags} == set(histories)
    for tag in recorder.tags:  # interval "rollout" == 16 == skrl's write interval
        logged = dict(histories[handle.tag_table[tag]])
        expected = {s: w[tag] for s, w in recorder.reduced.items() if tag in w}
        assert sorted(logged) == sorted(expected)
        assert all(same_value(logged[s], v) for s, v in expected.items()), tag


def test_drop_in_wrapper_passes_uid_through(tmp_path, store):
    mlflow.set_tracking_uri(store)
    with mlflow.start_run() as run:
        runner = _runner(tmp_path, "IPPO")
        wrapper_func = create_mlflow_logging_wrapper(
            agent=runner.agent, mlflow_module=mlflow, metric_filter={"agent_0/policy_loss"}
        )
        runner.agent.update = wrapper_func  # IPPO calls update(timestep=, timesteps=, uid=)
        runner.run()
    histories = metric_histories(store, run.info.run_id)
    assert set(histories) == {"agent_0/policy_loss"}
    assert len(histories["agent_0/policy_loss"]) == TIMESTEPS // 16
