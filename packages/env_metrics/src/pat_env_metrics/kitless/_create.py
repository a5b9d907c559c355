"""Create an Isaac Lab 3.0 task without Isaac Sim: config, assets, Kit check, launch."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from pat_env_metrics.kitless._assets import (
    choose_asset_source,
    remote_asset_paths,
    server_of,
    substitute_assets,
)
from pat_env_metrics.kitless._errors import OfflineAssetError
from pat_env_metrics.kitless._isaaclab import (
    asset_root,
    import_isaaclab,
    require_no_kit,
    resolve_env_cfg,
    resolve_task_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import gymnasium

__all__ = ["make_isaaclab_env"]

logger = logging.getLogger("pat_env_metrics.kitless")


def _apply_assets(task: str, env_cfg: Any) -> None:
    source = choose_asset_source(url for _, _, url in remote_asset_paths(env_cfg))
    if source.kind != "packaged":
        logger.info("Isaac Lab assets for %s: as configured (%s)", task, source.reason)
        return
    replaced, missing = substitute_assets(env_cfg, asset_root(), source)
    if missing:
        raise OfflineAssetError(task, missing[0], server_of(missing[0]))
    logger.info(
        "Isaac Lab assets for %s: packaged equivalents, because %s: %s",
        task,
        source.reason,
        "; ".join(replaced) or "none needed",
    )


def make_isaaclab_env(
    task: str,
    *,
    num_envs: int,
    device: str = "cpu",
    seed: int | None = None,
    configure: Callable[[Any], None] | None = None,
) -> gymnasium.Env[Any, Any]:
    """Create an Isaac Lab 3.0 task kitless (no Isaac Sim) and return the gymnasium env.

    The task's registered config is resolved the way Isaac Lab's own scripts do (presets
    applied, its default physics: Newton / MuJoCo-Warp for the core tasks), its assets are
    resolved (see :mod:`pat_env_metrics.kitless._assets`), and the env is created inside
    ``isaaclab.app.launch_simulation``, which starts nothing for a kitless config. The
    caller closes the env; closing it also ends the launch context.

    Args:
        task: A 3.0 task id (``Isaac-Cartpole``) or a 2.x one (``Isaac-Cartpole-v0``).
        num_envs: Number of parallel environments.
        device: Simulation device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        seed: Seed of the env's random generators; the config's default when ``None``.
        configure: Called with the env config last, before the env is created, to change
            or add to it (e.g. a metrics config).

    Returns:
        The env as ``gymnasium.make`` returns it, wrapped so that ``close()`` also ends the
        launch context. ``env.unwrapped`` is Isaac Lab's env.

    Raises:
        IsaacLabNotInstalledError: Isaac Lab or a package of its runtime is missing.
        IsaacLabVersionError: Isaac Lab 2.x is installed (it needs Isaac Sim).
        UnknownTaskError: No task with this id (close matches in the message).
        KitRequiredError: The task needs Isaac Sim / Kit, which is not installed.
        OfflineAssetError: An asset it needs is unreachable and has no packaged stand-in.
        TaskDependencyError: The task's config imports a package that is not installed.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be a positive whole number, got {num_envs}")
    task_id = resolve_task_id(task)
    env_cfg = resolve_env_cfg(task_id)
    env_cfg.sim.device = device
    env_cfg.scene.num_envs = num_envs
    if seed is not None:
        env_cfg.seed = seed
    require_no_kit(task_id, env_cfg)
    _apply_assets(task_id, env_cfg)
    if configure is not None:
        configure(env_cfg)
        require_no_kit(task_id, env_cfg)  # what configure added (a camera?) may need Kit

    gym = import_isaaclab("gymnasium")
    launcher = import_isaaclab("isaaclab.app.sim_launcher")
    stack = contextlib.ExitStack()
    stack.enter_context(launcher.launch_simulation(env_cfg, {}))
    try:
        env = gym.make(task_id, cfg=env_cfg)
    except BaseException:
        stack.close()
        raise
    launched: gymnasium.Env[Any, Any] = _closing_wrapper(gym)(env, stack)
    return launched


def _closing_wrapper(gym: Any) -> Any:
    class LaunchedEnv(gym.Wrapper):  # type: ignore[misc]  # gym is the lazily imported module
        """An Isaac Lab env whose ``close()`` also ends its ``launch_simulation`` context."""

        def __init__(self, env: Any, stack: contextlib.ExitStack) -> None:
            super().__init__(env)
            self._pat_launch = stack

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._pat_launch.close()

    return LaunchedEnv
