"""Create a kitless Isaac Lab task with its metrics manager attached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pat_env_metrics.isaaclab._attach import attach_metrics

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pat_env_metrics._term_cfg import MetricsTermCfg


def make_env(
    task: str,
    *,
    num_envs: int,
    device: str = "cpu",
    seed: int | None = None,
    metrics: Mapping[str, MetricsTermCfg] | None = None,
    configure: Callable[[Any], None] | None = None,
) -> Any:
    """Create an Isaac Lab task kitless and attach a metrics manager to it.

    Args:
        task: Task id, e.g. ``"Isaac-Cartpole"``.
        num_envs: Number of parallel envs.
        device: Simulation device.
        seed: Environment seed.
        metrics: Term name to term configuration, stored as ``env_cfg.metrics``; ``None``
            keeps whatever the task's (or ``configure``'s) ``env_cfg.metrics`` holds.
        configure: Called with the env cfg before creation, before ``metrics`` is applied.

    Returns:
        The gymnasium env; its metrics manager is ``env.unwrapped.metrics_manager``.
    """
    from pat_env_metrics.kitless import make_isaaclab_env

    def _configure(env_cfg: Any) -> None:
        if configure is not None:
            configure(env_cfg)
        if metrics is not None:
            env_cfg.metrics = dict(metrics)

    env = make_isaaclab_env(task, num_envs=num_envs, device=device, seed=seed, configure=_configure)
    try:
        attach_metrics(env)
    except BaseException:
        env.close()
        raise
    return env
