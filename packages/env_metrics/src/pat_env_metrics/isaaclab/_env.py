"""An Isaac Lab env class that attaches its metrics manager itself (for task registration)."""

from __future__ import annotations

from isaaclab.envs import ManagerBasedRLEnv

from pat_env_metrics.isaaclab._attach import attach_metrics


class ManagerBasedRLEnvWithMetrics(ManagerBasedRLEnv):  # type: ignore[misc]
    """``ManagerBasedRLEnv`` plus a metrics manager built from ``cfg.metrics``.

    Use it as the ``entry_point`` of a task registration
    (``"pat_env_metrics.isaaclab:ManagerBasedRLEnvWithMetrics"``); nothing else changes.
    """

    def load_managers(self) -> None:
        """Load Isaac Lab's managers, then attach the metrics manager."""
        super().load_managers()
        attach_metrics(self)
