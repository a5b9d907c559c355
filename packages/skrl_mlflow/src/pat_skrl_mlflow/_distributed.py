"""Which process logs in a distributed run, and averaging windows across processes.

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
    from collections.abc import Mapping

__all__ = ["RankInfo", "aggregate_across_ranks", "rank_info"]


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


def aggregate_across_ranks(
    values: Mapping[str, float], combine: Mapping[str, str]
) -> dict[str, float]:
    """Combine one window's values of every rank (a collective: all ranks must call it).

    Keys missing on a rank are combined over the ranks that have them. ``combine[key]``
    is ``"min"`` or ``"max"`` for keys reduced that way (the extreme over ranks stays an
    extreme); every other key is the mean over ranks. NaN values count as missing.

    Args:
        values: This rank's window, key -> value.
        combine: Key -> ``"mean"``, ``"min"`` or ``"max"``.

    Returns:
        The combined window (identical on every rank).
    """
    import torch.distributed as dist

    gathered: list[dict[str, float] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, dict(values))
    merged: dict[str, list[float]] = {}
    for window in gathered:
        for key, value in (window or {}).items():
            if not math.isnan(value):
                merged.setdefault(key, []).append(value)
            else:
                merged.setdefault(key, [])
    out: dict[str, float] = {}
    for key, items in merged.items():
        how = combine.get(key, "mean")
        if not items:
            out[key] = math.nan
        elif how == "min":
            out[key] = min(items)
        elif how == "max":
            out[key] = max(items)
        else:
            out[key] = math.fsum(items) / len(items)
    return out
