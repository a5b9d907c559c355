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

    from pat_skrl_mlflow import History

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
    drawn: list[History] = []
    skipped: list[str] = []
    for history in histories:
        if _finite(history):
            drawn.append(history)
        else:
            skipped.append(history.key)
    return drawn, skipped


def _finite(history: History | None) -> bool:
    import numpy as np

    return history is not None and bool(np.isfinite(history.values).any())


@dataclass(frozen=True)
class Panel:
    """One key's panel: a curve per run (``None`` where a run lacks it), run i in colour Ci."""

    key: str
    curves: tuple[History | None, ...]


def page_figures(
    panels: Sequence[Panel], *, title: str, labels: Sequence[str] = ()
) -> Iterator[tuple[Figure, list[str]]]:
    """One figure per ``MAX_PLOTS`` panels (step on x) and its keys; a legend for ``labels``.

    Every panel is drawn, whatever its values; the caller closes each figure.
    """
    plt = _pyplot()
    shown = list(panels)
    pages = max(1, math.ceil(len(shown) / MAX_PLOTS))
    legend = 0.6 if labels else 0.0
    for page in range(pages):
        chunk = shown[page * MAX_PLOTS : (page + 1) * MAX_PLOTS]
        columns = min(3, max(1, len(chunk)))
        rows = max(1, math.ceil(len(chunk) / columns))
        figure, axes = plt.subplots(
            rows,
            columns,
            figsize=(4.5 * columns, 2.8 * rows + legend),
            squeeze=False,
            layout="constrained",
        )
        for index, ax in enumerate(axes.flat):
            if index >= len(chunk):
                ax.set_visible(False)
                continue
            panel = chunk[index]
            for run, history in enumerate(panel.curves):
                if history is not None:
                    ax.plot(history.steps, history.values, linewidth=1.2, color=f"C{run % 10}")
            ax.set_title(panel.key, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        if labels:
            from matplotlib.lines import Line2D

            handles = [
                Line2D([], [], color=f"C{run % 10}", linewidth=1.2) for run in range(len(labels))
            ]
            figure.legend(
                handles,
                list(labels),
                loc="outside lower center",
                ncols=min(4, len(labels)),
                fontsize=8,
            )
        if pages > 1:
            first = page * MAX_PLOTS + 1
            suptitle = f"{title} · keys {first}\u2013{first + len(chunk) - 1} of {len(shown)}"
        else:
            suptitle = title
        figure.suptitle(suptitle, fontsize=10)
        yield figure, [p.key for p in chunk]


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
    drawn, skipped = plottable(histories)
    return Plotted(_save([Panel(h.key, (h,)) for h in drawn], path, title, ()), tuple(skipped))


def plot_runs(
    histories: Sequence[Mapping[str, History]],
    labels: Sequence[str],
    keys: Sequence[str],
    path: Path,
    *,
    title: str,
) -> Plotted:
    """One panel per key, one curve per run, paged and named as :func:`plot_histories` does.

    ``histories`` holds each run's histories by key (a run without a key has no curve in its
    panel) and ``labels`` names each run in the legend; a run has one colour in every panel.
    A key that no run has a finite value of is not drawn (``not_plotted``).
    """
    panels: list[Panel] = []
    skipped: list[str] = []
    for key in keys:
        curves = tuple(per_run.get(key) for per_run in histories)
        if any(_finite(curve) for curve in curves):
            panels.append(Panel(key, curves))
        else:
            skipped.append(key)
    return Plotted(_save(panels, path, title, labels), tuple(skipped))


def describe(plotted: Plotted) -> str:
    """One line: every file written with how many keys it holds, then the keys left out."""

    def held(file: PlotFile) -> str:
        count = len(file.keys)
        pages = f" on {file.pages} pages" if file.pages > 1 else ""
        return f"{file.path} ({count} key{'' if count == 1 else 's'}{pages})"

    if plotted.files:
        line = "Plot written to " + ", ".join(held(f) for f in plotted.files)
    else:
        line = "No plot written"
    if plotted.not_plotted:
        line += "; not plotted (no finite value): " + ", ".join(plotted.not_plotted)
    return line + "."


def payload(plotted: Plotted | None) -> dict[str, object]:
    """``--json``'s view of a plot: each file with its keys and pages, and the keys left out."""
    if plotted is None:
        return {"plot": None, "not_plotted": None}
    files = [{"file": str(f.path), "keys": list(f.keys), "pages": f.pages} for f in plotted.files]
    return {"plot": files, "not_plotted": list(plotted.not_plotted)}


def _save(
    panels: Sequence[Panel], path: Path, title: str, labels: Sequence[str]
) -> tuple[PlotFile, ...]:
    """Write ``panels``: PDF pages, or one image file per page; nothing for no panel."""
    if not panels:
        return ()
    plt = _pyplot()
    pages = page_figures(panels, title=title, labels=labels)
    if path.suffix.lower() in PAGED_SUFFIXES:
        from matplotlib.backends.backend_pdf import PdfPages

        keys: list[str] = []
        count = 0
        with PdfPages(path) as pdf:
            for figure, chunk in pages:
                try:
                    pdf.savefig(figure)
                finally:
                    plt.close(figure)
                keys += chunk
                count += 1
        return (PlotFile(path, tuple(keys), count),)
    files = []
    targets = image_paths(path, math.ceil(len(panels) / MAX_PLOTS))
    for target, (figure, chunk) in zip(targets, pages, strict=True):
        try:
            figure.savefig(target, dpi=110)
        finally:
            plt.close(figure)
        files.append(PlotFile(target, tuple(chunk)))
    return tuple(files)


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot
