"""Which metric names a filter keeps, which pattern decided, and what the patterns got wrong.

What ``pat dry-run filter`` and ``pat inspect tracking-data`` show, for any source of names
(a run's keys, a file, a live rollout): :func:`explain_filter`.

Matching is pat-core's :class:`~pat_core.MetricFilter` (one filter per pattern, so each
decision can name its pattern). Patterns that match nothing are explained: a name that
matches when case is ignored (the case-sensitivity trap), close names, and whether the name
is one skrl ever produces (the documented filters of the integration pat replaces named
metrics skrl never tracks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pat_skrl_mlflow.window._names import SKRL_ALIASES, skrl_tag_of_key

__all__ = ["FilterDecision", "MetricName", "PatternReport", "explain_filter", "named_keys"]

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class MetricName:
    """A metric as the source knows it: its MLflow key and, from a live rollout, its skrl tag."""

    key: str
    tag: str | None = None
    decided_by: str | None = None
    """The key the filter sees, when not ``key``: a derived ``<key>/<stat>`` goes with its tag."""


@dataclass(frozen=True)
class FilterDecision:
    """What the filter does with one metric."""

    name: MetricName
    logged: bool
    matched_by: tuple[str, ...]
    excluded_by: tuple[str, ...]


@dataclass(frozen=True)
class PatternReport:
    """A pattern that matched nothing, and why it probably did not.

    Attributes:
        pattern: The pattern.
        kind: ``"include"`` or ``"exclude"``.
        suggestions: Close names from the source (pat-core's suggestions).
        case_matches: Source names it matches when case is ignored.
        skrl_matches: skrl standard ``(tag, key)`` pairs it matches (by tag or by key).
        generic_matches: ``(tag, key)`` pairs whose tag it matches only in pat-core's generic
            key form (``Loss / Policy loss`` -> ``Loss/Policy_loss``), which is not the key
            pat logs them under.
    """

    pattern: str
    kind: str
    suggestions: tuple[str, ...]
    case_matches: tuple[str, ...]
    skrl_matches: tuple[tuple[str, str], ...]
    generic_matches: tuple[tuple[str, str], ...] = ()

    @property
    def skrl_name(self) -> bool:
        """Whether it matches one of skrl's standard tags or pat's keys for them."""
        return bool(self.skrl_matches)

    def explain(self) -> str:
        """One line: what is wrong and what was probably meant."""
        if self.case_matches:
            names = ", ".join(map(repr, self.case_matches[:3]))
            return f"matches nothing: names are case-sensitive; it matches {names} ignoring case"
        parts = ["matches nothing"]
        if self.generic_matches:
            tag, key = self.generic_matches[0]
            parts.append(
                f"it fits the generic key form of skrl's {tag!r}, but pat logs that tag as "
                f"{key!r}: match that key or the tag itself"
            )
        elif self.skrl_matches:
            tag, key = self.skrl_matches[0]
            more = f" (+{len(self.skrl_matches) - 1} more)" if len(self.skrl_matches) > 1 else ""
            parts.append(
                f"it matches skrl's {tag!r} (MLflow key {key!r}){more}, which this source lacks"
            )
        elif not _is_pattern(self.pattern):
            parts.append("no skrl agent tracks a metric by this name")
        if self.suggestions:
            parts.append(f"did you mean {', '.join(map(repr, self.suggestions[:3]))}?")
        return "; ".join(parts)


def explain_filter(
    names: Sequence[MetricName], include: Sequence[str] | None, exclude: Sequence[str]
) -> tuple[list[FilterDecision], list[PatternReport]]:
    """Decide every name and explain every pattern that matched none of them."""
    from pat_core import MetricFilter, to_mlflow_key

    overall = MetricFilter(include, exclude)
    includes = [(p, MetricFilter([p])) for p in include or ()]
    excludes = [(p, MetricFilter(None, [p])) for p in exclude]
    decisions = []
    for name in names:
        tag, key = (name.tag, name.decided_by or name.key) if name.tag else (name.key, None)
        logged = overall.allows(tag, key)
        decisions.append(
            FilterDecision(
                name,
                logged,
                tuple(p for p, f in includes if f.allows(tag, key)),
                tuple(p for p, f in excludes if not f.allows(tag, key)),
            )
        )
    known = _skrl_pairs()
    tagged = list(dict.fromkeys([*((n.tag, n.key) for n in names if n.tag), *known]))
    reports = []
    for item in overall.unmatched():
        case_matches = tuple(n for n in item.case_matches if n != item.pattern)
        probe = MetricFilter([item.pattern])
        reports.append(
            PatternReport(
                item.pattern,
                item.kind,
                item.suggestions,
                case_matches,
                tuple((t, k) for t, k in known if probe.allows(t, k)),
                tuple(
                    (t, k)
                    for t, k in tagged
                    if to_mlflow_key(t) != k and probe.allows(to_mlflow_key(t))
                ),
            )
        )
    return decisions, reports


def _is_pattern(pattern: str) -> bool:
    return pattern.startswith("re:") or any(c in pattern for c in "*?[")


def _skrl_pairs() -> list[tuple[str, str]]:
    return list(SKRL_ALIASES.items())


def named_keys(keys: Sequence[str]) -> list[MetricName]:
    """MLflow keys with the skrl tags pat logs them for: a filter sees both, as in training."""
    names = []
    for key in keys:
        found = skrl_tag_of_key(key)
        tag, decided_by = found if found else (None, None)
        names.append(MetricName(key, tag, decided_by if decided_by != key else None))
    return names
