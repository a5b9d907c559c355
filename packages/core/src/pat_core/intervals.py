"""Logging intervals in environment timesteps: parsing and the "is a log due?" policy."""

from __future__ import annotations

import numbers
import operator
import re
from dataclasses import dataclass
from typing import Literal, TypeGuard

__all__ = ["ACCEPTED_INTERVALS", "IntervalPolicy", "LogInterval", "parse_log_interval"]

BALANCED_EVERY = 10
"""Timesteps between logs for ``balanced``."""

ACCEPTED_INTERVALS = (
    "'step' (every timestep), 'balanced' (every 10 timesteps), "
    "'rollout' (once per rollout) or a positive whole number of timesteps such as 100"
)
"""The accepted log intervals, in words (for error messages that name them)."""

IntervalKind = Literal["step", "balanced", "rollout", "timesteps"]
_WORDS: dict[str, tuple[IntervalKind, int | None]] = {
    "step": ("step", 1),
    "balanced": ("balanced", BALANCED_EVERY),
    "rollout": ("rollout", None),
}
_WHOLE_NUMBER = re.compile(r"\+?[0-9]+")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class LogInterval:
    """How often metrics are logged, in environment timesteps.

    Attributes:
        kind: ``"step"``, ``"balanced"``, ``"rollout"`` or ``"timesteps"`` (a number).
        every: Timesteps between logs: 1 for ``step``, 10 for ``balanced``, N for
            ``timesteps``, and ``None`` for ``rollout`` until :meth:`resolve` is given
            the agent's rollout length.
    """

    kind: IntervalKind
    every: int | None

    def __post_init__(self) -> None:
        """Reject combinations of kind and every that parsing never produces."""
        expected = _WORDS.get(self.kind)
        if expected is not None:
            if self.every != expected[1]:
                raise ValueError(f"a {self.kind!r} log interval has every={expected[1]!r}")
        elif self.kind == "timesteps":
            if not _is_int(self.every) or self.every < 1:
                raise ValueError(
                    f"a 'timesteps' log interval needs a positive whole number, "
                    f"got every={self.every!r}"
                )
        else:
            raise ValueError(
                f"unknown log interval kind {self.kind!r}; expected one of "
                "'step', 'balanced', 'rollout', 'timesteps'"
            )

    def resolve(self, rollout_length: int | None = None) -> int:
        """Timesteps between logs.

        Args:
            rollout_length: The agent's rollout length in timesteps; needed for
                ``rollout`` and ignored otherwise.

        Returns:
            A whole number >= 1.

        Raises:
            ValueError: For ``rollout`` without a positive whole ``rollout_length``.
        """
        if self.every is not None:
            return self.every
        if rollout_length is None or not _is_int(rollout_length) or rollout_length < 1:
            raise ValueError(
                "the 'rollout' log interval needs the agent's rollout length as a positive "
                f"whole number, got {rollout_length!r}; pass a number of timesteps instead "
                "for agents without rollouts (e.g. off-policy agents)"
            )
        return int(rollout_length)

    def __str__(self) -> str:
        """The form :func:`parse_log_interval` accepts: ``step``, ``rollout``, ``100``."""
        return str(self.every) if self.kind == "timesteps" else self.kind


def parse_log_interval(value: str | int) -> LogInterval:
    """Parse a log interval given on the command line or in a config.

    Args:
        value: ``"step"``, ``"balanced"``, ``"rollout"`` (any case, surrounding
            whitespace ignored), or a positive whole number of timesteps as an ``int``
            or a string of digits (``100``, ``"100"``).

    Returns:
        The parsed interval.

    Raises:
        ValueError: For anything else (``0``, negatives, floats such as ``2.5`` or
            ``"1e3"``, booleans, unknown words, empty strings, ``None``); the message
            names the value and the accepted forms.
    """
    if _is_int(value):
        number = operator.index(value)
        if number >= 1:
            return LogInterval("timesteps", number)
    elif isinstance(value, str):
        text = value.strip().casefold()
        if text in _WORDS:
            kind, every = _WORDS[text]
            return LogInterval(kind, every)
        if _WHOLE_NUMBER.fullmatch(text) and int(text) >= 1:
            return LogInterval("timesteps", int(text))
    raise ValueError(f"invalid log interval {value!r}: expected {ACCEPTED_INTERVALS}")


class IntervalPolicy:
    """Answer "is a log due at this timestep?" by boundary crossing.

    Timesteps count from 0, where the first interval starts: a log is due when the
    timestep has reached a positive multiple of ``every`` beyond the one the last due
    answer crossed. Unlike ``timestep % every == 0`` this keeps the cadence when the
    caller only sees some timesteps: with ``every=16`` and hooks at timesteps 15, 31,
    47, ... the calls at 31, 47, ... are each due once (crossing 16, 32, ...). A jump
    over several multiples is due once, and a timestep that goes backwards is not due.

    Example:
        >>> policy = IntervalPolicy(10)
        >>> [t for t in (0, 4, 9, 10, 25, 27, 31) if policy.due(t)]
        [10, 25, 31]
    """

    def __init__(self, every: int) -> None:
        """Create a policy.

        Args:
            every: Timesteps between logs, >= 1 (see :meth:`LogInterval.resolve`).

        Raises:
            ValueError: If ``every`` is not a positive whole number.
        """
        if not _is_int(every) or every < 1:
            raise ValueError(f"every must be a positive whole number of timesteps, got {every!r}")
        self.every: int = operator.index(every)
        self.last_boundary: int | None = None
        """The multiple of ``every`` that the last due answer crossed; None before it."""

    def due(self, timestep: int) -> bool:
        """Whether a log is due at ``timestep``; records the crossing when it is.

        Args:
            timestep: The current environment timestep (>= 0).

        Returns:
            True when ``timestep`` reached a multiple of ``every`` beyond
            :attr:`last_boundary` (beyond 0 before the first due answer);
            :attr:`last_boundary` then becomes the largest multiple of ``every`` that
            is <= ``timestep``.

        Raises:
            ValueError: If ``timestep`` is negative.
            TypeError: If ``timestep`` is not a whole number.
        """
        step = operator.index(timestep)
        if step < 0:
            raise ValueError(f"timestep must be >= 0, got {timestep!r}")
        boundary = step - step % self.every
        if boundary <= (self.last_boundary or 0):
            return False
        self.last_boundary = boundary
        return True

    def reset(self) -> None:
        """Forget the last crossing: start over as if no timestep had been seen."""
        self.last_boundary = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(every={self.every}, last_boundary={self.last_boundary})"
