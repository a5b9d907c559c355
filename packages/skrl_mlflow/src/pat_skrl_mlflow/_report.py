"""The numbers an instrumentation reports: counters, names and unmatched patterns."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pat_core import MetricFilter

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pat_core import UnmatchedPattern

__all__ = ["Summary", "TagStats", "as_float", "format_unmatched", "report_unknown_patterns"]

_log = logging.getLogger("pat_skrl_mlflow")


@dataclass(frozen=True)
class Summary:
    """What an instrumentation did (a snapshot).

    Attributes:
        run_id: The MLflow run written to (None on ranks that do not write).
        points_logged: Metric points the store accepted.
        points_waiting: Points waiting in the spool for the store (``pat sync`` delivers
            them once the run is over).
        spool: The spool directory, when any point went through it.
        points_rejected: Points the store refused (see ``rejections``).
        points_filtered: Points not sent because the filter excluded their key.
        points_dropped: Points dropped because the sender's queue was full.
        points_failed: Points not stored because the store was unreachable.
        points_pending: Points still on their way.
        windows: Logging windows emitted.
        tag_table: skrl tag -> MLflow key for every tag seen.
        filtered_tags: Tags whose values the filter excluded.
        skipped_tags: Tag -> why (some of) its values were not logged: not numeric, or
            not reducible.
        rejections: MLflow key -> the store's reason.
        unmatched: Filter patterns that matched no tag or key seen.
        env_refreshes: Environment-info refreshes counted.
        env_stale_values: Repeated (stale) environment-info values left out.
    """

    run_id: str | None
    points_logged: int
    points_rejected: int
    points_filtered: int
    points_dropped: int
    points_failed: int
    points_pending: int
    windows: int
    points_waiting: int = 0
    spool: str | None = None
    tag_table: dict[str, str] = field(default_factory=dict)
    filtered_tags: tuple[str, ...] = ()
    skipped_tags: dict[str, str] = field(default_factory=dict)
    rejections: dict[str, str] = field(default_factory=dict)
    unmatched: tuple[UnmatchedPattern, ...] = ()
    env_refreshes: int = 0
    env_stale_values: int = 0

    def __str__(self) -> str:
        """A few lines for the training log."""
        lines = [
            f"pat: MLflow run {self.run_id}: {self.points_logged} points logged in "
            f"{self.windows} windows, {len(self.tag_table)} tags",
        ]
        problems = [
            f"{self.points_rejected} rejected" if self.points_rejected else "",
            f"{self.points_dropped} dropped (queue full)" if self.points_dropped else "",
            f"{self.points_failed} not stored (store unavailable)" if self.points_failed else "",
            f"{self.points_pending} still pending" if self.points_pending else "",
            f"{self.points_waiting} waiting in {self.spool} (deliver with `pat sync {self.spool}`)"
            if self.points_waiting
            else "",
        ]
        if any(problems):
            lines.append("pat: " + ", ".join(p for p in problems if p))
        if self.skipped_tags:
            lines.append(
                f"pat: skipped values of {len(self.skipped_tags)} tags that cannot be logged: "
                + ", ".join(repr(tag) for tag in list(self.skipped_tags)[:3])
                + (", ..." if len(self.skipped_tags) > 3 else "")
            )
        if self.filtered_tags:
            lines.append(f"pat: filtered out {len(self.filtered_tags)} tags")
        if self.unmatched:
            lines.append(format_unmatched(self.unmatched))
        return "\n".join(lines)


@dataclass(frozen=True)
class TagStats:
    """One tracked tag, as a capture-only instrumentation saw it.

    Attributes:
        tag: The skrl tracking tag.
        key: The MLflow key it is logged under.
        reducer: How a logging window reduces its values (``mean``, ``min``, ``max``).
        count: Values tracked (environment info: once per refresh).
        last: The last value (the mean of a multi-element one; NaN if not numeric).
    """

    tag: str
    key: str
    reducer: str
    count: int
    last: float


def as_float(value: Any) -> float:
    """``value`` as one float: the mean of a multi-element tensor/array, NaN if not numeric."""
    try:
        if hasattr(value, "numel") and value.numel() != 1:
            return float(value.float().mean())
        if hasattr(value, "size") and hasattr(value, "mean") and value.size != 1:
            return float(value.mean())
        return float(value)
    except (TypeError, ValueError, AttributeError):
        return math.nan


def format_unmatched(unmatched: tuple[UnmatchedPattern, ...] | list[UnmatchedPattern]) -> str:
    """One line per pattern that matched nothing, with what was probably meant."""
    lines = []
    for item in unmatched:
        hint = f" ({item.hint()})" if item.hint() else ""
        lines.append(f"pat: {item.kind} pattern {item.pattern!r} matches no metric{hint}")
    return "\n".join(lines)


def report_unknown_patterns(metric_filter: MetricFilter, known: Mapping[str, str]) -> None:
    """Warn about include patterns that match none of ``known`` (skrl tag -> key).

    At start no metric has been seen yet; checking the patterns against skrl's standard
    tags reports typos and names skrl never produces right away.
    """
    if metric_filter.include is None:
        return
    probe = MetricFilter(metric_filter.include, metric_filter.exclude)
    for tag, key in known.items():
        probe.allows(tag, key)
    unknown = [u for u in probe.unmatched() if u.kind == "include"]
    if unknown:
        _log.warning(
            "%s\npat: (checked against skrl's standard metrics; environment metrics are "
            "checked as they arrive and reported at the end)",
            format_unmatched(unknown),
        )
