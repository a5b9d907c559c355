"""Pure rendering for ``pat runs`` and ``pat compare``: data in, ``rich.table.Table`` out.

Every column gets an explicit width, chosen here to fit the console: a run id (32 hex
characters) is never wrapped or cut. What gives way, in order: metric headers fold to the
width of their values, rows take two lines (``pat runs``: the start's hour under its date,
the duration under the status), run names fold, and the last metric columns (``pat runs``)
or runs (``pat compare``, into a further table) move out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from pat_cli import _format

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pat_cli._mlflow_store import RunInfo
    from pat_cli.commands.compare import ComparedKey
    from pat_skrl_mlflow import ListedRun

GAP = 1  # columns are one space apart
RUN_ID_WIDTH = 32
NAME_MIN = 10
METRIC_MAX_WORD = 10
DATE_WIDTH = len("YYYY-MM-DD")
SHORT_ID = 8
NAME_HEADER_MAX = 20
MISSING = "-"
_PIECES = re.compile(r"[^_/.\- ]*[_/.\- ]?")


def fold(text: str, width: int) -> str:
    """``text`` on lines of at most ``width``, broken after ``_ / . -`` or spaces when it can."""
    width = max(1, width)
    lines: list[str] = []
    line = ""
    for piece in _PIECES.findall(text):
        if not piece:
            continue
        if len(line) + len(piece) <= width:
            line += piece
            continue
        if line:
            lines.append(line.rstrip(" "))
        rest = piece
        while len(rest) > width:  # a piece longer than a line is cut
            lines.append(rest[:width])
            rest = rest[width:]
        line = rest
    if line or not lines:
        lines.append(line.rstrip(" "))
    return "\n".join(lines)


def local_time(ms: int | None) -> str:
    """``YYYY-MM-DD HH:MM`` in the local time zone (``-`` when unknown)."""
    if ms is None:
        return MISSING
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def iso_time(ms: int | None) -> str | None:
    """ISO 8601 with the local UTC offset, to the second (``None`` when unknown)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="seconds")


def seconds_between(start_ms: int | None, end_ms: int | None) -> float | None:
    """How long a run ran, in seconds; ``None`` while it has not ended."""
    if start_ms is None or end_ms is None:
        return None
    return max(0, end_ms - start_ms) / 1000


def took(start_ms: int | None, end_ms: int | None) -> str:
    """A run's duration as ``_format.duration`` writes it (``-`` while it has not ended)."""
    seconds = seconds_between(start_ms, end_ms)
    return MISSING if seconds is None else _format.duration(seconds)


def _table(*, width: int | None = None) -> Table:
    return Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0),
        pad_edge=False,
        expand=False,
        width=width,
    )


def _widest(texts: Sequence[str], *, at_least: int = 0) -> int:
    return max([at_least, *(len(t) for t in texts)])


@dataclass
class _RunsLayout:
    """Column widths of ``runs_table``; ``compact``: rows on two lines."""

    name: int
    status: int
    started: int
    took: int
    metrics: dict[str, int]
    compact: bool = False

    def total(self) -> int:
        if self.compact:  # the duration shares the status column, the start is a date
            widths = [RUN_ID_WIDTH, self.name, max(self.status, self.took), DATE_WIDTH]
        else:
            widths = [RUN_ID_WIDTH, self.name, self.status, self.started, self.took]
        widths += self.metrics.values()
        return sum(widths) + GAP * (len(widths) - 1)


def _fit_runs(
    layout: _RunsLayout, metric_min: dict[str, int], width: int
) -> tuple[_RunsLayout, list[str]]:
    """``layout`` (preferred widths) made to fit ``width``; the metric keys that did not."""
    preferred = _RunsLayout(**{**layout.__dict__, "metrics": dict(layout.metrics)})
    if layout.total() > width:
        layout.metrics = {k: metric_min[k] for k in layout.metrics}
    if layout.total() > width:
        layout.compact = True
    if layout.total() > width:
        layout.name = min(layout.name, NAME_MIN)
    hidden: list[str] = []
    while layout.total() > width and layout.metrics:
        hidden.insert(0, layout.metrics.popitem()[0])
    spare = width - layout.total()
    grow = max(0, min(spare, preferred.name - layout.name))  # the names first
    layout.name += grow
    spare -= grow
    for key, current in layout.metrics.items():  # then the metric headers
        grow = max(0, min(spare, preferred.metrics[key] - current))
        layout.metrics[key] += grow
        spare -= grow
    return layout, hidden


