"""compute() and compute_substep() never read a tensor on the host (no host-device sync)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from pat_env_metrics import REDUCE_OPTIONS, MetricsManager, MetricsTermCfg
from pat_env_metrics.testing import HostSyncError, forbid_host_sync


@dataclass
class TensorEnv:
    num_envs: int = 64
    device: str = "cpu"
    joint_vel: torch.Tensor = field(default_factory=lambda: torch.randn(64, 12))


def joint_vel_l1(env: TensorEnv, joint_ids: slice = slice(None)) -> torch.Tensor:
    return torch.sum(torch.abs(env.joint_vel[:, joint_ids]), dim=1)


def over_limit(env: TensorEnv, limit: float) -> torch.Tensor:
    return (env.joint_vel.abs() > limit).any(dim=1)


def syncing_term(env: TensorEnv) -> torch.Tensor:
    if env.joint_vel.sum() > 0:  # Python branching on a tensor value: a sync
        return env.joint_vel[:, 0]
    return -env.joint_vel[:, 0]


def metrics_cfg() -> dict[str, MetricsTermCfg]:
    cfg = {
        f"vel_{reduce}": MetricsTermCfg(
            func=joint_vel_l1, reduce=reduce, episode_stats=("mean", "p90")
        )
        for reduce in REDUCE_OPTIONS
    }
    cfg["vel_substep"] = MetricsTermCfg(func=joint_vel_l1, per_substep=True, reduce="max")
    cfg["over_limit"] = MetricsTermCfg(func=over_limit, params={"limit": 2.0}, reduce="last")
    return cfg


def test_compute_and_compute_substep_do_not_sync() -> None:
    env = TensorEnv()
    manager = MetricsManager(metrics_cfg(), env)
    mask = torch.rand(env.num_envs) > 0.2
    with forbid_host_sync():
        for step in range(5):
            env.joint_vel = torch.randn(64, 12)
            for _ in range(4):
                manager.compute_substep()
            manager.compute(mask if step % 2 else None)
    log = manager.reset(torch.arange(0, 64, 3, dtype=torch.int32))  # reset may sync, once
    assert set(log) >= {"Episode_Metrics/vel_mean", "Episode_Metrics/vel_std/p90"}
    assert all(np.isfinite(v.item()) for v in log.values())


def test_the_guard_catches_a_term_that_syncs() -> None:
    env = TensorEnv()
    manager = MetricsManager({"bad": MetricsTermCfg(func=syncing_term)}, env)  # probing may sync
    with forbid_host_sync(), pytest.raises(HostSyncError, match="__bool__"):
        manager.compute()


@pytest.mark.parametrize(
    "read",
    [
        lambda t: t.item(),
        lambda t: t.tolist(),
        lambda t: t.cpu(),
        lambda t: t.numpy(),
        float,
        int,
        bool,
        np.asarray,
        lambda t: torch.nonzero(t),  # noqa: PLW0108 - look torch.nonzero up when called
        lambda t: t.nonzero(),
        lambda t: [0, 1][t],
    ],
)
def test_the_guard_covers_every_host_read_and_restores_torch(read) -> None:
    t = torch.tensor(1)
    with forbid_host_sync(), pytest.raises(HostSyncError):
        read(t)
    read(t)  # outside the block the tensor is an ordinary tensor again
    assert t.item() == 1
