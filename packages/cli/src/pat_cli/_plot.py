"""Draw metric histories as curves into image or PDF files (matplotlib, no display needed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path
    from types import ModuleType

    from matplotlib.figure import Figure

    from pat_cli._histories import History

MAX_PLOTS = 24
"""Panels on one image or PDF page (3 columns by 8 rows)."""

PAGED_SUFFIXES = (".pdf",)


@dataclass(frozen=True)
class PlotFile:
    """One file written by :func:`plot_histories` and the keys drawn in it, in order."""

    path: Path
    keys: tuple[str, ...]
    pages: int = 1


@dataclass(frozen=True)
class Plotted:
    """What :func:`plot_histories` wrote, and the keys it left out (no finite value to draw)."""

    files: tuple[PlotFile, ...]
    not_plotted: tuple[str, ...]


def plottable(histories: Sequence[History]) -> tuple[list[History], list[str]]:
    """The histories with at least one finite value, and the keys of the others."""
    import numpy as np

    drawn: list[History] = []
    skipped: list[str] = []
    for history in histories:
        if np.isfinite(history.values).any():
            drawn.append(history)
        else:
            skipped.append(history.key)
    return drawn, skipped


def page_figures(histories: Sequence[History], *, title: str) -> Iterator[tuple[Figure, list[str]]]:
    """One figure per ``MAX_PLOTS`` histories (one panel each, step on x) and its keys.

    Every history is drawn, whatever its values; the caller closes each figure.
    """
    plt = _pyplot()
    shown = list(histories)
    pages = max(1, math.ceil(len(shown) / MAX_PLOTS))
    for page in range(pages):
        chunk = shown[page * MAX_PLOTS : (page + 1) * MAX_PLOTS]
        columns = min(3, max(1, len(chunk)))
        rows = max(1, math.ceil(len(chunk) / columns))
        figure, axes = plt.subplots(
            rows, columns, figsize=(4.5 * columns, 2.8 * rows), squeeze=False, layout="constrained"
        )
        for index, ax in enumerate(axes.flat):
            if index >= len(chunk):
                ax.set_visible(False)
                continue
            history = chunk[index]
            ax.plot(history.steps, history.values, linewidth=1.2)
            ax.set_title(history.key, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        if pages > 1:
            first = page * MAX_PLOTS + 1
            suptitle = f"{title} · keys {first}\u2013{first + len(chunk) - 1} of {len(shown)}"
        else:
            suptitle = title
        figure.suptitle(suptitle, fontsize=10)
        yield figure, [h.key for h in chunk]


def image_paths(path: Path, count: int) -> list[Path]:
    """Where ``count`` single-image pages go: ``path``, then ``stem-2.suffix``, ``stem-3...``."""
    return [path] + [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(2, count + 1)]


def plot_histories(histories: Sequence[History], path: Path, *, title: str) -> Plotted:
    """Draw every history with a finite value, ``MAX_PLOTS`` panels per page, and say where.

    A ``.pdf`` gets one page per ``MAX_PLOTS`` keys (matplotlib's ``PdfPages``); an image
    format gets one file per ``MAX_PLOTS`` keys: ``path``, then ``curves-2.png``,
    ``curves-3.png``, ... next to it. Keys with no finite value (only NaN, or no points) are
    not drawn and are returned in ``not_plotted``; nothing is written when no key is left.
    """
    plt = _pyplot()
    drawn, skipped = plottable(histories)
    if not drawn:
        return Plotted((), tuple(skipped))
    if path.suffix.lower() in PAGED_SUFFIXES:
        from matplotlib.backends.backend_pdf import PdfPages

        keys: list[str] = []
        pages = 0
        with PdfPages(path) as pdf:
            for figure, chunk in page_figures(drawn, title=title):
                try:
                    pdf.savefig(figure)
                finally:
                    plt.close(figure)
                keys += chunk
                pages += 1
        return Plotted((PlotFile(path, tuple(keys), pages),), tuple(skipped))
    count = math.ceil(len(drawn) / MAX_PLOTS)
    files = []
    for target, (figure, chunk) in zip(
        image_paths(path, count), page_figures(drawn, title=title), strict=True
    ):
        try:
            figure.savefig(target, dpi=110)
        finally:
            plt.close(figure)
        files.append(PlotFile(target, tuple(chunk)))
    return Plotted(tuple(files), tuple(skipped))


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


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
