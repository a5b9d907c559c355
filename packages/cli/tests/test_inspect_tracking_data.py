"""`pat inspect tracking-data`: a short rollout, no MLflow, one row per tracked tag."""

from __future__ import annotations

import json


def test_every_tracked_tag_with_key_reducer_count_last_and_filter(invoke, tmp_path):
    result = invoke(
        "inspect",
        "tracking-data",
        "--task",
        "CartPole-v1",
        "--timesteps",
        "80",
        "--num-envs",
        "4",
        "--metric-filter",
        "episode_reward_*",
        "--exclude",
        "*_min",
        "--json",
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["task"], payload["timesteps"], payload["num_envs"]) == ("CartPole-v1", 80, 4)
    tags = {row["tag"]: row for row in payload["tags"]}
    mean = tags["Reward / Total reward (mean)"]
    assert (mean["key"], mean["reducer"], mean["kept"]) == ("episode_reward_mean", "mean", True)
    assert mean["values"] >= 1
    assert mean["last"] >= 1.0  # a CartPole episode earns 1 per step
    low = tags["Reward / Total reward (min)"]
    assert (low["key"], low["reducer"], low["kept"]) == ("episode_reward_min", "min", False)
    assert tags["Reward / Instantaneous reward (max)"]["reducer"] == "max"
    # One value per trainer step for the per-step tags; one per update for the losses.
    assert tags["Stats / Env stepping time (ms)"]["values"] == 80
    assert tags["Loss / Policy loss"]["values"] == 80 // 32  # rollouts: 32
    assert tags["Episode_Metrics/pole_angle_abs"]["key"] == "Episode_Metrics/pole_angle_abs"
    assert not (tmp_path / "mlflow.db").exists()  # nothing written to a store
    assert not (tmp_path / "runs").exists()
