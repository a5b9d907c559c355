"""Pure rendering for ``pat tasks``: a table fitted to the console, reasons as footnotes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from pat_cli.commands._fit import Column, FittedTable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pat_cli.commands._fit import Cell


def tasks_table(rows: Sequence[Mapping[str, Any]], *, checked: bool) -> FittedTable:
    """One row per task: framework, algorithms (default first), whether it runs here.

    Task ids are whole on one line (see :mod:`pat_cli.commands._fit`). Why a task does not run
    is a footnote below the table, ``no [1]`` in the row: tasks that fail for the same reason
    (the task's own id taken out of it) share one note, so ``pat tasks --check`` stays a line
    or two per task.
    """
    columns = [
        Column("task", "key"),
        Column("framework", "flex", minimum=1, words=True),
        Column("algorithms", "flex", minimum=1, words=True),
        Column("runs here"),
    ]
    notes: dict[str, int] = {}
    cells: list[list[Cell]] = []
    for row in rows:
        runs = row["runs_here"]
        if runs is None:
            here = "?" if not checked else "unknown"
        elif runs:
            here = "yes"
        else:
            reason = str(row["reason"]).removeprefix(f"task {row['task']!r} ")
            here = f"no [{notes.setdefault(reason, len(notes) + 1)}]"
        algorithms = sorted(row["algorithms"], key=lambda a: a != row["default_algorithm"])
        cells.append([row["task"], row["framework"], ", ".join(algorithms), here])
    caption = "Algorithms: the default first." + (
        "" if checked else " ?: not checked; `pat tasks --check` checks each Isaac Lab task."
    )
    return FittedTable(
        columns, cells, title="Tasks for pat train", caption=caption, after=_footnotes(notes)
    )


def _footnotes(notes: Mapping[str, int]) -> list[Table]:
    if not notes:
        return []
    grid = Table.grid(padding=(0, 1, 0, 0), pad_edge=False)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(overflow="fold")
    for reason, number in notes.items():
        grid.add_row(f"[{number}]", reason or "no reason given", style=None)
    return [grid]
