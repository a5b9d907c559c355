"""From tracked values to named, filtered, reduced metrics: one window at a time."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from pat_core import MetricFilter, MetricNameMapper, make_reducer
from pat_skrl_mlflow.window._window import Reduced, WindowBuffer

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pat_core import Reducer

__all__ = ["MAX_METRIC_TAGS", "MetricLimitWarning", "MetricPipeline", "SkippedMetricWarning"]

MAX_METRIC_TAGS = 5000
"""The most distinct tags (after flattening) one run logs; later new tags are left out."""


class SkippedMetricWarning(UserWarning):
    """A tracked value is not numeric and is not logged (warned once per tag)."""


class MetricLimitWarning(UserWarning):
    """More distinct metric tags than ``MAX_METRIC_TAGS`` (a key explosion); warned once."""


class MetricPipeline:
    """Collect values per window, then reduce, name and filter them.

    Args:
        mapper: Tag -> MLflow key.
        metric_filter: Which keys are logged.
        extra_reducers: Pattern -> extra statistics (``"std"``, ``"p90"``, ...) for the
            tags or keys the pattern matches, logged as ``<key>/<stat>``.
        flatten_depth: Levels of nested mappings flattened into ``<tag>/<key>``.
    """

    def __init__(
        self,
        *,
        mapper: MetricNameMapper,
        metric_filter: MetricFilter,
        extra_reducers: Mapping[str, Sequence[str]] | None,
        flatten_depth: int,
    ) -> None:
        self.mapper = mapper
        self.filter = metric_filter
        self._exclude_only = MetricFilter(None, metric_filter.exclude)
        self._extras = compile_extras(extra_reducers or {})
        self._extras_cache: dict[str, tuple[str, ...]] = {}
        self._allowed: dict[tuple[str, str | None], bool] = {}
        self.window = WindowBuffer(
            flatten_depth=flatten_depth, extra_stats=self._extra_stats, on_skip=self._on_skip
        )
        self.skipped: dict[str, str] = {}
        self.filtered_tags: dict[str, None] = {}
        self.points_filtered = 0
        self.max_tags = MAX_METRIC_TAGS
        self._known_tags: set[str] = set()
        self.tags_over_limit: dict[str, None] = {}
        self.points_over_limit = 0

    def add(self, tag: str, value: Any) -> None:
        """Add one tracked value to the current window."""
        self.window.add(tag, value)

    def close_window(self) -> tuple[dict[str, float], dict[str, Reducer]]:
        """Reduce the window.

        Returns:
            ``key -> value`` of the metrics that pass the filter, and ``key -> reducer``
            holding each one's values (to merge windows across ranks).
        """
        values: dict[str, float] = {}
        reducers: dict[str, Reducer] = {}
        for item in self.window.reduce():
            if item.tag not in self._known_tags and not self._admit(item.tag):
                continue
            key = self._key(item)
            if key is None:
                self.points_filtered += 1
                continue
            values[key] = item.value
            reducers[key] = item.reducer
        return values, reducers

    def _admit(self, tag: str) -> bool:
        """Whether a tag seen for the first time is within ``max_tags`` (warn once if not)."""
        if len(self._known_tags) < self.max_tags:
            self._known_tags.add(tag)
            return True
        if not self.tags_over_limit:
            warnings.warn(
                MetricLimitWarning(
                    f"pat: more than {self.max_tags} distinct metric names (a key explosion, "
                    f"e.g. per-object env info); {tag!r} and every later new name are not "
                    "logged. Filter them with --exclude / exclude=[...]."
                ),
                stacklevel=3,
            )
        self.tags_over_limit[tag] = None
        self.points_over_limit += 1
        return False

    def _key(self, item: Reduced) -> str | None:
        """The MLflow key of ``item``, or None when the filter excludes it."""
        base = self.mapper.key(item.tag)
        allowed = self._allowed.get((item.tag, None))
        if allowed is None:
            allowed = self._allowed[(item.tag, None)] = self.filter.allows(item.tag, base)
        if item.stat is None:
            if not allowed:
                self.filtered_tags[item.tag] = None
            return base if allowed else None
        derived = self.mapper.derived_key(item.tag, item.stat)
        ok = self._allowed.get((item.tag, item.stat))
        if ok is None:
            direct = self.filter.allows(item.tag, derived)
            ok = (allowed or direct) and self._exclude_only.allows(derived)
            self._allowed[(item.tag, item.stat)] = ok
        if not ok:
            self.filtered_tags[item.tag] = None
            return None
        return derived

    def _extra_stats(self, tag: str) -> tuple[str, ...]:
        cached = self._extras_cache.get(tag)
        if cached is None:
            key = self.mapper.key(tag)
            stats: dict[str, None] = {}
            for pattern, names in self._extras:
                if pattern.allows(tag, key):
                    stats.update(dict.fromkeys(names))
            cached = self._extras_cache[tag] = tuple(stats)
        return cached

    def _on_skip(self, tag: str, reason: str) -> None:
        if tag in self.skipped:
            return
        self.skipped[tag] = reason
        warnings.warn(
            SkippedMetricWarning(f"pat: metric {tag!r} is {reason}; it is not logged"),
            stacklevel=2,
        )


def compile_extras(
    extra_reducers: Mapping[str, Sequence[str]],
) -> list[tuple[MetricFilter, tuple[str, ...]]]:
    compiled = []
    for pattern, names in extra_reducers.items():
        listed = [names] if isinstance(names, str) else list(names)
        # make_reducer raises a ValueError naming the valid reducers
        stats = tuple(make_reducer(name).name for name in listed)
        compiled.append((MetricFilter([pattern]), stats))
    return compiled
