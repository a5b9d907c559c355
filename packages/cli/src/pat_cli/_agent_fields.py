"""Check a skrl runner config's agent and trainer fields against the installed skrl's own.

skrl 1.x ignores a field it does not know (a ``timestep:`` typo trains with the default),
and a value of the wrong type fails deep inside the agent (``rollouts: thirtytwo`` ends in
"can only concatenate str (not "int") to str"). pat reads the field names and default values
of skrl's config for the agent class and the trainer (2.x dataclasses, 1.x default dicts),
so the error names the field, the value and what is accepted, before an env is built.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from typing import Any

from pat_cli._errors import bad_option

RUNNER_AGENT_FIELDS = frozenset(
    {
        "class",
        "rewards_shaper_scale",
        # older names skrl's Runner still accepts and renames (its compatibility check)
        "lambda",
        "clip_predicted_values",
        "shared_state_preprocessor",
        "shared_state_preprocessor_kwargs",
        "random_timesteps",
        "learning_starts",
    }
)
"""Agent fields skrl's Runner reads itself, beyond the agent config's own."""


def check_agent_fields(cfg: dict[str, Any], option: str, source: str) -> None:
    """Exit 2 naming the first unknown field or ill-typed value of ``agent`` / ``trainer``.

    Sections whose skrl config cannot be found (an agent class this skrl lacks) are left to
    skrl's Runner, which names the class itself.
    """
    where: dict[str, Any] = {"option": option, "source": source}
    agent = cfg["agent"]
    defaults = _agent_defaults(str(agent["class"]))
    if defaults is not None:
        _check("agent", given=agent, defaults=defaults, extra=RUNNER_AGENT_FIELDS, **where)
        experiment = agent.get("experiment")
        if isinstance(experiment, dict) and isinstance(defaults.get("experiment"), dict):
            _check("agent.experiment", given=experiment, defaults=defaults["experiment"], **where)
    trainer = cfg["trainer"]
    trainer_defaults = _trainer_defaults(str(trainer.get("class", "SequentialTrainer")))
    if trainer_defaults is not None:
        _check("trainer", given=trainer, defaults=trainer_defaults, extra={"class"}, **where)


def _check(
    section: str,
    *,
    given: dict[str, Any],
    defaults: dict[str, Any],
    extra: frozenset[str] | set[str] = frozenset(),
    option: str,
    source: str,
) -> None:
    known = set(defaults) | set(extra)
    for name, value in given.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.75)
            hint = f" Did you mean {section}.{close[0]}?" if close else ""
            bad_option(
                option,
                source,
                f"a skrl runner config; skrl has no field {section}.{name}.{hint}",
            )
        expected = _expected(defaults.get(name), value)
        if expected is not None:
            bad_option(
                option, source, f"{section}.{name} as {expected}; it is {value!r} ({_kind(value)})"
            )


def _expected(default: Any, value: Any) -> str | None:
    """What a value of this field must be, or ``None`` when ``value`` is acceptable."""
    if value is None or default is None or isinstance(default, str):
        return None  # optional fields, classes named by strings, "auto"
    if isinstance(default, bool):
        ok, what = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, what = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok = _number(value) or (isinstance(value, list | tuple) and all(map(_number, value)))
        what = "a number (YAML reads 1e-3 as text: write 1.0e-3)"
    elif isinstance(default, dict):
        ok, what = isinstance(value, dict | list | tuple), "a mapping"
    else:
        ok, what = True, ""
    return None if ok else what


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return {str: "text", bool: "true/false", int: "a whole number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _agent_defaults(agent_class: str) -> dict[str, Any] | None:
    lower, upper = agent_class.lower(), agent_class.upper()
    for package in ("skrl.agents.torch", "skrl.multi_agents.torch"):
        try:
            module = importlib.import_module(f"{package}.{lower}")
        except ImportError:
            continue
        for attr in (f"{upper}_CFG", f"{upper}_DEFAULT_CONFIG"):  # skrl 2.x, 1.x
            found = getattr(module, attr, None)
            if found is not None:
                return _as_defaults(found)
    return None


def _trainer_defaults(trainer_class: str) -> dict[str, Any] | None:
    lower = trainer_class.lower()
    try:
        trainers = importlib.import_module("skrl.trainers.torch")
    except ImportError:
        return None
    for attr in dir(trainers):  # skrl 2.x: SequentialTrainerCfg
        if attr.lower() == f"{lower}cfg":
            return _as_defaults(getattr(trainers, attr))
    short = lower.removesuffix("trainer")
    try:  # skrl 1.x: skrl.trainers.torch.sequential.SEQUENTIAL_TRAINER_DEFAULT_CONFIG
        module = importlib.import_module(f"skrl.trainers.torch.{short}")
    except ImportError:
        return None
    found = getattr(module, f"{short.upper()}_TRAINER_DEFAULT_CONFIG", None)
    return _as_defaults(found) if found is not None else None


def _as_defaults(config: Any) -> dict[str, Any]:
    """Field -> default value, from a skrl 2.x config dataclass or a 1.x default dict."""
    if isinstance(config, dict):
        return {name: _as_defaults(v) if _nested(v) else v for name, v in config.items()}
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value: Any = None
        if field.default is not dataclasses.MISSING:
            value = field.default
        elif field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
        out[field.name] = _as_defaults(value) if _nested(value) else value
    return out


def _nested(value: Any) -> bool:
    return (dataclasses.is_dataclass(value) and not isinstance(value, type)) or (
        isinstance(value, dict) and bool(value)
    )
