"""``pat train --print-config``: the resolved agent and env config, as YAML, nothing trained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pat_cli._console import console

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pat_cli._overrides import Override
    from pat_cli._setup import Prepared


def print_config(ready: Prepared, agent_cfg: dict[str, Any], overrides: Sequence[Override]) -> None:
    """Print ``{env: ..., agent: ...}`` with every override applied (YAML, plain text)."""
    import yaml  # type: ignore[import-untyped]

    document = {"env": env_config(ready, overrides), "agent": agent_cfg}
    console.out(yaml.safe_dump(_plain(document), sort_keys=False), end="", highlight=False)


def env_config(ready: Prepared, overrides: Sequence[Override]) -> dict[str, Any]:
    """The env as it will be created: ``gym.make`` keywords, or Isaac Lab's env config."""
    from pat_cli._overrides import configure_env_cfg, gym_env_keys, gym_env_kwargs

    header: dict[str, Any] = {"task": ready.choice.id, "num_envs": ready.num_envs}
    if ready.choice.kind == "gymnasium":
        return {
            **header,
            **gym_env_keys(ready.choice.id),
            **gym_env_kwargs(ready.choice.id, overrides),
        }
    from pat_env_metrics.kitless import resolve_env_cfg, resolve_task_id

    env_cfg = resolve_env_cfg(resolve_task_id(ready.choice.id))
    env_cfg.scene.num_envs = ready.num_envs
    configure = configure_env_cfg(overrides)
    if configure is not None:
        configure(env_cfg)
    as_dict = env_cfg.to_dict() if hasattr(env_cfg, "to_dict") else vars(env_cfg)
    return {**header, **as_dict}


def _plain(value: Any) -> Any:
    """YAML-safe: classes and functions by qualified name, other objects by ``repr``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', value)}"
    return repr(value)
