"""Pure rendering for ``pat inspect``: data in, ``rich.table.Table`` out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from pat_cli import _format
from pat_cli._sparkline import render

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pat_cli._histories import Summary
    from pat_cli._mlflow_store import RunInfo
    from pat_skrl_mlflow import TagStats


def run_title(run: RunInfo) -> str:
    """``run <id> (<name>) · experiment '<name>' · <status>``."""
    name = f" ({run.run_name})" if run.run_name else ""
    return f"run {run.run_id}{name} · experiment {run.experiment_name!r} · {run.status}"


def metrics_table(
    run: RunInfo, summaries: Sequence[Summary], caption: str, *, width: int = 100
) -> Table:
    """One row per metric key: count, step range, last, min, max and a sparkline.

    The sparkline gets what is left of ``width`` (the console's), between 8 and 20 characters.
    """
    table = Table(
        title=run_title(run),
        caption=caption,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    headers = ("key", "points", "steps", "last", "min", "max")
    rows = [
        (
            s.key,
            _format.number(s.count) + (f" ({s.nan_count} nan)" if s.nan_count else ""),
            f"{_format.number(s.first_step)}\u2013{_format.number(s.last_step)}",
            _format.number(s.last),
            _format.number(s.min),
            _format.number(s.max),
        )
        for s in summaries
    ]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    spacing = len(headers) + 3  # one space between columns (collapsed padding), plus the edges
    # Numbers never wrap; the key column folds to what is left, the trend gets 8-20 bars.
    key_width = min(widths[0], 40)
    trend_width = max(8, min(20, width - spacing - sum(widths[1:]) - min(key_width, 16)))
    table.add_column("key", overflow="fold", ratio=1)
    for name in headers[1:]:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("trend", no_wrap=True, width=trend_width)
    for cells, s in zip(rows, summaries, strict=True):
        table.add_row(*cells, render(s.trend, trend_width))
    return table


def tracking_table(records: Sequence[TagStats], kept: Mapping[str, bool], title: str) -> Table:
    """One row per tracked tag: key, reduction, values, last value, kept or dropped."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="reducer: how values within one logging window become one MLflow point",
        caption_justify="left",
    )
    table.add_column("skrl tag", overflow="fold", ratio=1)
    table.add_column("MLflow key", overflow="fold", ratio=1)
    table.add_column("reducer", no_wrap=True)
    table.add_column("values", justify="right", no_wrap=True)
    table.add_column("last", justify="right", no_wrap=True)
    table.add_column("filter", no_wrap=True)
    for r in records:
        table.add_row(
            r.tag,
            r.key,
            r.reducer,
            _format.number(r.count),
            _format.number(r.last),
            "[green]kept[/]" if kept[r.tag] else "[red]dropped[/]",
        )
    return table
