"""Pure rendering for ``pat eval``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from pat_cli import _format

if TYPE_CHECKING:
    from collections.abc import Mapping


def eval_table(model: str, task: str, metrics: Mapping[str, float], run_id: str) -> Table:
    """``pat eval``'s summary: one row per eval metric, the run it was logged to."""
    table = Table(
        title=f"pat eval · {model} on {task}",
        title_justify="left",
        caption=f"logged to MLflow run {run_id}",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("metric", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    for key, value in metrics.items():
        table.add_row(key, _format.number(value))
    return table
