"""Ready metric terms for any Isaac Lab articulation, named ``<quantity>_<kernel>``.

Each returns a tensor of shape ``(num_envs,)`` and reads only device tensors. They work
with Isaac Lab 3.0 (warp-backed data, read through ``.torch``) and 2.x (torch data).

Example:
    >>> from isaaclab.managers import SceneEntityCfg
    >>> from pat_env_metrics import MetricsTermCfg
    >>> from pat_env_metrics.isaaclab import mdp
    >>> metrics = {
    ...     "joint_vel": MetricsTermCfg(func=mdp.joint_vel_l1),
    ...     "pole_angle": MetricsTermCfg(
    ...         func=mdp.joint_pos_l1,
    ...         params={"asset_cfg": SceneEntityCfg("robot", joint_names=["cart_to_pole"])},
    ...     ),
    ...     "timed_out": MetricsTermCfg(
    ...         func=mdp.termination_active, params={"term_name": "time_out"}, reduce="last"
    ...     ),
    ... }
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from isaaclab.managers import SceneEntityCfg

if TYPE_CHECKING:
    from isaaclab.envs import ManagerBasedRLEnv

__all__ = [
    "action_l2",
    "action_rate_l2",
    "applied_torque_l2",
    "joint_acc_l2",
    "joint_pos_l1",
    "joint_vel_l1",
    "joint_vel_l2",
    "mechanical_power_l1",
    "termination_active",
]

_ROBOT = SceneEntityCfg("robot")
"""Default selection: every joint of the scene entity ``robot`` (copied per term)."""


def joint_pos_l1(env: ManagerBasedRLEnv, asset_cfg: SceneEntityCfg = _ROBOT) -> torch.Tensor:
    """Sum of absolute joint positions of the selected joints [rad or m]."""
    asset = env.scene[asset_cfg.name]
    return torch.sum(torch.abs(_torch(asset.data.joint_pos)[:, asset_cfg.joint_ids]), dim=1)


def joint_vel_l1(env: ManagerBasedRLEnv, asset_cfg: SceneEntityCfg = _ROBOT) -> torch.Tensor:
    """Sum of absolute joint velocities of the selected joints [rad/s or m/s]."""
    asset = env.scene[asset_cfg.name]
    return torch.sum(torch.abs(_torch(asset.data.joint_vel)[:, asset_cfg.joint_ids]), dim=1)


def joint_vel_l2(env: ManagerBasedRLEnv, asset_cfg: SceneEntityCfg = _ROBOT) -> torch.Tensor:
    """Sum of squared joint velocities of the selected joints."""
    asset = env.scene[asset_cfg.name]
    return torch.sum(torch.square(_torch(asset.data.joint_vel)[:, asset_cfg.joint_ids]), dim=1)


def joint_acc_l2(env: ManagerBasedRLEnv, asset_cfg: SceneEntityCfg = _ROBOT) -> torch.Tensor:
    """Sum of squared joint accelerations of the selected joints."""
    asset = env.scene[asset_cfg.name]
    return torch.sum(torch.square(_torch(asset.data.joint_acc)[:, asset_cfg.joint_ids]), dim=1)


def applied_torque_l2(env: ManagerBasedRLEnv, asset_cfg: SceneEntityCfg = _ROBOT) -> torch.Tensor:
    """Sum of squared applied (post-clipping) joint efforts of the selected joints."""
    asset = env.scene[asset_cfg.name]
    return torch.sum(torch.square(_applied_effort(asset)[:, asset_cfg.joint_ids]), dim=1)


def mechanical_power_l1(env: ManagerBasedRLEnv, asset_cfg: SceneEntityCfg = _ROBOT) -> torch.Tensor:
    """Sum of absolute mechanical power ``|effort * joint velocity|`` of the selected joints [W]."""
    asset = env.scene[asset_cfg.name]
    effort = _applied_effort(asset)[:, asset_cfg.joint_ids]
    return torch.sum(
        torch.abs(effort * _torch(asset.data.joint_vel)[:, asset_cfg.joint_ids]), dim=1
    )


def action_l2(env: ManagerBasedRLEnv) -> torch.Tensor:
    """Sum of squared actions of the step."""
    return torch.sum(torch.square(env.action_manager.action), dim=1)


def action_rate_l2(env: ManagerBasedRLEnv) -> torch.Tensor:
    """Sum of squared differences between this step's and the previous step's actions."""
    return torch.sum(
        torch.square(env.action_manager.action - env.action_manager.prev_action), dim=1
    )


def termination_active(env: ManagerBasedRLEnv, term_name: str) -> torch.Tensor:
    """1.0 where the termination term ``term_name`` fired this step, else 0.0.

    With ``reduce="last"`` this is the per-episode outcome, e.g. a success rate from a
    ``time_out`` (survived) or a goal-reached termination term.
    """
    fired: torch.Tensor = env.termination_manager.get_term(term_name)
    return fired.to(torch.float32)


def _torch(data: Any) -> torch.Tensor:
    """A torch view of Isaac Lab data: 3.0 wraps warp arrays (``.torch``), 2.x has tensors."""
    tensor: torch.Tensor = data if isinstance(data, torch.Tensor) else data.torch
    return tensor


def _applied_effort(asset: Any) -> torch.Tensor:
    effort = getattr(getattr(asset, "actuators", None), "applied_effort", None)
    return _torch(effort if effort is not None else asset.data.applied_torque)
