"""The manager of an empty metrics configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from ._manager import EnvIds


class NullMetricsManager:
    """The manager of an empty metrics configuration: every method returns at once."""

    prefix = "Episode_Metrics"

    @property
    def active_terms(self) -> list[str]:
        """Always empty."""
        return []

    @property
    def per_substep_terms(self) -> list[str]:
        """Always empty."""
        return []

    def compute_substep(self) -> None:
        """Do nothing."""

    def compute(self, mask: torch.Tensor | None = None) -> None:
        """Do nothing."""

    def reset(self, env_ids: EnvIds = None) -> dict[str, torch.Tensor]:
        """Return an empty dict."""
        return {}

    def __str__(self) -> str:
        return "<NullMetricsManager> no metrics terms (configure `metrics` to add some)."
