"""Draw metric histories as curves into an image file (matplotlib, no display needed)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pat_cli._histories import History

MAX_PLOTS = 24


def plot_histories(histories: Sequence[History], path: Path, *, title: str) -> None:
    """One small panel per key (step on x), at most ``MAX_PLOTS``, saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = list(histories)[:MAX_PLOTS]
    columns = min(3, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.5 * columns, 2.8 * rows), squeeze=False, layout="constrained"
    )
    for index, ax in enumerate(axes.flat):
        if index >= len(shown):
            ax.set_visible(False)
            continue
        history = shown[index]
        ax.plot(history.steps, history.values, linewidth=1.2)
        ax.set_title(history.key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    try:
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)
