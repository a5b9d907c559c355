"""Isaac Lab integration on Isaac-Cartpole, kitless on the CPU (run with ``-m isaaclab``)."""

# Isaac Lab is imported inside the tests: collecting this module must work without it.

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from pat_env_metrics import MetricsTermCfg, NullMetricsManager
from pat_env_metrics.isaaclab import attach_metrics
from pat_env_metrics.kitless import isaaclab_available, make_isaaclab_env

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [
    pytest.mark.isaaclab,
    pytest.mark.skipif(not isaaclab_available(), reason="Isaac Lab is not installed"),
]

NUM_ENVS = 16
STEPS = 90
COUNTERS: list[substep_counter] = []


class substep_counter:  # noqa: N801 - stateful terms are lowercase callable classes
    """Counts its calls, to show where in the step loop per-substep terms run."""

    def __init__(self, cfg: MetricsTermCfg, env: Any) -> None:
        self.calls = 0
        self.zeros = torch.zeros(env.num_envs, device=env.device)
        COUNTERS.append(self)

    def __call__(self, env: Any) -> torch.Tensor:
        self.calls += 1
        return self.zeros


def cartpole_metrics() -> dict[str, MetricsTermCfg]:
    from isaaclab.managers import SceneEntityCfg

    from pat_env_metrics.isaaclab import mdp

    pole = SceneEntityCfg("robot", joint_names=["cart_to_pole"])
    cart = SceneEntityCfg("robot", joint_names=["slider_to_cart"])
    return {
        "pole_angle_abs": MetricsTermCfg(
            func=mdp.joint_pos_l1, params={"asset_cfg": pole}, episode_stats=("mean", "max")
        ),
        "cart_pos_abs_max": MetricsTermCfg(
            func=mdp.joint_pos_l1, params={"asset_cfg": cart}, reduce="max"
        ),
        "success": MetricsTermCfg(
            func=mdp.termination_active, params={"term_name": "time_out"}, reduce="last"
        ),
        # the same quantity as the task's cart_vel reward term (weight -0.01)
        "cart_vel_sum": MetricsTermCfg(
            func=mdp.joint_vel_l1, params={"asset_cfg": cart}, reduce="sum"
        ),
        "joint_vel": MetricsTermCfg(func=mdp.joint_vel_l1),
        "action_rate": MetricsTermCfg(func=mdp.action_rate_l2),
        "torque": MetricsTermCfg(func=mdp.applied_torque_l2),
        "substeps": MetricsTermCfg(func=substep_counter, per_substep=True),
    }


def short_episodes(env_cfg: Any) -> None:
    env_cfg.episode_length_s = 0.5  # 30 steps: time-outs and cart-out-of-bounds both happen
    env_cfg.compute_final_obs = True  # the pre-reset state of every env, for the brute force


@pytest.fixture
def cartpole() -> Iterator[Any]:
    """Isaac-Cartpole with the metrics cfg; one Isaac Lab env may exist per process at a time."""
    from pat_env_metrics.isaaclab import make_env

    COUNTERS.clear()
    env = make_env(
        "Isaac-Cartpole",
        num_envs=NUM_ENVS,
        seed=7,
        metrics=cartpole_metrics(),
        configure=short_episodes,
    )
    yield env
    env.close()


