"""Pure rendering for ``pat inspect``: data in, a table fitted to the console out.

Metric keys, skrl tags and MLflow keys are never wrapped (see :mod:`pat_cli.commands._fit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from pat_cli import _format
from pat_cli._sparkline import render
from pat_cli.commands._fit import Column, FittedTable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pat_cli._mlflow_store import RunInfo
    from pat_cli.commands._fit import Cell
    from pat_skrl_mlflow import MetricSummary, TagStats

TREND_MIN, TREND_MAX = 8, 20
"""Sparkline bars: as many as fit, within these."""


def run_title(run: RunInfo) -> str:
    """``run <id> (<name>) · experiment '<name>' · <status>``."""
    name = f" ({run.run_name})" if run.run_name else ""
    return f"run {run.run_id}{name} · experiment {run.experiment_name!r} · {run.status}"


def metrics_table(
    run: RunInfo, summaries: Sequence[MetricSummary], caption: str, *, width: int | None = None
) -> FittedTable:
    """One row per metric key: count, step range, last, min, max and a sparkline.

    Laid out when printed, at the console's width (at most ``width``): each key is whole on
    one line. The sparkline gets what is left, 8 to 20 bars; when a row cannot hold its key,
    its numbers and 8 bars, every key gets a line of its own with its numbers on an indented
    line below. A key longer than the whole line is folded at the width (the one exception).
    """
    columns = [
        Column("key", "key"),
        *(Column(h, justify="right") for h in ("points", "steps", "last", "min", "max")),
        Column("trend", "flex", minimum=TREND_MIN, maximum=TREND_MAX),
    ]
    rows: list[list[Cell]] = []
    for s in summaries:

        def trend(bars: int, means: Sequence[float] = s.trend) -> str:
            return render(means, bars)

        rows.append(
            [
                s.key,
                _format.number(s.count) + (f" ({s.nan_count} nan)" if s.nan_count else ""),
                f"{_format.number(s.first_step)}\u2013{_format.number(s.last_step)}",
                _format.number(s.last),
                _format.number(s.min),
                _format.number(s.max),
                trend,
            ]
        )
    return FittedTable(columns, rows, title=run_title(run), caption=caption, width=width)


def tracking_table(
    records: Sequence[TagStats], kept: Mapping[str, bool], title: str
) -> FittedTable:
    """One row per tracked tag: tag, MLflow key, reducer, values, last value, kept or dropped.

    Tags and keys are whole on one line each: side by side when they fit, else the key under
    its tag (see :mod:`pat_cli.commands._fit`).
    """
    columns = [
        Column("skrl tag", "key"),
        Column("MLflow key", "key"),
        Column("reducer"),
        Column("values", justify="right"),
        Column("last", justify="right"),
        Column("filter"),
    ]
    rows: list[list[Cell]] = [
        [
            r.tag,
            r.key,
            r.reducer,
            _format.number(r.count),
            _format.number(r.last),
            Text("kept", style="green") if kept[r.tag] else Text("dropped", style="red"),
        ]
        for r in records
    ]
    return FittedTable(
        columns,
        rows,
        title=title,
        caption="reducer: how values within one logging window become one MLflow point",
    )
