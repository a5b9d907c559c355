"""Summarise the episodes that ended on one step: every term's statistics in a few batched ops."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pat_core.reducers._registry import percentile_q

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import torch
else:
    from pat_core.reducers._coerce import torch

EPISODE_STATS = ("mean", "std", "min", "max")
"""The statistics over ended episodes besides percentiles (any ``pNN`` name, as
:func:`~pat_core.make_reducer` accepts: ``p90``, ``p99.9``)."""

# Each takes the float32 episode values and their copy in the statistics dtype (or None when
# not needed) and returns one value per row; min and max are exact in float32.
_REDUCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {  # EPISODE_STATS
    "mean": lambda x32, x: torch.mean(x32, dim=1, dtype=x.dtype),
    "std": lambda _, x: torch.std(x, dim=1, correction=0),  # population
    "min": lambda x32, _: torch.amin(x32, dim=1),
    "max": lambda x32, _: torch.amax(x32, dim=1),
}


class EpisodeStats:
    """Computes each requested statistic for all terms at once and hands out the logged keys.

    Args:
        requests: ``(key, row, stat)`` per logged value, in logging order: ``row`` is the
            term's row in the episode values, ``stat`` one of :data:`EPISODE_STATS` or a
            percentile name (``p50``, ``p99.9``; linear interpolation, as ``torch.quantile``).
        device: Device of the episode values.
        dtype: Dtype the statistics are computed in (the state dtype).

    Raises:
        ValueError: For a statistic that is neither of those.
    """

    def __init__(
        self,
        requests: Sequence[tuple[str, int, str]],
        device: str | torch.device,
        dtype: torch.dtype,
    ) -> None:
        device = torch.device(device)
        wanted = list(dict.fromkeys(stat for _, _, stat in requests))
        percentiles: dict[str, float] = {}
        for stat in wanted:
            if stat in _REDUCTIONS:
                continue
            q = percentile_q(stat)
            if q is None:
                msg = (
                    f"unknown episode statistic {stat!r}; valid: {', '.join(EPISODE_STATS)} "
                    "or a percentile pNN (p0 to p100, e.g. p90, p99.9)"
                )
                raise ValueError(msg)
            percentiles[stat] = q
        names = [name for name in _REDUCTIONS if name in wanted]
        self._reductions = [_REDUCTIONS[name] for name in names]
        self._quantiles = _Quantiles(list(percentiles.values()), device)
        columns = [*names, *percentiles]
        self._keys = [key for key, _, _ in requests]
        # The statistics table is [rows, columns]; take() picks the logged cells.
        cells = [row * len(columns) + columns.index(stat) for _, row, stat in requests]
        self._cells = torch.tensor(cells, dtype=torch.long, device=device)
        self._cells_are_all = cells == list(range(len(cells)))
        self._dtype = dtype
        self._needs_dtype_copy = bool(percentiles) or "std" in wanted

    def __call__(self, episodes: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{key: 0-dim float32 tensor}`` from the episode values ``[rows, k]``, ``k >= 1``.

        The episode values are rounded to float32 (the precision an episode value is
        reported in) before they are summarised in ``dtype``.
        """
        reported = episodes.to(torch.float32)
        episodes = reported.to(self._dtype) if self._needs_dtype_copy else episodes
        columns = [reduction(reported, episodes) for reduction in self._reductions]
        if self._quantiles:
            columns.append(self._quantiles(episodes))
        single = columns[0] if len(columns) == 1 and columns[0].dim() == 1 else None
        if single is not None and self._cells_are_all and single.numel() == len(self._keys):
            table = single  # one statistic, logged for every row in order
        else:
            table = torch.column_stack(columns).take(self._cells)  # take() reads it flattened
        values = table.to(torch.float32).unbind(0)
        return dict(zip(self._keys, values, strict=True))


class _Quantiles:
    """``torch.quantile(x, qs, dim=1).T`` (linear interpolation, NaN rows give NaN) in fewer ops.

    ``torch.quantile`` runs about a dozen small ops; with the number of episodes known on the
    host, the interpolation ranks and weights are plain numbers, computed once per count.
    """

    _CACHE_SIZE = 64

    def __init__(self, qs: Sequence[float], device: torch.device) -> None:
        self._qs = list(qs)
        self._device = device
        self._by_count: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def __bool__(self) -> bool:
        return bool(self._qs)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The quantiles ``[rows, len(qs)]`` of each row of ``x`` ``[rows, k]``, ``k >= 1``."""
        ordered = x.sort(dim=1).values  # NaN sorts last
        below, above, weights = self._ranks(x.shape[1], x.dtype)
        values = torch.lerp(ordered.index_select(1, below), ordered.index_select(1, above), weights)
        largest = ordered[:, -1:]
        return torch.where(torch.isnan(largest), largest, values)

    def _ranks(
        self, count: int, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cached = self._by_count.get(count)
        if cached is None or cached[2].dtype != dtype:
            ranks = [q * (count - 1) for q in self._qs]  # as torch.quantile, in float64
            below = [math.floor(r) for r in ranks]
            cached = (
                torch.tensor(below, dtype=torch.long, device=self._device),
                torch.tensor([math.ceil(r) for r in ranks], dtype=torch.long, device=self._device),
                torch.tensor(
                    [r - b for r, b in zip(ranks, below, strict=True)],
                    dtype=dtype,
                    device=self._device,
                ),
            )
            if len(self._by_count) >= self._CACHE_SIZE:
                self._by_count.clear()
            self._by_count[count] = cached
        return cached
