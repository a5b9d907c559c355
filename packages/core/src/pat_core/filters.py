"""Include/exclude filters over metric names, with a report of patterns that matched nothing.

A pattern is one of:

- an exact name: ``"Loss / Policy loss"`` or ``"Loss/Policy_loss"``;
- a shell glob, recognised by ``*``, ``?`` or ``[``: ``"Loss/*"``, ``"*_mean"``
  (``fnmatch`` rules, so ``*`` also matches ``/``);
- a regular expression after ``re:``, which must match the whole name:
  ``"re:Reward/.*_(mean|max)"``.

Matching is case-sensitive. A pattern may match either the original tag or its
MLflow key, so users can write whichever form they see.
"""

from __future__ import annotations

import difflib
import errno
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Sequence

__all__ = ["MetricFilter", "UnmatchedPattern", "read_pattern_file", "select_names"]

REGEX_PREFIX = "re:"
_GLOB_CHARS = frozenset("*?[")
_MAX_SUGGESTIONS = 5
_SIMILARITY_CUTOFF = 0.6


@dataclass(frozen=True)
class UnmatchedPattern:
    """A filter pattern that matched none of the names seen so far.

    Attributes:
        pattern: The pattern as given.
        kind: Whether it is an include or an exclude pattern.
        suggestions: Seen names the user may have meant, best first (may be empty).
        case_matches: Seen names it matches when case is ignored (names are
            case-sensitive: the likeliest mistake); they lead ``suggestions`` too.
    """

    pattern: str
    kind: Literal["include", "exclude"]
    suggestions: tuple[str, ...]
    case_matches: tuple[str, ...] = ()

    def hint(self) -> str:
        """What was probably meant, in one line ("" when nothing seen is close)."""
        if self.case_matches:
            names = ", ".join(map(repr, self.case_matches[:3]))
            return f"names are case-sensitive; did you mean {names}?"
        if self.suggestions:
            return f"did you mean {', '.join(map(repr, self.suggestions[:3]))}?"
        return ""


