"""MetricsManager: evaluates metric terms every step and reduces them per episode."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from pat_core import EpisodeStack, EpisodeStats

from ._null import NullMetricsManager
from ._table import render_table
from ._term_cfg import (
    MetricsTermCfg,
    bind_params,
    check_episode_stats,
    check_reduce,
    resolve_func,
)

EnvIds = torch.Tensor | Sequence[int] | slice | None
"""Which envs to reset: indices (tensor or sequence), a bool mask tensor, a slice, or ``None``."""


class ParamResolver(Protocol):
    """Resolves framework objects in term params (e.g. Isaac Lab's ``SceneEntityCfg``)."""

    def resolve(self, term_name: str, params: dict[str, Any]) -> None:
        """Resolve the params of one term in place, before class terms are instantiated."""

    def finalize(self) -> None:
        """Called once after every term is constructed, before any term is evaluated."""


@dataclass(eq=False)
class _Term:
    name: str
    cfg: MetricsTermCfg
    call: Callable[..., Any]
    reduce: str
    stat_names: tuple[str, ...]
    reset: Callable[[Any], Any] | None
    per_substep: bool


class MetricsManager:
    """Evaluates metric terms every env step and logs per-episode reductions on reset.

    Call :meth:`compute_substep` after each physics substep (only per-substep terms are
    evaluated), :meth:`compute` once per env step after rewards and before resets (the
    terminal step still sees the pre-reset state), and :meth:`reset` with the envs being
    reset: it returns ``{"<prefix>/<name>[/<stat>]": 0-dim float32 tensor}`` summarising the
    episodes that ended, and nothing for envs whose episode has no counted step.

    ``compute`` and ``compute_substep`` never copy device memory to the host; ``reset``
    synchronises once (to decide which keys to report).

    Args:
        cfg: Term name to term configuration; a term set to ``None`` is turned off (as a
            derived mjlab/Isaac Lab config does with ``cfg.metrics["x"] = None``).
        env: The object passed to every term as its first argument; it must have
            ``num_envs`` and ``device`` attributes.
        prefix: Key prefix of the logged values.
        param_resolver: Resolves framework objects in term params (Isaac Lab's
            ``SceneEntityCfg``); ``None`` leaves params as they are.
        probe: Evaluate every term once now to check its output shape and device. Turn off
            when the env cannot be read before its first step; the shape is checked on every
            evaluation anyway.

    Raises:
        ValueError: Unknown ``reduce``/``episode_stats``; a term output of the wrong shape.
        TypeError: A term that is not callable or whose signature does not match its params.
    """

    def __init__(
        self,
        cfg: Mapping[str, MetricsTermCfg | None],
        env: Any,
        *,
        prefix: str = "Episode_Metrics",
        param_resolver: ParamResolver | None = None,
        probe: bool = True,
    ) -> None:
        self.cfg: dict[str, MetricsTermCfg] = {
            name: term for name, term in copy.deepcopy(dict(cfg)).items() if term is not None
        }
        self.prefix = prefix
        self.num_envs = int(env.num_envs)
        self.device = torch.device(env.device)
        self._env = env
        self._shape = (self.num_envs,)
        self._substepped = False  # compute_substep ran since the last compute
        self._substeps_cut = False  # ... and a reset cleared some envs' substeps meanwhile
        prepared = [
            self._prepare(name, term_cfg, param_resolver) for name, term_cfg in self.cfg.items()
        ]
        for term, term_cfg in prepared:
            if inspect.isclass(term_cfg.func):
                term_class: Any = term_cfg.func
                instance = term_class(cfg=term_cfg, env=env)
                term.call = instance
                term.reset = getattr(instance, "reset", None)
        if param_resolver is not None:
            param_resolver.finalize()
        self._terms = [term for term, _ in prepared]
        # Each step, every term writes its values into its row of one stacked buffer, and all
        # episodes are updated from it with a few batched ops (see EpisodeStack).
        self._stack = EpisodeStack([t.reduce for t in self._terms], self.num_envs, self.device)
        rows = list(zip(self._terms, self._stack.step_rows, strict=True))
        self._step_terms = [(t, row) for t, row in rows if not t.per_substep]
        self._substep_terms = [t for t in self._terms if t.per_substep]
        # Substep sums are float32, as before the stack: the substep mean is rounded the same.
        self._substep_sums = torch.zeros(
            len(self._substep_terms), self.num_envs, device=self.device
        )
        self._substep_pairs = list(
            zip(self._substep_terms, self._substep_sums.unbind(0), strict=True)
        )
        # per env: a reset between substeps and compute() starts that env's count again
        self._substep_counts = torch.zeros(self.num_envs, device=self.device)
        self._substep_row_ids = torch.tensor(
            [self._stack.stack_row_of_term[self._terms.index(t)] for t in self._substep_terms],
            dtype=torch.long,
            device=self.device,
        )
        self._substep_rows = [(t, row) for t, row in rows if t.per_substep]
        self._stats = EpisodeStats(
            [
                (key, self._stack.result_row_of_term[index], stat)
                for index, term in enumerate(self._terms)
                for key, stat in _keys(self.prefix, term)
            ],
            self.device,
            self._stack.dtype,
        )
        if probe:
            for term in self._terms:
                self._check_device(term, self._evaluate(term))

    @property
    def active_terms(self) -> list[str]:
        """Names of the active terms, in configuration order."""
        return [term.name for term in self._terms]

    @property
    def per_substep_terms(self) -> list[str]:
        """Names of the terms evaluated after every physics substep."""
        return [term.name for term in self._substep_terms]

    def compute_substep(self) -> None:
        """Evaluate the per-substep terms once; call after every physics substep."""
        for term, substep_sum in self._substep_pairs:
            substep_sum.add_(self._evaluate(term))
        self._substep_counts.add_(1.0)
        self._substepped = True

    def compute(self, mask: torch.Tensor | None = None) -> None:
        """Add this env step to every episode in progress.

        Args:
            mask: Optional bool tensor ``[num_envs]``: count the step only where True (e.g.
                gymnasium's next-step autoreset transition is masked out).
        """
        active = None
        if mask is not None:
            active = torch.as_tensor(mask).to(device=self.device, dtype=torch.bool)
            if active.shape != self._shape:
                msg = f"mask must have shape [{self.num_envs}], got {list(active.shape)}"
                raise ValueError(msg)
        for term, row in self._step_terms:
            row.copy_(self._evaluate(term))  # converts the dtype, e.g. of bool outputs
        if self._substep_terms:
            if self._substepped:
                counts = self._substep_counts
                means = (self._substep_sums / counts.clamp(min=1.0)).to(self._stack.dtype)
                if self._substeps_cut:  # envs reset since their substeps: this step's value
                    now = torch.stack([self._evaluate(t) for t in self._substep_terms])
                    means = torch.where(counts > 0, means, now.to(self._stack.dtype))
                self._stack.step.index_copy_(0, self._substep_row_ids, means)
                self._substep_sums.zero_()
                self._substep_counts.zero_()
            else:
                for term, row in self._substep_rows:
                    row.copy_(self._evaluate(term))
        self._substepped = self._substeps_cut = False
        self._stack.fold(active)

    def reset(self, env_ids: EnvIds = None) -> dict[str, torch.Tensor]:
        """End the episodes of ``env_ids`` and return the values to log.

        Args:
            env_ids: Envs being reset (tensor or sequence of indices, a slice, ``None`` = all).

        Returns:
            One 0-dim float32 tensor per key; empty when no reset env had a counted step.
        """
        ids = self._normalise_ids(env_ids)
        episodes = self._stack.pop(ids) if self._terms and _any(ids) else None
        if self._substepped and self._substep_terms:  # those substeps were the old episode's
            if ids is None:
                self._substep_sums.zero_()
                self._substep_counts.zero_()
            else:
                self._substep_sums.index_fill_(1, ids, 0.0)
                self._substep_counts.index_fill_(0, ids, 0.0)
            self._substeps_cut = True
        for term in self._terms:
            if term.reset is not None:
                term.reset(env_ids)
        return {} if episodes is None else self._stats(episodes)

    def __str__(self) -> str:
        rows = [
            (
                str(i),
                t.name,
                t.reduce,
                "yes" if t.per_substep else "no",
                ", ".join(t.stat_names),
            )
            for i, t in enumerate(self._terms)
        ]
        header = ("Index", "Name", "Reduce", "Per substep", "Episode stats")
        title = f"Active Metrics Terms ({len(rows)}, logged as '{self.prefix}/<name>')"
        return render_table(title, header, rows)

    def _prepare(
        self, name: str, cfg: MetricsTermCfg, resolver: ParamResolver | None
    ) -> tuple[_Term, MetricsTermCfg]:
        if not isinstance(cfg, MetricsTermCfg):
            msg = f"Metrics term '{name}': expected a MetricsTermCfg, got {type(cfg).__name__}"
            raise TypeError(msg)
        reduce = check_reduce(name, cfg.reduce)
        stats = check_episode_stats(name, cfg.episode_stats)
        cfg.func = resolve_func(name, cfg.func)
        if not isinstance(cfg.params, dict):
            msg = f"Metrics term '{name}': params must be a dict, got {type(cfg.params).__name__}"
            raise TypeError(msg)
        bind_params(name, cfg.func, cfg.params)
        if resolver is not None:
            resolver.resolve(name, cfg.params)
        term = _Term(
            name=name,
            cfg=cfg,
            call=cfg.func,
            reduce=reduce,
            stat_names=stats,
            reset=None,
            per_substep=cfg.per_substep,
        )
        return term, cfg

    def _evaluate(self, term: _Term) -> torch.Tensor:
        value = term.call(self._env, **term.cfg.params)
        if not isinstance(value, torch.Tensor):
            try:
                value = torch.as_tensor(value, device=self.device)
            except (TypeError, ValueError, RuntimeError) as error:
                msg = (
                    f"Metrics term '{term.name}' returned {type(value).__name__}; "
                    f"expected a tensor or array of shape {self._shape}"
                )
                raise TypeError(msg) from error
        if value.shape != self._shape:
            msg = (
                f"Metrics term '{term.name}' returned shape {tuple(value.shape)}; expected "
                f"{self._shape} (one value per env): reduce other dimensions inside the term"
            )
            raise ValueError(msg)
        return value

    def _check_device(self, term: _Term, value: torch.Tensor) -> None:
        if value.device.type != self.device.type:
            msg = (
                f"Metrics term '{term.name}' returned a tensor on {value.device}; "
                f"expected the env's device {self.device}"
            )
            raise ValueError(msg)

    def _normalise_ids(self, env_ids: EnvIds) -> torch.Tensor | None:
        if env_ids is None or (isinstance(env_ids, slice) and env_ids == slice(None)):
            return None
        if isinstance(env_ids, slice):
            return torch.arange(self.num_envs, device=self.device)[env_ids]
        if isinstance(env_ids, torch.Tensor):
            ids = env_ids.to(device=self.device)
            ids = ids if ids.dim() == 1 else ids.reshape(-1)
            return ids.nonzero().squeeze(-1) if ids.dtype == torch.bool else ids.long()
        return torch.as_tensor(list(env_ids), dtype=torch.long, device=self.device)


def make_metrics_manager(
    cfg: Mapping[str, MetricsTermCfg | None] | None, env: Any, **kwargs: Any
) -> MetricsManager | NullMetricsManager:
    """A :class:`MetricsManager` for ``cfg``, or a :class:`NullMetricsManager` when it is empty.

    Args:
        cfg: Term name to term configuration (``None`` terms are off); ``None``, empty or
            all terms off gives the null manager.
        env: Passed on to :class:`MetricsManager`.
        **kwargs: Passed on to :class:`MetricsManager` (``prefix``, ``param_resolver``, ``probe``).
    """
    if not cfg or all(term is None for term in cfg.values()):
        return NullMetricsManager()
    return MetricsManager(cfg, env, **kwargs)


def _keys(prefix: str, term: _Term) -> list[tuple[str, str]]:
    """``(logged key, statistic)`` of one term: the mean is logged under the term's own name."""
    key = f"{prefix}/{term.name}"
    return [(key if stat == "mean" else f"{key}/{stat}", stat) for stat in term.stat_names]


def _any(ids: torch.Tensor | None) -> bool:
    return ids is None or ids.numel() > 0
