"""Number and duration formatting shared by every table pat prints."""

from __future__ import annotations

import math


def number(value: float | int | None) -> str:
    """Short human form: integers as is, floats to 4 significant digits, NaN as ``nan``."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def duration(seconds: float) -> str:
    """``12.3 s``, ``4m 05s`` or ``1h 02m``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def json_number(value: float | int) -> float | int | None:
    """JSON has no NaN/inf: those become ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
