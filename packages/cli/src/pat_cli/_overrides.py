"""``KEY=VALUE`` overrides of ``pat train``, in the Hydra grammar Isaac Lab users know.

``agent.`` keys change skrl's runner config (``agent.agent.learning_rate=1e-4``,
``agent.trainer.timesteps=4800``); ``env.`` keys change the env: the ``gym.make`` keyword
arguments of a gymnasium task (``env.max_episode_steps=100``), the env config of an Isaac Lab
task (``env.scene.num_envs=512``). ``+key=value`` adds a key, ``~key`` deletes one. Hydra parses
the overrides (values typed as Hydra types them) and OmegaConf applies them in struct mode, so
an unknown key is an error naming the nearest valid keys, not a silent addition.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pat_cli._errors import bad_option

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

ROOTS = ("agent", "env")
NAME = "KEY=VALUE"
GRAMMAR = "key=value (Hydra's override grammar; +key=value adds a key, ~key deletes one)"


@dataclass(frozen=True)
class Override:
    """One parsed override: its root (``agent``/``env``), the key under it, and what to do."""

    text: str
    root: str
    key: str
    value: Any
    add: bool = False
    delete: bool = False


def parse(texts: Sequence[str]) -> list[Override]:
    """Parse with Hydra's own parser; exit 2 naming the first override it cannot read."""
    if not texts:
        return []
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    parsed = []
    for text in texts:
        try:
            (override,) = parser.parse_overrides([text])
        except (HydraException, ValueError) as error:
            bad_option(NAME, text, f"{GRAMMAR}: {_first_line(error)}")
        if override.package is not None or override.is_sweep_override():
            bad_option(NAME, text, f"{GRAMMAR}, one value (no @package, no sweeps)")
        root, _, key = override.key_or_group.partition(".")
        if root not in ROOTS or not key:
            bad_option(
                NAME,
                text,
                "a key under agent. (skrl's runner config: agent.agent.learning_rate=1e-4) or "
                "env. (the env: env.max_episode_steps=100, env.scene.num_envs=512)",
            )
        parsed.append(
            Override(
                text,
                root,
                key,
                None if override.is_delete() else override.value(),
                add=override.is_add(),
                delete=override.is_delete(),
            )
        )
    return parsed


def apply(config: Mapping[str, Any], overrides: Sequence[Override], root: str) -> dict[str, Any]:
    """``config`` with the overrides of ``root`` applied; unknown keys and type changes exit 2."""
    chosen = [o for o in overrides if o.root == root]
    if not chosen:
        return dict(config)
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    conf = OmegaConf.create(dict(config), flags={"allow_objects": True})
    OmegaConf.set_struct(conf, True)
    for override in chosen:
        known = _select(conf, override.key)
        if known is _MISSING and not override.add:
            _unknown(override, conf)
        if override.add and known is not _MISSING:
            bad_option(
                NAME, override.text, f"a key not in the config yet ({root}.{override.key} is)"
            )
        if not override.delete and known not in (_MISSING, None):
            _check_type(override, known)
        try:
            if override.delete:
                parent, _, leaf = override.key.rpartition(".")
                node = OmegaConf.select(conf, parent) if parent else conf
                with open_dict(node):
                    del node[leaf]
            else:
                OmegaConf.update(conf, override.key, override.value, force_add=override.add)
        except OmegaConfBaseException as error:
            bad_option(NAME, override.text, f"{GRAMMAR} ({_first_line(error)})")
    container = OmegaConf.to_container(conf, resolve=False)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}


def gym_env_keys(task_id: str) -> dict[str, Any]:
    """The ``gym.make`` keywords a gymnasium task takes, with their defaults (None: required).

    ``max_episode_steps`` and ``disable_env_checker`` (gymnasium's own), the env's registered
    kwargs and its class's constructor parameters.
    """
    import gymnasium as gym

    spec = gym.spec(task_id)
    keys: dict[str, Any] = {"max_episode_steps": spec.max_episode_steps}
    entry = spec.entry_point
    creator = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
    target: Any = creator.__init__ if inspect.isclass(creator) else creator
    for name, parameter in inspect.signature(target).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        keys[name] = None if parameter.default is parameter.empty else parameter.default
    keys.update(spec.kwargs)
    return keys


