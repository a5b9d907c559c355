"""Unicode sparklines: a whole metric history in a dozen characters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pat_skrl_mlflow.run_store import HUGE  # the readers' trend limit: the same points drawn

if TYPE_CHECKING:
    from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
_FLAT = BARS[3]
_GAP = " "


def sparkline(values: Sequence[float] | np.ndarray, width: int = 20) -> str:
    """Draw ``values`` as at most ``width`` bars; each bar is the mean of its share of points.

    Non-finite values are left out of the means; a bar with no finite value is a space.
    A constant series is drawn as a flat line in the middle.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    array = np.asarray(values, dtype=np.float64).ravel()
    count = len(array)
    if count == 0:
        return ""
    bars = min(width, count)
    bucket = np.arange(count) * bars // count
    usable = np.isfinite(array) & (np.abs(array) < HUGE)
    sums = np.bincount(bucket, weights=np.where(usable, array, 0.0), minlength=bars)
    counts = np.bincount(bucket, weights=usable.astype(np.float64), minlength=bars)
    return render(_means(sums, counts))


def render(means: Sequence[float] | np.ndarray, width: int | None = None) -> str:
    """One bar per value, scaled between their min and max; NaN is a gap.

    With ``width`` smaller than the number of values, neighbouring values are averaged first.
    """
    array = np.asarray(means, dtype=np.float64)
    if width is not None and 0 < width < len(array):
        group = np.arange(len(array)) * width // len(array)
        present_values = ~np.isnan(array)
        sums = np.bincount(group, weights=np.where(present_values, array, 0.0), minlength=width)
        counts = np.bincount(group, weights=present_values.astype(np.float64), minlength=width)
        array = _means(sums, counts)
    present = ~np.isnan(array)
    if not present.any():
        return _GAP * len(array)
    low, high = float(array[present].min()), float(array[present].max())
    span = high - low
    # A span lost in float rounding is a constant series, not noise to magnify.
    if span <= 1e-12 * max(abs(low), abs(high), 1e-300):
        return "".join(_FLAT if p else _GAP for p in present.tolist())
    top = len(BARS) - 1
    scaled = np.where(present, (array - low) / span * top + 0.5, 0.0)
    levels = np.minimum(top, scaled.astype(np.int64))
    return "".join(
        BARS[level] if p else _GAP
        for level, p in zip(levels.tolist(), present.tolist(), strict=True)
    )


def _means(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    out = np.full(len(sums), np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out
