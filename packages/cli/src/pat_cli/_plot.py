"""Draw metric histories as curves into an image file (matplotlib, no display needed)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
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


def plot_runs(
    histories: Sequence[Mapping[str, History]],
    labels: Sequence[str],
    keys: Sequence[str],
    path: Path,
    *,
    title: str,
) -> None:
    """One panel per key (at most ``MAX_PLOTS``), one curve per run, saved to ``path``.

    ``histories`` holds each run's histories by key (a run without a key has no curve in its
    panel) and ``labels`` names each run in the legend; a run has one colour in every panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    shown = list(keys)[:MAX_PLOTS]
    columns = min(3, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / columns))
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(4.5 * columns, 2.8 * rows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for index, ax in enumerate(axes.flat):
        if index >= len(shown):
            ax.set_visible(False)
            continue
        key = shown[index]
        for run, per_run in enumerate(histories):
            history = per_run.get(key)
            if history is not None:
                ax.plot(history.steps, history.values, linewidth=1.2, color=f"C{run % 10}")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=f"C{run % 10}", linewidth=1.2) for run in range(len(labels))]
    figure.legend(
        handles, list(labels), loc="outside lower center", ncols=min(4, len(labels)), fontsize=8
    )
    figure.suptitle(title, fontsize=10)
    try:
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)
