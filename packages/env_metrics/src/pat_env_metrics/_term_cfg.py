"""The configuration of one metrics term, and the checks the manager runs on it."""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable, Sequence  # noqa: TC003 - dataclass field types stay resolvable
from dataclasses import dataclass, field
from typing import Any

import pat_core

REDUCE_OPTIONS: tuple[str, ...] = pat_core.EPISODE_REDUCES
"""How the steps of one episode become one value (``MetricsTermCfg.reduce``)."""

EPISODE_STATS: tuple[str, ...] = (*pat_core.EPISODE_STATS, "p50", "p90")
"""Common ``MetricsTermCfg.episode_stats`` names; any percentile works (``p95``, ``p99.9``:
pat-core's grammar, :func:`pat_core.percentile_q`)."""


@dataclass(kw_only=True)
class MetricsTermCfg:
    """Configuration of one metric term.

    The term is evaluated once per environment step (or once per physics substep, see
    :attr:`per_substep`); the steps of each episode are reduced to one value per episode,
    and the episodes that end on one step are summarised as ``Episode_Metrics/<name>``
    (plus ``Episode_Metrics/<name>/<stat>`` for the other :attr:`episode_stats`).
    """

    func: Callable[..., Any] | type | str
    """The term: ``func(env, **params) -> Tensor[num_envs]`` (the reward-term signature).

    A class is instantiated once as ``func(cfg=<this cfg>, env=env)`` and its instance is
    called like a function; its ``reset(env_ids)`` method, if any, is called on resets.
    A ``"module:attribute"`` string is imported. No weight and no ``dt`` scaling are applied.
    """

    params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments passed to :attr:`func` on every call; checked against its signature."""

    reduce: str = "mean"
    """How the steps of an episode become one value: ``mean`` (per-step average, default),
    ``sum``, ``min``, ``max``, ``last`` (the terminal step's value) or ``std`` (population)."""

    per_substep: bool = False
    """Evaluate inside the physics decimation loop; the step's value is the mean over its substeps.

    When the integration calls no substep hook in a step (gymnasium envs, or physics that folds
    the decimation loop into one call), the term is evaluated once per step instead.
    """

    episode_stats: Sequence[str] = ("mean",)
    """How the episodes that end on one step become logged values.

    ``mean`` is logged as ``<prefix>/<name>``; every other statistic (``std`` (population),
    ``min``, ``max``, percentiles ``p50``, ``p90`` or any ``pNN``, ``p99.9``) as
    ``<prefix>/<name>/<stat>``.
    """


def resolve_func(name: str, func: Callable[..., Any] | type | str) -> Callable[..., Any] | type:
    """Import a ``"module:attribute"`` string and check that the term is callable."""
    if isinstance(func, str):
        module_name, _, attribute = func.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as error:
            msg = f"Metrics term '{name}': cannot import func {func!r} ('module:attribute')"
            raise TypeError(msg) from error
    if not callable(func):
        msg = f"Metrics term '{name}': func must be callable, got {type(func).__name__}"
        raise TypeError(msg)
    return func


def check_reduce(name: str, reduce: str) -> str:
    """Return the normalised reduce option, or raise ``ValueError`` naming the valid ones."""
    normalised = reduce.strip().lower() if isinstance(reduce, str) else reduce
    if normalised not in REDUCE_OPTIONS:
        msg = (
            f"Metrics term '{name}': unknown reduce {reduce!r}; "
            f"expected one of {', '.join(REDUCE_OPTIONS)}"
        )
        raise ValueError(msg)
    return normalised


def check_episode_stats(name: str, stats: Sequence[str] | str) -> tuple[str, ...]:
    """Return the normalised episode statistics (deduplicated, in order) or raise ``ValueError``."""
    if isinstance(stats, str):
        stats = (stats,)
    result: list[str] = []
    for stat in stats:
        normalised = stat.strip().lower() if isinstance(stat, str) else stat
        if not isinstance(normalised, str) or not _is_stat(normalised):
            msg = (
                f"Metrics term '{name}': unknown episode_stats entry {stat!r}; "
                f"expected some of {', '.join(EPISODE_STATS)} or any percentile p0..p100 "
                "(decimals allowed: p99.9)"
            )
            raise ValueError(msg)
        if normalised not in result:
            result.append(normalised)
    if not result:
        msg = (
            f"Metrics term '{name}': episode_stats is empty; expected at least one, e.g. ('mean',)"
        )
        raise ValueError(msg)
    return tuple(result)


def _is_stat(stat: str) -> bool:
    return stat in EPISODE_STATS or pat_core.percentile_q(stat) is not None


def bind_params(name: str, func: Callable[..., Any] | type, params: dict[str, Any]) -> None:
    """Check ``params`` against the term's signature and fill in omitted defaults, in place.

    The first parameter receives the env (after ``self`` for class terms); every other
    parameter without a default must be in ``params``, and ``params`` may name nothing else
    unless the function takes ``**kwargs``. Defaults are copied into ``params`` the way Isaac
    Lab does, so a default ``SceneEntityCfg`` is resolved per term.

    Raises:
        TypeError: When the signature does not take an env argument or does not match ``params``.
    """
    target = func.__call__ if inspect.isclass(func) else func
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without signatures: cannot check, trust the user
        return
    parameters = list(signature.parameters.values())
    if inspect.isclass(func):
        parameters = parameters[1:]  # self
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not parameters or parameters[0].kind not in (*positional, inspect.Parameter.VAR_POSITIONAL):
        msg = f"Metrics term '{name}': {_name(func)} must take the env as its first argument"
        raise TypeError(msg)
    rest = parameters[1:] if parameters[0].kind in positional else parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in rest)
    named = [p for p in rest if p.kind not in _VARIADIC]
    required = [p.name for p in named if p.default is inspect.Parameter.empty]
    optional = [p.name for p in named if p.default is not inspect.Parameter.empty]
    missing = [p for p in required if p not in params]
    unexpected = [] if takes_kwargs else [p for p in params if p not in required + optional]
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if unexpected:
            problems.append(f"unexpected {unexpected}")
        msg = (
            f"Metrics term '{name}': params do not match {_name(func)}: {'; '.join(problems)}. "
            f"It takes required {required} and optional {optional}; got {sorted(params)}"
        )
        raise TypeError(msg)
    for p in named:
        if p.name not in params and p.default is not inspect.Parameter.empty:
            params[p.name] = _copy_default(p.default)


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _copy_default(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # an uncopyable default is shared, as Python would share it
        return value


def _name(func: Callable[..., Any] | type) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