def test_episode_metrics_in_extras_log_equal_brute_force_from_the_sim(cartpole: Any) -> None:
    base = cartpole.unwrapped
    # the hooks live on this env instance only; Isaac Lab's classes are untouched
    assert "_reset_idx" in vars(base)
    assert "compute" in vars(base.reward_manager)
    assert "update" in vars(base.scene)
    assert base.metrics_manager.active_terms[0] == "pole_angle_abs"
    assert "pole_angle_abs" in str(base.metrics_manager)
    with pytest.raises(RuntimeError, match="already has a metrics manager"):
        attach_metrics(cartpole)
    robot = base.scene["robot"]
    pole, cart = (robot.joint_names.index(n) for n in ("cart_to_pole", "slider_to_cart"))
    assert torch.all(robot.data.default_joint_pos.torch == 0)  # obs joint_pos_rel == joint_pos

    _, extras = cartpole.reset()
    assert not [k for k in extras["log"] if k.startswith("Episode_Metrics/")]  # zero-step episodes

    generator = torch.Generator().manual_seed(0)
    theta: list[list[float]] = [[] for _ in range(NUM_ENVS)]
    x: list[list[float]] = [[] for _ in range(NUM_ENVS)]
    reset_steps = 0
    for _ in range(STEPS):
        actions = torch.randn(NUM_ENVS, 1, generator=generator) * 2.0
        obs, _, terminated, truncated, extras = cartpole.step(actions)
        done = terminated | truncated
        # the state the terms saw: before the resets of this step
        state = extras["final_obs"]["policy"] if done.any() else obs["policy"]
        if not done.any():  # nothing was reset: the observation is the sim's current state
            torch.testing.assert_close(state[:, :2], robot.data.joint_pos.torch[:, :2])
        for i in range(NUM_ENVS):
            theta[i].append(abs(state[i, pole].item()))
            x[i].append(abs(state[i, cart].item()))
        if not done.any():
            continue
        reset_steps += 1
        log = extras["log"]
        ids = done.nonzero().squeeze(-1).tolist()
        episode_theta = np.array([np.mean(theta[i]) for i in ids])
        for key, expected in {
            "pole_angle_abs": episode_theta.mean(),
            "pole_angle_abs/max": episode_theta.max(),
            "cart_pos_abs_max": np.mean([max(x[i]) for i in ids]),
            "success": truncated[ids].float().mean().item(),
        }.items():
            value = log[f"Episode_Metrics/{key}"]
            assert value.dim() == 0
            assert value.dtype == torch.float32
            assert value.item() == pytest.approx(expected, rel=1e-4, abs=1e-5), key
        # Isaac Lab's own reward manager agrees: Episode_Reward/cart_vel = -0.01 sum(|v|) dt / T
        from_rewards = -log["Episode_Reward/cart_vel"].item() * base.max_episode_length_s
        cart_vel_sum = log["Episode_Metrics/cart_vel_sum"].item()
        assert from_rewards / (0.01 * base.step_dt) == pytest.approx(cart_vel_sum, rel=1e-4)
        for key in ("joint_vel", "action_rate", "torque"):
            assert math.isfinite(log[f"Episode_Metrics/{key}"].item())
        for i in ids:
            theta[i], x[i] = [], []
    assert reset_steps >= 3

    # per-substep terms run inside the decimation loop (after each scene update)
    assert log["Episode_Metrics/substeps"].item() == 0.0
    substeps_per_step = 1 if base._physics_handles_decimation else base.cfg.decimation
    assert COUNTERS[0].calls == 1 + STEPS * substeps_per_step  # 1: the probe at construction


def test_empty_metrics_attach_nothing() -> None:
    from pat_env_metrics.isaaclab import make_env

    env = make_env("Isaac-Cartpole", num_envs=2)
    try:
        base = env.unwrapped
        assert isinstance(base.metrics_manager, NullMetricsManager)
        # provably no work per step: Isaac Lab's own methods run, unwrapped
        assert "_reset_idx" not in vars(base)
        assert "compute" not in vars(base.reward_manager)
        assert "update" not in vars(base.scene)
        _, extras = env.reset()
        env.step(torch.zeros(2, 1))
        assert not [k for k in extras["log"] if k.startswith("Episode_Metrics/")]
        # a null manager hooks nothing, so metrics can still be attached later
        attach_metrics(env, {"success": cartpole_metrics()["success"]})
        assert base.metrics_manager.active_terms == ["success"]
    finally:
        env.close()


def test_bad_scene_entity_fails_at_creation_naming_the_term() -> None:
    from isaaclab.managers import SceneEntityCfg

    from pat_env_metrics.isaaclab import make_env, mdp

    metrics = {
        "vel": MetricsTermCfg(func=mdp.joint_vel_l1, params={"asset_cfg": SceneEntityCfg("robbot")})
    }
    with pytest.raises(ValueError, match=r"Metrics term 'vel': parameter 'asset_cfg'.*robbot"):
        make_env("Isaac-Cartpole", num_envs=2, metrics=metrics)


def test_task_registered_with_the_metrics_env_class() -> None:
    import isaaclab_tasks  # noqa: F401 - registers Isaac Lab's tasks with gymnasium

    task = "Isaac-Cartpole-PatMetrics"
    if task not in gym.registry:
        spec = gym.registry["Isaac-Cartpole"]
        gym.register(
            id=task,
            entry_point="pat_env_metrics.isaaclab:ManagerBasedRLEnvWithMetrics",
            disable_env_checker=True,
            kwargs=dict(spec.kwargs),
        )

    def configure(env_cfg: Any) -> None:
        env_cfg.metrics = {"success": cartpole_metrics()["success"]}
        env_cfg.episode_length_s = 0.1  # 6 steps
        # Isaac Lab's Hydra path round-trips the cfg through dicts: callables become strings
        env_cfg.from_dict({"metrics": env_cfg.to_dict()["metrics"]})
        assert env_cfg.metrics["success"].func == "pat_env_metrics.isaaclab.mdp:termination_active"

    env = make_isaaclab_env(task, num_envs=2, configure=configure)
    try:
        env.reset()
        for _ in range(6):
            *_, truncated, extras = env.step(torch.zeros(2, 1))
        assert truncated.all()
        assert extras["log"]["Episode_Metrics/success"].item() == 1.0
    finally:
        env.close()