def gym_env_kwargs(task_id: str, overrides: Sequence[Override]) -> dict[str, Any]:
    """``env.`` overrides of a gymnasium task as ``gym.make`` keywords (checked against them)."""
    chosen = [o for o in overrides if o.root == "env"]
    if not chosen:
        return {}
    accepted = gym_env_keys(task_id)
    kwargs = apply(accepted, chosen, "env")
    return {k: v for k, v in kwargs.items() if k not in accepted or v != accepted[k]}


def isaac_num_envs(overrides: Sequence[Override]) -> int | None:
    """``env.scene.num_envs=N`` (Isaac Lab's spelling of ``--num-envs``), else None."""
    for override in overrides:
        if override.root == "env" and override.key == "scene.num_envs" and not override.delete:
            value = override.value
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                bad_option(NAME, override.text, "a positive whole number of envs")
            return value
    return None


def configure_env_cfg(overrides: Sequence[Override]) -> Any:
    """A ``configure`` hook that sets ``env.`` overrides on an Isaac Lab env config (attrs)."""
    chosen = [o for o in overrides if o.root == "env"]
    if not chosen:
        return None

    def configure(env_cfg: Any) -> None:
        for override in chosen:
            *path, leaf = override.key.split(".")
            node = env_cfg
            for part in path:
                if not hasattr(node, part):
                    _unknown_attr(override, node, part)
                node = getattr(node, part)
            if not hasattr(node, leaf) and not override.add:
                _unknown_attr(override, node, leaf)
            if override.delete:
                setattr(node, leaf, None)
                continue
            current = getattr(node, leaf, None)
            if current is not None:
                _check_type(override, current)
            setattr(node, leaf, override.value)

    return configure


_MISSING = object()


def _select(conf: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.select(conf, key, default=_MISSING, throw_on_missing=False)


def _check_type(override: Override, current: Any) -> None:
    """A number stays a number, a string a string, a bool a bool (what skrl and Isaac Lab read).

    An int and a float are both numbers: configs write ``episode_length_s = 5`` for a float
    field. skrl's own field types are checked again afterwards (``check_agent_fields``).
    """
    value = override.value
    numbers = (int, float)
    same = isinstance(value, bool) == isinstance(current, bool) and (
        (isinstance(current, numbers) and isinstance(value, numbers))
        or isinstance(value, type(current))
        or (isinstance(current, (list, tuple)) and isinstance(value, (list, tuple)))
    )
    if not same:
        bad_option(
            NAME,
            override.text,
            f"{_article(type(current).__name__)} for {override.root}.{override.key} "
            f"(it is {current!r}; got {type(value).__name__} {value!r})",
        )


def _unknown(override: Override, conf: Any) -> None:
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(conf, resolve=False)
    keys = list(_flat_keys(container)) if isinstance(container, dict) else []
    close = difflib.get_close_matches(override.key, keys, n=3, cutoff=0.5)
    near = (
        f"the closest: {', '.join(f'{override.root}.{k}' for k in close)}"
        if close
        else f"keys under {override.root}. include {', '.join(keys[:6])}"
    )
    bad_option(
        NAME,
        override.text,
        f"a key of the {override.root} config ({override.root}.{override.key} is none; +key=value "
        f"adds one); {near}",
    )


def _unknown_attr(override: Override, node: Any, name: str) -> None:
    fields = [f for f in dir(node) if not f.startswith("_") and not callable(getattr(node, f))]
    close = difflib.get_close_matches(name, fields, n=3, cutoff=0.5)
    hint = f"the closest: {', '.join(close)}" if close else f"it has {', '.join(fields[:8])}"
    bad_option(NAME, override.text, f"a field of the env config ({name!r} is none; {hint})")


def _flat_keys(tree: Mapping[Any, Any], prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        yield name
        if isinstance(value, dict):
            yield from _flat_keys(value, f"{name}.")


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
