"""Batched per-environment episode accumulators on the environment's torch device.

One slot per environment holds the running statistic of the current episode. ``update``
adds one step to every environment (or the masked ones) with tensor arithmetic only: no
``.item()``, no host copies, no Python branching on tensor values, so a GPU never waits.
``pop`` reads the finished episodes' values and resets their slots.

State is float64 (float32 on MPS) whatever the input dtype; ``std`` uses Welford's update
per slot and is the population standard deviation (``ddof=0``). NaN steps propagate into
their episode's value (``last`` keeps the last step, NaN or not).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pat_core.reducers._coerce import acc_dtype, is_tensor

if TYPE_CHECKING:
    from collections.abc import Sequence

    import torch
else:
    from pat_core.reducers._coerce import torch

EPISODE_REDUCES = ("mean", "sum", "min", "max", "last", "std")
_FILL = {"min": math.inf, "max": -math.inf}


class EpisodeAccumulator:
    """Per-environment running statistic of the current episode.

    Args:
        num_envs: Number of environments (slots), at least 1.
        reduce: One of ``"mean"``, ``"sum"``, ``"min"``, ``"max"``, ``"last"``, ``"std"``.
        device: Torch device of the state; pass the environment's device.

    Raises:
        ValueError: For ``num_envs < 1`` or an unknown ``reduce``.
        ImportError: When torch is not installed.

    Example:
        >>> import torch
        >>> acc = EpisodeAccumulator(2, "sum")
        >>> acc.update(torch.tensor([1.0, 2.0]))
        >>> acc.update(torch.tensor([3.0, 4.0]), mask=torch.tensor([True, False]))
        >>> acc.pop(torch.tensor([0]))
        (tensor([4.]), tensor([2]))
    """

    def __init__(
        self, num_envs: int, reduce: str = "mean", *, device: str | torch.device = "cpu"
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            msg = f"num_envs must be a positive integer, got {num_envs!r}"
            raise ValueError(msg)
        if reduce not in EPISODE_REDUCES:
            msg = f"unknown reduce {reduce!r}; valid options: {', '.join(EPISODE_REDUCES)}"
            raise ValueError(msg)
        self.num_envs = num_envs
        self.reduce = reduce
        self.device: torch.device = torch.device(device)
        self._dtype = acc_dtype(self.device)
        self._fill = _FILL.get(reduce, 0.0)
        self._counts = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self._value = torch.full((num_envs,), self._fill, dtype=self._dtype, device=self.device)
        self._m2 = torch.zeros(num_envs, dtype=self._dtype, device=self.device)

    def update(self, values: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Add one step to every environment, or to those where ``mask`` is True.

        Args:
            values: Shape ``[num_envs]``; moved to the accumulator's device and dtype
                (pass tensors already on ``device`` to avoid a copy).
            mask: Optional boolean tensor of shape ``[num_envs]``.

        Raises:
            ValueError: When a shape is not ``[num_envs]`` (checked on host metadata only).
        """
        values = torch.as_tensor(values).to(device=self.device, dtype=self._dtype)
        self._check_shape("values", values)
        if mask is None:
            counts = self._counts + 1
            value, m2 = self._fold(values, counts)
        else:
            active = torch.as_tensor(mask).to(device=self.device, dtype=torch.bool)
            self._check_shape("mask", active)
            counts = self._counts + active.to(torch.int64)
            value, m2 = self._fold(values, counts)
            value = torch.where(active, value, self._value)
            if self.reduce == "std":
                m2 = torch.where(active, m2, self._m2)
        self._value, self._m2, self._counts = value, m2, counts

    def pop(
        self, env_ids: torch.Tensor | Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the current episodes' values of ``env_ids`` and reset their slots.

        Args:
            env_ids: Integer environment ids (a tensor or a sequence), a boolean mask tensor
                of shape ``[num_envs]`` (resolving it syncs the device), or ``None`` for all.

        Returns:
            ``(values, step_counts)`` on the accumulator's device: float32 values of shape
            ``[k]``, NaN where an episode had no step, and int64 step counts of shape ``[k]``.

        Raises:
            IndexError: When a sequence holds an id outside ``[0, num_envs)`` (tensor ids are
                not checked, as that would sync the device).
        """
        if env_ids is None:
            value, m2, counts = self._value, self._m2, self._counts
            self._counts = torch.zeros_like(counts)
            self._value = torch.full_like(value, self._fill)
            self._m2 = torch.zeros_like(m2)
        else:
            ids = self._resolve_ids(env_ids)
            value, m2, counts = self._value[ids], self._m2[ids], self._counts[ids]
            self._counts.index_fill_(0, ids, 0)
            self._value.index_fill_(0, ids, self._fill)
            self._m2.index_fill_(0, ids, 0.0)
        return self._finish(value, m2, counts).to(torch.float32), counts

    def _fold(
        self, values: torch.Tensor, counts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The state after adding ``values`` to every slot (masking happens in ``update``)."""
        value, m2 = self._value, self._m2
        if self.reduce in ("sum", "mean"):
            return value + values, m2
        if self.reduce == "min":
            return torch.minimum(value, values), m2
        if self.reduce == "max":
            return torch.maximum(value, values), m2
        if self.reduce == "last":
            return values.clone(), m2  # never alias the caller's tensor
        delta = values - value  # std: Welford, with value holding the running mean
        mean = value + delta / counts.clamp(min=1).to(self._dtype)
        return mean, m2 + delta * (values - mean)

    def _finish(self, value: torch.Tensor, m2: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        steps = counts.to(self._dtype)
        if self.reduce == "mean":
            return value / steps  # 0 / 0 is NaN for zero-step episodes
        if self.reduce == "std":
            return torch.sqrt(m2 / steps)
        return torch.where(counts > 0, value, torch.full_like(value, math.nan))

    def _resolve_ids(self, env_ids: torch.Tensor | Sequence[int]) -> torch.Tensor:
        if is_tensor(env_ids):
            ids = env_ids.to(device=self.device)
            if ids.dtype == torch.bool:
                self._check_shape("env_ids mask", ids)
                return ids.nonzero().reshape(-1)
            return ids.reshape(-1).to(torch.int64)
        id_list = [int(i) for i in env_ids]
        bad = [i for i in id_list if not 0 <= i < self.num_envs]
        if bad:
            msg = f"env_ids out of range [0, {self.num_envs}): {bad[:10]}"
            raise IndexError(msg)
        return torch.as_tensor(id_list, dtype=torch.int64, device=self.device)

    def _check_shape(self, what: str, tensor: torch.Tensor) -> None:
        if tuple(tensor.shape) != (self.num_envs,):
            msg = f"{what} must have shape [{self.num_envs}], got {list(tensor.shape)}"
            raise ValueError(msg)

    def __repr__(self) -> str:
        return (
            f"EpisodeAccumulator(num_envs={self.num_envs}, reduce={self.reduce!r}, "
            f"device='{self.device}')"
        )
