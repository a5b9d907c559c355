"""Every metric term's per-env episode state in one stacked tensor ``[rows, num_envs]``.

On the CPU a small torch op costs microseconds whatever its size, so the terms are grouped
by reduction into contiguous rows and each group is updated with one or a few batched ops
per step, and a reset gathers and clears every term's slots at once. State is float64
(float32 on MPS) whatever the input dtype; ``std`` is the population standard deviation
(``ddof=0``) by Welford's update; NaN steps propagate into their episode's value; ``last``
keeps only the last step. Stepping (:meth:`EpisodeStack.fold`) never reads device memory on
the host, so a GPU never waits; ending episodes (:meth:`EpisodeStack.pop`) syncs once.

Row layout, top to bottom: the ``std`` terms' sums of squared deviations (``m2``), then the
terms grouped as ``last, std`` (a masked-out step takes the current state, so it changes
nothing) and ``sum, mean, min, max`` (a masked-out step takes a neutral value). ``std`` rows
hold the running mean. Everything above ``min`` is reset to 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import torch
else:
    from pat_core.reducers._coerce import torch

EPISODE_REDUCES = ("mean", "sum", "min", "max", "last", "std")
"""How the steps of one episode become one value."""

_GROUPS = ("last", "std", "sum", "mean", "min", "max")
_FILL = {"min": math.inf, "max": -math.inf}


class EpisodeStack:
    """Per-env running statistics of the current episode of every term.

    Args:
        reduces: Each term's reduction (an :data:`EPISODE_REDUCES` name), in term order.
        num_envs: Number of environments (columns), at least 1.
        device: Torch device of the state; pass the environment's device.

    Raises:
        ValueError: For ``num_envs < 1`` or an unknown reduction.

    Each step the caller writes the terms' values into :attr:`step_rows` and calls
    :meth:`fold`; :meth:`pop` ends episodes.

    Example:
        >>> import torch
        >>> stack = EpisodeStack(["sum", "max"], num_envs=2, device=torch.device("cpu"))
        >>> _ = stack.step_rows[0].copy_(torch.tensor([1.0, 2.0]))
        >>> _ = stack.step_rows[1].copy_(torch.tensor([5.0, 6.0]))
        >>> stack.fold()
        >>> episodes = stack.pop(torch.tensor([1]))  # env 1's episode ends
        >>> [episodes[row, 0].item() for row in stack.result_row_of_term]
        [2.0, 6.0]
    """

    def __init__(
        self, reduces: Sequence[str], num_envs: int, device: str | torch.device = "cpu"
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            msg = f"num_envs must be a positive integer, got {num_envs!r}"
            raise ValueError(msg)
        unknown = [r for r in reduces if r not in EPISODE_REDUCES]
        if unknown:
            msg = f"unknown reduce {unknown[0]!r}; valid options: {', '.join(EPISODE_REDUCES)}"
            raise ValueError(msg)
        device = torch.device(device)
        num_std = sum(1 for r in reduces if r == "std")
        order = sorted(range(len(reduces)), key=lambda term: _GROUPS.index(reduces[term]))
        grouped = ["m2"] * num_std + [reduces[term] for term in order]
        rows = len(grouped)
        self.dtype = torch.float32 if device.type == "mps" else torch.float64
        fills = torch.tensor([_FILL.get(r, 0.0) for r in grouped], dtype=self.dtype, device=device)
        self._value = fills.unsqueeze(1).expand(rows, num_envs).clone()
        self._counts = torch.zeros(num_envs, dtype=self.dtype, device=device)
        self._step = torch.zeros(rows, num_envs, dtype=self.dtype, device=device)

        def span(*names: str) -> slice:
            found = [row for row, name in enumerate(grouped) if name in names]
            return slice(found[0], found[-1] + 1) if found else slice(0, 0)

        stack_row = {term: num_std + position for position, term in enumerate(order)}
        std_terms = [term for term in order if reduces[term] == "std"]
        self.result_row_of_term: tuple[int, ...] = tuple(
            std_terms.index(t) if reduces[t] == "std" else stack_row[t] for t in range(len(reduces))
        )
        """Row of each term's episode value in :meth:`pop`'s result (``std`` terms: in ``m2``)."""
        step_rows = self._step.unbind(0)
        self.step_rows: tuple[torch.Tensor, ...] = tuple(
            step_rows[stack_row[t]] for t in range(len(reduces))
        )
        """One ``[num_envs]`` view per term, in term order: write the step's values here."""
        self.stack_row_of_term = tuple(stack_row[t] for t in range(len(reduces)))
        # Views are made once: slicing a tensor is itself a torch call of a microsecond or more.
        self._m2_rows, self._mean_rows = span("m2"), span("mean")
        self._mean_is_all = self._mean_rows == slice(0, rows) and rows > 0
        fill_groups = (
            (span("m2", "last", "std", "sum", "mean"), 0.0),
            (span("min"), math.inf),
            (span("max"), -math.inf),
        )
        self._fills = [(self._value[group], fill) for group, fill in fill_groups if _width(group)]
        self._kept = self._views(span("last", "std"))
        self._neutral = self._views(span("sum", "mean", "min", "max"))
        self._neutral_fill = fills[span("sum", "mean", "min", "max")].unsqueeze(1)
        m2 = self._value[self._m2_rows]
        self._folds = [
            _fold(reduce, *self._views(span(*names)), m2)
            for reduce, names in (
                ("sum", ("sum", "mean")),
                ("min", ("min",)),
                ("max", ("max",)),
                ("last", ("last",)),
                ("std", ("std",)),
            )
            if _width(span(*names))
        ]

    def _views(self, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        return self._value[rows], self._step[rows]

    @property
    def step(self) -> torch.Tensor:
        """The step buffer ``[rows, num_envs]``; term ``t`` is row ``stack_row_of_term[t]``."""
        return self._step

    def fold(self, active: torch.Tensor | None = None) -> None:
        """Add the step buffer to every episode, or to those where ``active`` (bool) is True."""
        if active is None:
            self._counts.add_(1.0)
            divisor = self._counts
        else:
            self._counts.add_(active)
            divisor = self._counts.clamp(min=1.0)
            value, step = self._kept
            if step.numel():
                step.copy_(torch.where(active, step, value))
            _, step = self._neutral
            if step.numel():
                step.copy_(torch.where(active, step, self._neutral_fill))
        for fold in self._folds:
            fold(divisor)

    def pop(self, env_ids: torch.Tensor | None) -> torch.Tensor | None:
        """End the episodes of ``env_ids`` (``None`` = all) and reset their slots.

        Returns:
            The episode values ``[rows, k]`` (state dtype; term ``t`` is row
            ``result_row_of_term[t]``) of the ``k`` envs in ``env_ids`` whose episode had a
            counted step, or ``None`` when there is none. Deciding that reads the step
            counts on the host: the one sync of a reset.
        """
        counts = self._counts.clone() if env_ids is None else self._counts.index_select(0, env_ids)
        ended = torch.nonzero(counts)
        if ended.shape[0] == 0:
            return None  # the slots of envs without a counted step still hold the initial fill
        take = env_ids
        if ended.shape[0] < counts.shape[0]:
            ended = ended.view(-1)
            counts = counts.index_select(0, ended)
            take = ended if env_ids is None else env_ids.index_select(0, ended)
        values = self._value.clone() if take is None else self._value.index_select(1, take)
        self._reset(env_ids)
        if self._mean_is_all:
            values.div_(counts)
        elif _width(self._mean_rows):
            values[self._mean_rows].div_(counts)
        if _width(self._m2_rows):
            values[self._m2_rows].div_(counts).sqrt_()  # population std
        return values

    def _reset(self, env_ids: torch.Tensor | None) -> None:
        if env_ids is None:
            for rows, fill in self._fills:
                rows.fill_(fill)
            self._counts.zero_()
            return
        for rows, fill in self._fills:
            rows.index_fill_(1, env_ids, fill)
        self._counts.index_fill_(0, env_ids, 0.0)


def _fold(
    reduce: str, value: torch.Tensor, step: torch.Tensor, m2: torch.Tensor
) -> Callable[[torch.Tensor], object]:
    """One in-place update of a group's state rows from its step rows."""
    if reduce == "sum":
        return lambda _: value.add_(step)
    if reduce == "min":
        return lambda _: torch.minimum(value, step, out=value)
    if reduce == "max":
        return lambda _: torch.maximum(value, step, out=value)
    if reduce == "last":
        return lambda _: value.copy_(step)

    def welford(divisor: torch.Tensor) -> None:  # the state rows hold the running mean
        delta = step - value
        value.addcdiv_(delta, divisor)
        m2.addcmul_(delta, step - value)

    return welford


def _width(rows: slice) -> int:
    return int(rows.stop) - int(rows.start)