@dataclass(frozen=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    folded: re.Pattern[str]  # the same, ignoring case: for suggestions
    core: str  # the text difflib compares names with

    def matches(self, name: str) -> bool:
        return self.regex.fullmatch(name) is not None


def _compile(pattern: str) -> _Pattern:
    if not isinstance(pattern, str):
        raise TypeError(f"filter patterns must be strings, got {type(pattern).__name__}")
    if not pattern:
        raise ValueError("empty filter pattern; remove it or write the metric name")
    if pattern.startswith(REGEX_PREFIX):
        source = core = pattern[len(REGEX_PREFIX) :]
        if not source:
            raise ValueError(f"filter pattern {pattern!r} has no regular expression after 're:'")
    elif _GLOB_CHARS.intersection(pattern):
        source, core = fnmatch.translate(pattern), re.sub(r"[*?\[\]!]", "", pattern)
    else:
        source, core = re.escape(pattern), pattern
    try:
        return _Pattern(pattern, re.compile(source), re.compile(source, re.IGNORECASE), core)
    except re.error as exc:
        raise ValueError(
            f"invalid regular expression in filter pattern {pattern!r}: {exc}"
        ) from None


def _patterns(value: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"{what} must be a sequence of patterns, not one string: use [{value!r}]")
    return tuple(value)


class MetricFilter:
    """Decide which metrics are logged from include and exclude patterns.

    A name passes when it matches an include pattern (or ``include`` is ``None``) and
    no exclude pattern; exclude wins. Every pattern is checked against each new name so
    that :meth:`unmatched` can report the patterns that never matched anything, which
    usually are typos.

    Example:
        >>> f = MetricFilter(include=["Reward/*", "Loss / Policy loss"], exclude=["*_min"])
        >>> f.allows("Reward / Total reward (mean)", "Reward/Total_reward_mean")
        True
        >>> f.allows("Reward / Total reward (min)", "Reward/Total_reward_min")
        False
    """

    def __init__(self, include: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> None:
        """Create a filter.

        Args:
            include: Patterns of the metrics to log; ``None`` logs everything.
            exclude: Patterns of the metrics never to log; they win over ``include``.

        Raises:
            ValueError: If ``include`` is an empty list, a pattern is empty, or a ``re:``
                pattern is not a valid regular expression (the message names it).
            TypeError: If ``include`` or ``exclude`` is a single string, or a pattern is
                not a string.
        """
        if include is not None:
            include = _patterns(include, "include")
            if not include:
                raise ValueError(
                    "an empty include list would drop every metric; pass None to log everything"
                )
        self.include: tuple[str, ...] | None = include
        self.exclude: tuple[str, ...] = _patterns(exclude, "exclude")
        self._include = tuple(_compile(p) for p in include) if include is not None else None
        self._exclude = tuple(_compile(p) for p in self.exclude)
        self._decisions: dict[tuple[str, str | None], bool] = {}
        self._seen: dict[str, None] = {}  # insertion-ordered set of tags and keys
        self._include_hits = [False] * len(self._include or ())
        self._exclude_hits = [False] * len(self._exclude)

    def allows(self, tag: str, key: str | None = None) -> bool:
        """Whether the metric ``tag`` (logged as ``key``) passes the filter.

        Args:
            tag: The original metric name.
            key: Its MLflow key, if known; patterns are tried on both.

        Returns:
            True when the metric should be logged.
        """
        decision = self._decisions.get((tag, key))
        if decision is not None:
            return decision
        names = (tag,) if key is None or key == tag else (tag, key)
        for name in names:
            self._seen[name] = None
        included = self._include is None
        if self._include is not None:
            for i, pattern in enumerate(self._include):
                if any(pattern.matches(n) for n in names):
                    self._include_hits[i] = included = True
        excluded = False
        for i, pattern in enumerate(self._exclude):
            if any(pattern.matches(n) for n in names):
                self._exclude_hits[i] = excluded = True
        decision = included and not excluded
        self._decisions[(tag, key)] = decision
        return decision

    def unmatched(self) -> list[UnmatchedPattern]:
        """The patterns that matched none of the names seen by :meth:`allows` so far.

        Returns:
            Include patterns first, then exclude patterns, each in the order given,
            with up to five suggestions: seen names that match when case is ignored,
            then names that look alike (``difflib``).
        """
        report: list[UnmatchedPattern] = []
        groups: tuple[tuple[Literal["include", "exclude"], tuple[_Pattern, ...], list[bool]], ...]
        groups = (("include", self._include or (), self._include_hits),)
        groups += (("exclude", self._exclude, self._exclude_hits),)
        for kind, patterns, hits in groups:
            for pattern, hit in zip(patterns, hits, strict=True):
                if not hit:
                    folded = tuple(n for n in self._seen if pattern.folded.fullmatch(n))
                    suggestions = self._suggest(pattern, folded)
                    report.append(UnmatchedPattern(pattern.text, kind, suggestions, folded))
        return report

    def _suggest(self, pattern: _Pattern, folded: tuple[str, ...]) -> tuple[str, ...]:
        seen = list(self._seen)
        suggestions = list(folded)
        already = set(suggestions)
        target = pattern.core.casefold()
        scored = []
        for name in seen:
            if name in already:
                continue
            matcher = difflib.SequenceMatcher(None, target, name.casefold())
            if (
                matcher.real_quick_ratio() >= _SIMILARITY_CUTOFF
                and matcher.quick_ratio() >= _SIMILARITY_CUTOFF
                and (ratio := matcher.ratio()) >= _SIMILARITY_CUTOFF
            ):
                scored.append((-ratio, name))
        suggestions += [name for _, name in sorted(scored)]
        return tuple(suggestions[:_MAX_SUGGESTIONS])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(include={self.include!r}, exclude={self.exclude!r})"


def select_names(
    names: Iterable[str], patterns: Sequence[str]
) -> tuple[list[str], list[UnmatchedPattern]]:
    """The names any of ``patterns`` matches, and the patterns that matched none of them.

    The one pattern language of pat (exact names, globs, ``re:``), for choosing among
    names already known, e.g. a run's metric keys.

    Args:
        names: The names to choose from; the result keeps their order.
        patterns: Include patterns; an empty sequence chooses every name.

    Returns:
        The chosen names, and each pattern that matched nothing (with suggestions).

    Raises:
        ValueError: If a pattern is empty or a ``re:`` pattern does not compile.

    Example:
        >>> chosen, unmatched = select_names(["episode_reward_mean", "policy_loss"], ["episode_*"])
        >>> chosen, unmatched
        (['episode_reward_mean'], [])
    """
    if not patterns:
        return list(names), []
    metric_filter = MetricFilter(include=patterns)
    return [n for n in names if metric_filter.allows(n)], metric_filter.unmatched()


def read_pattern_file(path: str | os.PathLike[str]) -> list[str]:
    """Read filter patterns from a text file.

    One pattern per line; surrounding whitespace is stripped, and blank lines and
    lines starting with ``#`` are skipped (``#`` elsewhere is part of the pattern).

    Args:
        path: The file to read (UTF-8, a byte-order mark is allowed).

    Returns:
        The patterns in file order.

    Raises:
        FileNotFoundError: If ``path`` does not exist (the message names it).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "pattern file not found", str(file)) from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]
