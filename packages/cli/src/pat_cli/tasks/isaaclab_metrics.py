"""Env-side metrics pat adds to Isaac Lab tasks (pat-env-metrics terms; imports Isaac Lab).

Isaac-Cartpole gets cart-pole specific terms; every other task gets the action terms, which
need no knowledge of the scene.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pat_env_metrics import MetricsTermCfg

CARTPOLE_TASKS = ("Isaac-Cartpole",)


def isaaclab_metrics(task_id: str) -> dict[str, MetricsTermCfg]:
    """The metrics terms for ``task_id`` (an Isaac Lab 3.0 id)."""
    from isaaclab.managers import SceneEntityCfg

    from pat_env_metrics import MetricsTermCfg
    from pat_env_metrics.isaaclab import mdp

    metrics = {
        "action_l2": MetricsTermCfg(func=mdp.action_l2),
        "action_rate_l2": MetricsTermCfg(func=mdp.action_rate_l2),
    }
    if task_id in CARTPOLE_TASKS:
        metrics |= {
            "pole_angle_abs": MetricsTermCfg(
                func=mdp.joint_pos_l1,
                params={"asset_cfg": SceneEntityCfg("robot", joint_names=["cart_to_pole"])},
            ),
            "cart_position_abs_max": MetricsTermCfg(
                func=mdp.joint_pos_l1,
                params={"asset_cfg": SceneEntityCfg("robot", joint_names=["slider_to_cart"])},
                reduce="max",
            ),
        }
    return metrics
