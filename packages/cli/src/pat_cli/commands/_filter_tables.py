"""Pure rendering of filter decisions (`pat dry-run filter`, `pat inspect tracking-data`).

MLflow keys, skrl tags and patterns are never wrapped (see :mod:`pat_cli.commands._fit`);
the reasons fold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from pat_cli.commands._fit import Column, FittedTable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pat_cli.commands._fit import Cell
    from pat_skrl_mlflow import FilterDecision, PatternReport


def decisions_table(decisions: Sequence[FilterDecision], source: str) -> FittedTable:
    """Logged names first, then dropped ones, each with the pattern that decided."""
    with_tags = any(d.name.tag for d in decisions)
    logged = sum(d.logged for d in decisions)
    columns = [
        Column(""),
        *([Column("skrl tag", "key")] if with_tags else []),
        Column("MLflow key", "key"),
        Column("because", "flex"),
    ]
    rows: list[list[Cell]] = []
    for d in sorted(decisions, key=lambda d: (not d.logged, d.name.key)):
        mark = Text("✓ logged", style="green") if d.logged else Text("✗ dropped", style="red")
        if d.excluded_by:
            why = f"excluded by {', '.join(map(repr, d.excluded_by))}"
        elif d.matched_by:
            why = f"matches {', '.join(map(repr, d.matched_by))}"
        elif d.logged:
            why = "no include patterns: everything is logged"
        else:
            why = "no include pattern matches"
        rows.append([mark, *([d.name.tag or "-"] if with_tags else []), d.name.key, why])
    title = (
        f"{logged} of {len(decisions)} metrics logged, {len(decisions) - logged} dropped "
        f"· names from {source}"
    )
    return FittedTable(columns, rows, title=title)


def unmatched_table(reports: Sequence[PatternReport]) -> FittedTable:
    """One row per pattern that matched nothing."""
    columns = [Column("pattern", "key"), Column("kind"), Column("problem", "flex")]
    rows: list[list[Cell]] = [[repr(r.pattern), r.kind, r.explain()] for r in reports]
    return FittedTable(
        columns,
        rows,
        title=f"{len(reports)} pattern(s) match nothing",
        title_style="bold red",
    )
