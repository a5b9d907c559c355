"""Pure rendering for ``pat dry-run filter``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pat_cli._filter_report import Decision, PatternReport


def decisions_table(decisions: Sequence[Decision], source: str) -> Table:
    """Logged names first, then dropped ones, each with the pattern that decided."""
    with_tags = any(d.name.tag for d in decisions)
    logged = sum(d.logged for d in decisions)
    table = Table(
        title=f"{logged} of {len(decisions)} metrics logged, {len(decisions) - logged} dropped "
        f"· names from {source}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("", no_wrap=True)
    if with_tags:
        table.add_column("skrl tag", overflow="fold")
    table.add_column("MLflow key", overflow="fold")
    table.add_column("because", overflow="fold")
    for d in sorted(decisions, key=lambda d: (not d.logged, d.name.key)):
        mark = "[green]✓ logged[/]" if d.logged else "[red]✗ dropped[/]"
        if d.excluded_by:
            why = f"excluded by {', '.join(map(repr, d.excluded_by))}"
        elif d.matched_by:
            why = f"matches {', '.join(map(repr, d.matched_by))}"
        elif d.logged:
            why = "no include patterns: everything is logged"
        else:
            why = "no include pattern matches"
        cells = [mark, *([d.name.tag or "-"] if with_tags else []), d.name.key, why]
        table.add_row(*cells)
    return table


def unmatched_table(reports: Sequence[PatternReport]) -> Table:
    """One row per pattern that matched nothing."""
    table = Table(
        title=f"{len(reports)} pattern(s) match nothing",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_style="bold red",
    )
    table.add_column("pattern", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("problem", overflow="fold")
    for report in reports:
        table.add_row(repr(report.pattern), report.kind, report.explain())
    return table