def runs_table(
    runs: Sequence[ListedRun], keys: Sequence[str], *, width: int
) -> tuple[Table, list[str]]:
    """One row per run: id, name, status, start, duration, each key's latest value.

    Returns the table and the keys left out because their columns did not fit ``width``.
    When one line per run does not fit, rows take two lines: the start's hour goes under
    its date and the duration under the status.
    """
    names = [run.run_name or MISSING for run in runs]
    starts = [local_time(run.start_time) for run in runs]
    durations = [took(run.start_time, run.end_time) for run in runs]
    values = {
        key: [_format.number(r.metrics[key]) if key in r.metrics else MISSING for r in runs]
        for key in keys
    }
    # A folded header keeps its words whole where it can: no narrower than its longest word.
    metric_min = {
        k: _widest(v, at_least=min(METRIC_MAX_WORD, _widest(_PIECES.findall(k))))
        for k, v in values.items()
    }
    layout, hidden = _fit_runs(
        _RunsLayout(
            name=_widest(names, at_least=len("name")),
            status=_widest([run.status for run in runs], at_least=len("status")),
            started=_widest(starts, at_least=len("started")),
            took=_widest(durations, at_least=len("took")),
            metrics={k: _widest(v, at_least=len(k)) for k, v in values.items()},
        ),
        metric_min,
        width,
    )

    # Beyond the console's width (a very narrow one) the table is laid out wider, never cut.
    table = _table(width=layout.total() if layout.total() > width else None)
    table.add_column("run id", no_wrap=True, width=RUN_ID_WIDTH)
    table.add_column("name", width=layout.name)
    if layout.compact:
        status_w = max(layout.status, layout.took)
        table.add_column("status\ntook", no_wrap=True, width=status_w)
        table.add_column("started", width=DATE_WIDTH)
    else:
        table.add_column("status", no_wrap=True, width=layout.status)
        table.add_column("started", no_wrap=True, width=layout.started)
        table.add_column("took", justify="right", no_wrap=True, width=layout.took)
    for key, key_w in layout.metrics.items():
        table.add_column(fold(key, key_w), justify="right", no_wrap=True, width=key_w)
    for index, run in enumerate(runs):
        if layout.compact:
            when = [f"{run.status}\n{durations[index]}", starts[index].replace(" ", "\n")]
        else:
            when = [run.status, starts[index], durations[index]]
        table.add_row(
            run.run_id,
            fold(names[index], layout.name),
            *when,
            *(values[key][index] for key in layout.metrics),
        )
    return table, hidden


def compare_tables(
    runs: Sequence[RunInfo], rows: Sequence[ComparedKey], *, width: int
) -> list[Table]:
    """Tables of one row per key: its goal (max/min) and, per run, the last and best value.

    Runs that do not fit ``width`` beside the key column go to a further table (each
    repeats the key column); a header names a run by its short id and its name.
    """
    cells = [[_pair(row.values[i]) for row in rows] for i in range(len(runs))]
    last_w = [_widest([c[0] for c in column], at_least=SHORT_ID) for column in cells]
    best_w = [_widest([c[1] for c in column], at_least=len("best")) for column in cells]
    goal_w = len("goal")
    key_pref = _widest([row.key for row in rows], at_least=len("key"))
    key_min = key_pref  # a key is copied into --key: never folded (the runs fold instead)

    groups: list[list[int]] = [[]]
    used = key_min + GAP + goal_w
    for i in range(len(runs)):
        block = GAP + last_w[i] + GAP + best_w[i]
        if groups[-1] and used + block > width:
            groups.append([])
            used = key_min + GAP + goal_w
        groups[-1].append(i)
        used += block

    tables = []
    for group in groups:
        widths = {i: last_w[i] for i in group}

        def others(group: list[int] = group, widths: dict[int, int] = widths) -> int:
            return goal_w + sum(GAP + widths[i] + GAP + best_w[i] for i in group)

        key_w = max(key_min, min(key_pref, width - GAP - others()))
        # What the keys leave widens the runs' columns, so that their names fold less.
        spare = width - key_w - GAP - others()
        wanting = [i for i in group if min(len(runs[i].run_name), NAME_HEADER_MAX) > widths[i]]
        while spare > 0 and wanting:
            for i in list(wanting):
                if spare <= 0:
                    break
                widths[i] += 1
                spare -= 1
                if widths[i] >= min(len(runs[i].run_name), NAME_HEADER_MAX):
                    wanting.remove(i)
        total = key_w + GAP + others()
        table = _table(width=total if total > width else None)
        headers = {i: _run_header(runs[i], widths[i]) for i in group}
        height = max(len(lines) for lines in headers.values())
        table.add_column("\n" * (height - 1) + "key", no_wrap=True, width=key_w)
        table.add_column("\n" * (height - 1) + "goal", no_wrap=True, width=goal_w)
        for i in group:
            lines = headers[i]
            top = [*lines[:-1], *[""] * (height - len(lines))]
            table.add_column(
                "\n".join([*top, "last"]), justify="right", no_wrap=True, width=widths[i]
            )
            table.add_column(
                "\n" * (height - 1) + "best", justify="right", no_wrap=True, width=best_w[i]
            )
        for r, row in enumerate(rows):
            table.add_row(row.key, row.goal, *(c for i in group for c in cells[i][r]))
        tables.append(table)
    return tables


def _pair(values: tuple[float, float] | None) -> tuple[str, str]:
    """A run's ``(last, best)`` cells of a key (``-`` where it lacks the key)."""
    if values is None:
        return MISSING, MISSING
    return _format.number(values[0]), _format.number(values[1])


def _run_header(run: RunInfo, width: int) -> list[str]:
    """A run's header lines: its short id, its name folded to ``width``, then ``last``."""
    name = fold(run.run_name, width).split("\n") if run.run_name else []
    return [run.run_id[:SHORT_ID], *name, "last"]


def run_list(runs: Sequence[RunInfo], *, experiments: bool) -> Table:
    """The runs compared, one per line (indented): full id, name, status (and experiment)."""
    table = Table(box=None, show_header=False, padding=(0, 0, 0, 2), pad_edge=True)
    table.add_column(no_wrap=True, min_width=RUN_ID_WIDTH)
    table.add_column(overflow="fold")
    table.add_column(no_wrap=True)
    if experiments:
        table.add_column(overflow="fold")
    for run in runs:
        cells = [run.run_id, run.run_name or MISSING, run.status]
        table.add_row(*cells, *([f"experiment {run.experiment_name!r}"] if experiments else []))
    return table
