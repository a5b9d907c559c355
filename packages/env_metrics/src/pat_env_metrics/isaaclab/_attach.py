"""Attach a metrics manager to an Isaac Lab manager-based RL env, without subclassing it."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from pat_env_metrics._manager import MetricsManager, make_metrics_manager
from pat_env_metrics._null import NullMetricsManager

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pat_env_metrics._term_cfg import MetricsTermCfg

logger = logging.getLogger(__name__)

_REQUIRED = ("cfg", "scene", "extras", "reward_manager", "_reset_idx", "num_envs", "device")


class SceneEntityResolver:
    """Resolves ``SceneEntityCfg`` params like Isaac Lab's own managers do.

    ``resolve`` turns joint/body names into indices against ``env.scene`` (nested dicts,
    lists and tuples included); ``finalize`` then moves the index lists to the env's device,
    once every term is constructed, as Isaac Lab 3.0 does (a no-op on 2.x).
    """

    def __init__(self, env: Any) -> None:
        self._env = env
        self._resolved: list[Any] = []

    def resolve(self, term_name: str, params: dict[str, Any]) -> None:
        """Resolve every ``SceneEntityCfg`` in ``params``, in place."""
        from isaaclab.managers import SceneEntityCfg

        def walk(path: str, value: Any) -> Any:
            if isinstance(value, SceneEntityCfg):
                try:
                    value.resolve(self._env.scene)
                except ValueError as error:
                    msg = f"Metrics term '{term_name}': parameter '{path}': {error}"
                    raise ValueError(msg) from error
                self._resolved.append(value)
            elif isinstance(value, dict):
                for key, item in value.items():
                    value[key] = walk(f"{path}.{key}", item)
            elif isinstance(value, list):
                value[:] = [walk(f"{path}[{i}]", item) for i, item in enumerate(value)]
            elif isinstance(value, tuple):
                return tuple(walk(f"{path}[{i}]", item) for i, item in enumerate(value))
            return value

        for key, value in params.items():
            params[key] = walk(key, value)

    def finalize(self) -> None:
        """Move resolved index selections to the env's device (Isaac Lab 3.0 and later)."""
        for entity in self._resolved:
            finalize = getattr(entity, "finalize", None)
            if finalize is not None:
                finalize(self._env.device)


def attach_metrics(
    env: Any,
    metrics: Mapping[str, MetricsTermCfg] | None = None,
    *,
    prefix: str = "Episode_Metrics",
) -> MetricsManager | NullMetricsManager:
    """Give an Isaac Lab manager-based RL env a metrics manager, as ``env.metrics_manager``.

    Terms are evaluated once per env step right after the reward manager (so after
    terminations and before resets: a terminal step sees the pre-reset state), per-substep
    terms after each physics substep's scene update, and the reset envs' episode values are
    merged into ``env.extras["log"]`` at the end of ``_reset_idx``. Isaac Lab is not
    modified: the hooks are attributes of this env instance only. With no terms nothing is
    hooked and stepping costs exactly what it did.

    Args:
        env: A ``ManagerBasedRLEnv`` (gymnasium wrappers around it are looked through).
        metrics: Term name to term configuration; ``None`` reads ``env.cfg.metrics``.
        prefix: Key prefix of the logged values.

    Returns:
        The manager (also stored as ``env.unwrapped.metrics_manager``).

    Raises:
        TypeError: When ``env`` is not a manager-based RL env.
        RuntimeError: When the env already has a metrics manager with terms.
    """
    base = getattr(env, "unwrapped", env)
    missing = [name for name in _REQUIRED if not hasattr(base, name)]
    if missing:
        msg = (
            f"attach_metrics needs an Isaac Lab ManagerBasedRLEnv; {type(base).__name__} "
            f"lacks {missing}"
        )
        raise TypeError(msg)
    if isinstance(
        getattr(base, "metrics_manager", None), MetricsManager
    ):  # a null one hooks nothing
        msg = f"{type(base).__name__} already has a metrics manager"
        raise RuntimeError(msg)
    if metrics is None:
        metrics = getattr(base.cfg, "metrics", None)
    manager = make_metrics_manager(
        metrics, base, prefix=prefix, param_resolver=SceneEntityResolver(base)
    )
    base.metrics_manager = manager
    if isinstance(manager, NullMetricsManager):
        return manager
    logger.info("Metrics Manager: %s", manager)
    _hook_after(base.reward_manager, "compute", lambda *_, **__: manager.compute())
    if manager.per_substep_terms:
        _hook_after(base.scene, "update", lambda *_, **__: manager.compute_substep())
        if getattr(base, "_physics_handles_decimation", False):
            warnings.warn(
                "The physics backend runs the whole decimation loop in one call, so per-substep "
                f"metrics terms {manager.per_substep_terms} are evaluated once per env step.",
                stacklevel=2,
            )

    def merge_log(*args: Any, **kwargs: Any) -> None:
        log = manager.reset(args[0] if args else kwargs.get("env_ids"))
        if log:
            base.extras.setdefault("log", {}).update(log)

    _hook_after(base, "_reset_idx", merge_log)
    return manager


def _hook_after(owner: Any, name: str, after: Callable[..., None]) -> None:
    """Shadow ``owner.name`` with an instance attribute that calls ``after`` with its arguments."""
    original = getattr(owner, name)

    def hooked(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        after(*args, **kwargs)
        return result

    hooked.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, name, hooked)
