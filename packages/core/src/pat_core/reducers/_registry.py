"""Resolve reducer names (``"mean"``, ``"std"``, ``"p90"``, ...) to fresh reducers."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

from pat_core.reducers._extrema import Last, Max, Min
from pat_core.reducers._moments import Count, Mean, Std, Sum, Var
from pat_core.reducers._quantile import Quantile

if TYPE_CHECKING:
    from collections.abc import Callable

    from pat_core.reducers._base import Reducer

_FACTORIES: dict[str, Callable[[], Reducer]] = {
    "mean": Mean,
    "sum": Sum,
    "min": Min,
    "max": Max,
    "last": Last,
    "count": Count,
    "var": Var,
    "std": Std,
    "p50": lambda: Quantile(0.5),
    "p90": lambda: Quantile(0.9),
    "p99": lambda: Quantile(0.99),
}
_PERCENTILE = re.compile(r"p(\d+(?:\.\d+)?)")


def percentile_q(name: str) -> float | None:
    """The quantile of a percentile name, or ``None`` for a name that is not one.

    The one percentile grammar of pat: ``"p"`` and a number from 0 to 100, decimals allowed
    (``"p90"`` -> 0.9, ``"p99.9"`` -> 0.999), case-insensitive, surrounding whitespace ignored.
    """
    match = _PERCENTILE.fullmatch(name.strip().lower()) if isinstance(name, str) else None
    if match is None or Decimal(match.group(1)) > 100:
        return None
    # Decimal keeps "p99.9" at q == 0.999 (float division gives 0.9990000000000001).
    return float(Decimal(match.group(1)) / 100)


def reducer_names() -> tuple[str, ...]:
    """The registered reducer names; any other ``"pNN"`` (0 <= NN <= 100) also resolves."""
    return tuple(_FACTORIES)


def make_reducer(name: str) -> Reducer:
    """Create a fresh reducer from its name.

    Args:
        name: A name from :func:`reducer_names`, or ``"pNN"`` for the NN-th percentile
            (``"p95"``, ``"p99.9"``); case-insensitive, surrounding whitespace ignored.

    Returns:
        A new, empty reducer; variance and standard deviation use ``ddof=0``.

    Raises:
        ValueError: When the name is unknown; the message lists the valid names.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if isinstance(key, str):
        factory = _FACTORIES.get(key)
        if factory is not None:
            return factory()
        q = percentile_q(key)
        if q is not None:
            return Quantile(q)
    valid = ", ".join(reducer_names())
    msg = f"unknown reducer {name!r}; valid names: {valid}, or pNN for any percentile 0-100"
    raise ValueError(msg)
