"""Pure rendering for ``pat tasks``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def tasks_table(rows: Sequence[Mapping[str, Any]], *, checked: bool) -> Table:
    """One row per task: framework, algorithms (default first), whether it runs here."""
    table = Table(title="Tasks for pat train", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("task", overflow="fold")
    table.add_column("framework", overflow="fold")
    table.add_column("algorithms", overflow="fold")
    table.add_column("runs here", overflow="fold", ratio=1)
    for row in rows:
        runs = row["runs_here"]
        if runs is None:
            here = "?" if not checked else "unknown"
        else:
            here = "yes" if runs else f"no: {row['reason']}"
        algorithms = sorted(row["algorithms"], key=lambda a: a != row["default_algorithm"])
        table.add_row(row["task"], row["framework"], ", ".join(algorithms), here)
    table.caption = "Algorithms: the default first." + (
        "" if checked else " ?: not checked; `pat tasks --check` checks each Isaac Lab task."
    )
    table.caption_justify = "left"
    return table
