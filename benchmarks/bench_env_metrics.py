"""Benchmark 3: env-metrics cost per env step (``MetricsManager.compute`` + ``reset``).

Two comparisons, each interleaved per sample:

- synthetic: 8 terms over an env-like object's tensors vs an empty config
  (``NullMetricsManager``), 1,024 and 4,096 envs on the CPU;
- Isaac Lab: on a real kitless Isaac-Cartpole env, pat's manager and Isaac Lab's own
  ``RewardManager`` built with the *same* 8 Isaac Lab term functions, and the env step itself.

Each step also resets the envs whose (300-step) episodes end, as Isaac-Cartpole does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from _common import Row, interleave, median, result

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

NAME = "env_metrics"
TITLE = "3. Env-metrics cost per env step"
EPISODE_STEPS = 300  # Isaac-Cartpole: 5 s episodes, 2 x 1/120 s per step


@dataclass
class _FakeEnv:
    num_envs: int
    device: str
    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    actions: torch.Tensor
    prev_actions: torch.Tensor


def _synthetic_terms() -> dict[str, Any]:
    import torch

    from pat_env_metrics import MetricsTermCfg

    def l1(name: str) -> Callable[[Any], torch.Tensor]:
        return lambda env: torch.sum(torch.abs(getattr(env, name)), dim=1)

    def l2(name: str) -> Callable[[Any], torch.Tensor]:
        return lambda env: torch.sum(torch.square(getattr(env, name)), dim=1)

    def rate(env: Any) -> torch.Tensor:
        return torch.sum(torch.square(env.actions - env.prev_actions), dim=1)

    specs = [
        ("joint_pos_l1", l1("joint_pos"), "mean", ("mean",)),
        ("joint_pos_l2", l2("joint_pos"), "max", ("mean",)),
        ("joint_vel_l1", l1("joint_vel"), "mean", ("mean", "p90")),
        ("joint_vel_l2", l2("joint_vel"), "std", ("mean",)),
        ("action_l1", l1("actions"), "sum", ("mean",)),
        ("action_l2", l2("actions"), "mean", ("mean", "std")),
        ("action_rate_l2", rate, "last", ("mean",)),
        ("joint_vel_max", l1("joint_vel"), "min", ("mean", "max")),
    ]
    return {
        name: MetricsTermCfg(func=func, reduce=reduce, episode_stats=stats)
        for name, func, reduce, stats in specs
    }


def _stepper(
    manager: Any, num_envs: int, steps: int, *, resets: bool = True
) -> Callable[[], float]:
    """Seconds per step of ``steps`` x (compute + reset of the envs whose episode ends)."""
    import torch

    per_step = max(1, num_envs // EPISODE_STEPS)
    batches = [
        torch.arange(start, start + per_step) % num_envs
        for start in range(0, per_step * EPISODE_STEPS, per_step)
    ]

    device = getattr(manager, "device", "cpu")
    batches = [batch.to(device) for batch in batches]
    synchronize = torch.cuda.synchronize if str(device).startswith("cuda") else lambda: None

    def measure() -> float:
        synchronize()
        start = time.perf_counter()
        for step in range(steps):
            manager.compute()
            if resets:
                manager.reset(batches[step % len(batches)])
        synchronize()  # GPU work is queued: wait for it before reading the clock
        return (time.perf_counter() - start) / steps

    return measure


def _no_host_sync(manager: Any) -> str:
    from pat_env_metrics.testing import forbid_host_sync

    with forbid_host_sync():
        for _ in range(10):
            manager.compute()
    return "10 x compute() inside forbid_host_sync(): no host sync"


def _synthetic(
    num_envs: int, steps: int, repeats: int, device: str = "cpu"
) -> tuple[list[Row], str]:
    import torch

    from pat_env_metrics import MetricsManager, NullMetricsManager

    generator = torch.Generator().manual_seed(0)
    env = _FakeEnv(
        num_envs,
        device,
        *(torch.randn(num_envs, size, generator=generator).to(device) for size in (2, 2, 1, 1)),
    )
    manager = MetricsManager(_synthetic_terms(), env)
    samples = interleave(
        {
            "pat": _stepper(manager, num_envs, steps),
            "null": _stepper(NullMetricsManager(), num_envs, steps),
        },
        repeats,
    )
    sync = _no_host_sync(manager)
    row = Row(
        f"8 terms, {num_envs:,} envs ({'CPU' if device == 'cpu' else 'GPU'}): "
        "compute + reset, per step",
        median(samples["pat"]),
        "empty config (NullMetricsManager)",
        median(samples["null"]),
        "s",
        samples=samples["pat"],
        baseline_samples=samples["null"],
        note=sync,
    )
    return [row], sync


def _isaac_terms() -> tuple[dict[str, Any], dict[str, Any]]:
    from isaaclab.envs import mdp
    from isaaclab.managers import RewardTermCfg, SceneEntityCfg

    from pat_env_metrics import MetricsTermCfg

    robot = SceneEntityCfg("robot")
    funcs = {
        "joint_vel_l1": (mdp.joint_vel_l1, {"asset_cfg": robot}),
        "joint_vel_l2": (mdp.joint_vel_l2, {"asset_cfg": robot}),
        "joint_acc_l2": (mdp.joint_acc_l2, {"asset_cfg": robot}),
        "joint_torques_l2": (mdp.joint_torques_l2, {"asset_cfg": robot}),
        "joint_deviation_l1": (mdp.joint_deviation_l1, {"asset_cfg": robot}),
        "joint_pos_limits": (mdp.joint_pos_limits, {"asset_cfg": robot}),
        "action_l2": (mdp.action_l2, {}),
        "action_rate_l2": (mdp.action_rate_l2, {}),
    }
    rewards = {n: RewardTermCfg(func=f, params=dict(p), weight=-0.1) for n, (f, p) in funcs.items()}
    metrics = {n: MetricsTermCfg(func=f, params=dict(p)) for n, (f, p) in funcs.items()}
    return rewards, metrics


def _isaac(num_envs: int, steps: int, repeats: int) -> list[Row]:
    import torch
    from isaaclab.managers import RewardManager

    from pat_env_metrics import MetricsManager
    from pat_env_metrics.isaaclab import SceneEntityResolver
    from pat_env_metrics.kitless import make_isaaclab_env

    env = make_isaaclab_env("Isaac-Cartpole", num_envs=num_envs, device="cpu", seed=0)
    try:
        base = env.unwrapped
        env.reset()
        actions = torch.zeros(num_envs, *env.action_space.shape[1:])
        for _ in range(5):
            env.step(actions)
        rewards, metrics = _isaac_terms()
        reward_manager = RewardManager(rewards, base)
        manager = MetricsManager(metrics, base, param_resolver=SceneEntityResolver(base))
        dt = base.step_dt

        class _Rewards:  # the same call pattern as the metrics manager
            def compute(self) -> None:
                reward_manager.compute(dt)

            def reset(self, env_ids: Any) -> None:
                reward_manager.reset(env_ids)

        def env_step() -> float:
            start = time.perf_counter()
            for _ in range(max(1, steps // 10)):
                env.step(torch.rand_like(actions) * 2 - 1)
            return (time.perf_counter() - start) / max(1, steps // 10)

        samples = interleave(
            {
                "pat": _stepper(manager, num_envs, steps),
                "reward": _stepper(_Rewards(), num_envs, steps),
                "step": env_step,
                "pat_compute": _stepper(manager, num_envs, steps, resets=False),
                "reward_compute": _stepper(_Rewards(), num_envs, steps, resets=False),
            },
            repeats,
        )
        sync = _no_host_sync(manager)
    finally:
        env.close()
    pat, reward, step = (median(samples[k]) for k in ("pat", "reward", "step"))
    label = f"Isaac-Cartpole, 8 terms, {num_envs:,} envs (CPU): compute + reset, per step"
    return [
        Row(
            label,
            pat,
            "Isaac Lab RewardManager, same 8 term functions",
            reward,
            "s",
            goal="ratio <= 1",
            met=pat <= reward,
            samples=samples["pat"],
            baseline_samples=samples["reward"],
            note=sync,
        ),
        Row(
            label.replace("compute + reset", "compute only"),
            median(samples["pat_compute"]),
            "RewardManager.compute(dt) only",
            median(samples["reward_compute"]),
            "s",
            samples=samples["pat_compute"],
            baseline_samples=samples["reward_compute"],
            note="where the gap is: compute vs reset",
        ),
        Row(
            label,
            pat,
            "the env step (random actions)",
            step,
            "s",
            samples=samples["pat"],
            baseline_samples=samples["step"],
        ),
    ]


def run(quick: bool) -> dict[str, Any]:
    """Synthetic at 1,024 and 4,096 envs; Isaac Lab at 1,024 (and 4,096 in full mode)."""
    import torch

    torch.set_num_threads(1)
    steps = 100 if quick else 1000
    repeats = 5
    rows: list[Row] = []
    for num_envs in (1024, 4096):
        new, _ = _synthetic(num_envs, steps, repeats)
        rows += new
    gpu = torch.cuda.is_available()
    for num_envs in (1024, 4096) if gpu else ():
        new, _ = _synthetic(num_envs, steps, repeats, "cuda")
        rows += new
    notes = [
        f"{steps} steps per sample, each step `compute()` then `reset(ids)` of num_envs/"
        f"{EPISODE_STEPS} envs (Isaac-Cartpole's 300-step episodes); interleaved, median of "
        f"{repeats} after one discarded round; one torch thread.",
        "Synthetic terms: L1/L2 norms of [num_envs, 2] / [num_envs, 1] tensors with the "
        "reductions mean, max, std, sum, last, min and episode stats mean/p90/std/max.",
        "Host syncs: `compute()` ran inside `pat_env_metrics.testing.forbid_host_sync()` "
        "without error. `reset()` synchronises once per call by design (to decide which keys "
        "to report), as Isaac Lab's own managers do on reset.",
        f"GPU ({torch.cuda.get_device_name()}): the synthetic rows again on `cuda`, timed "
        "between `torch.cuda.synchronize()` calls; the Isaac Lab rows stay CPU-only."
        if gpu
        else "GPU rows: not run (no CUDA device here); they run where `torch.cuda` finds one.",
    ]
    from pat_env_metrics.kitless import isaaclab_available

    if isaaclab_available():
        for num_envs in (1024,) if quick else (1024, 4096):
            rows += _isaac(num_envs, steps, repeats)
        notes.append(
            "Isaac Lab: one kitless Isaac-Cartpole env (Newton, CPU); a `RewardManager` and a "
            "`MetricsManager` built on it with the same 8 `isaaclab.envs.mdp` functions "
            "(joint_vel_l1/l2, joint_acc_l2, joint_torques_l2, joint_deviation_l1, "
            "joint_pos_limits, action_l2, action_rate_l2), called the way the env calls them "
            "(RewardManager.compute(dt) + reset(ids)); pat's manager is not attached to the "
            "env, so the env-step row is the bare step."
        )
    else:
        notes.append("Isaac Lab comparison: not run (Isaac Lab is not installed).")
    return result(
        NAME,
        TITLE,
        rows,
        quick=quick,
        sizes={"steps_per_sample": steps, "repeats": repeats},
        notes=notes,
    )
