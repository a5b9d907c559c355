"""Which process logs in a distributed run, and merging windows across processes.

skrl (and ``torchrun``) describe the process with the ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` environment variables. Only global rank 0 creates the MLflow run and
writes to it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pat_core import Reducer

__all__ = ["RankInfo", "aggregate_across_ranks", "merge_windows", "rank_info"]


@dataclass(frozen=True)
class RankInfo:
    """This process's place in a distributed run.

    Attributes:
        rank: Global rank (0 when not distributed).
        world_size: Number of processes (1 when not distributed).
    """

    rank: int
    world_size: int

    @property
    def distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """Whether this process writes to MLflow (global rank 0)."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    try:
        return int(text) if text else default
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not a whole number") from None


def rank_info() -> RankInfo:
    """Read ``RANK`` and ``WORLD_SIZE`` (as skrl and torchrun set them)."""
    return RankInfo(rank=_env_int("RANK", 0), world_size=max(1, _env_int("WORLD_SIZE", 1)))


def aggregate_across_ranks(reducers: Mapping[str, Reducer]) -> dict[str, float]:
    """Combine one window of every rank (a collective: all ranks must call it).

    Each rank sends its window's reducers (a few numbers each, a sketch for percentiles);
    they are merged key by key, so every statistic is the one of all ranks' values
    together: the pooled mean, the pooled standard deviation (not an average of the ranks'),
    the extremes over ranks, percentiles of the merged sketches (within their relative
    accuracy). Keys missing on a rank are combined over the ranks that have them; a rank
    whose value is NaN counts as missing.

    Args:
        reducers: This rank's window, key -> the reducer holding its values.

    Returns:
        The combined window, key -> value (identical on every rank).
    """
    import torch.distributed as dist

    gathered: list[dict[str, Reducer] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, dict(reducers))
    return merge_windows([window or {} for window in gathered])


def merge_windows(windows: Sequence[Mapping[str, Reducer]]) -> dict[str, float]:
    """Merge several processes' windows key by key (see :func:`aggregate_across_ranks`)."""
    merged: dict[str, Reducer | None] = {}
    for window in windows:
        for key, reducer in window.items():
            if math.isnan(reducer.compute()):
                merged.setdefault(key, None)
                continue
            held = merged.get(key)
            merged[key] = reducer if held is None else held.merge(reducer)
    return {key: math.nan if r is None else float(r.compute()) for key, r in merged.items()}
