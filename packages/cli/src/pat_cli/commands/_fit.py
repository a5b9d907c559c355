"""Tables laid out at the width they are printed at: keys and ids whole, the rest gives way.

A metric key, skrl tag, MLflow key or task id is something a user copies into ``--key``,
a filter pattern or ``pat train``; split over two lines it cannot be copied. So key columns
never wrap, and a width budget, computed when the table is printed (from the console's width),
decides the layout:

1. **wide**: one row per line. Key columns get their longest value, fixed columns (numbers,
   marks) theirs; flexible columns (reasons, the sparkline) share what is left, each at least
   its ``minimum``; prose folds at spaces.
2. **merged**: when two key columns (skrl tag, MLflow key) do not fit side by side, they share
   one column, the second under the first (``→ key``).
3. **stacked**: when the keys leave too little room, each row's keys get lines of their own and
   its other cells go on an indented line below, aligned across rows.

A key longer than the whole line is the one exception: it is folded at the console's width
(nothing is cut off), since Rich crops what overflows the width and a terminal would wrap it
anyway. When even the indented line of a stacked row does not fit (a console narrower than
about 50 columns), fixed columns are cut with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rich import box
from rich.cells import cell_len
from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

Cell = str | Text | Callable[[int], str]
"""Plain text (never markup), styled text, or a function drawing the cell at a given width."""

STACK_INDENT = 4
"""Where the cells of a stacked row start, under its keys."""


@dataclass(frozen=True)
class Column:
    """One column of a :class:`FittedTable`.

    Attributes:
        header: The header text.
        role: ``key`` (never wraps), ``fixed`` (as wide as its widest cell) or ``flex``
            (shares the room left, folding prose at spaces).
        justify: ``left`` or ``right``.
        minimum: A flex column's narrowest width.
        maximum: A flex column's widest width; needed for cells drawn by a function.
        words: A flex column is never narrower than its longest word (short words only:
            ``Isaac Lab manager``, ``ppo, sac``).
    """

    header: str
    role: Literal["key", "fixed", "flex"] = "fixed"
    justify: Literal["left", "right"] = "left"
    minimum: int = 20
    maximum: int | None = None
    words: bool = False


def _lines(cell: Cell) -> list[str]:
    plain = cell.plain if isinstance(cell, Text) else cell if isinstance(cell, str) else ""
    return plain.split("\n")


def _natural(column: Column, cells: Sequence[Cell]) -> int:
    if column.maximum is not None and any(callable(c) for c in cells):
        return column.maximum
    widest = max((cell_len(line) for c in cells for line in _lines(c)), default=0)
    widest = max(widest, *(cell_len(line) for line in column.header.split("\n")))
    return widest if column.maximum is None else min(widest, column.maximum)


def _floor(column: Column, cells: Sequence[Cell], natural: int) -> int:
    floor = column.minimum
    if column.words:
        words = (cell_len(w) for c in [column.header, *cells] for w in " ".join(_lines(c)).split())
        floor = max(floor, *words, 1)
    return min(floor, natural)


def table_width(widths: Sequence[int]) -> int:
    """How wide a :class:`FittedTable` is with these column widths (edges and gaps included).

    Each column is followed by two characters (a space of padding and the box's blank
    divider), the last one's being the two edges.
    """
    return sum(widths) + 2 * len(widths)


def _budget(
    columns: Sequence[Column], cells: Sequence[Sequence[Cell]], room: int
) -> list[int] | None:
    """Column widths in ``room`` characters (as :func:`table_width` counts), or ``None``."""
    by_column = [[row[i] for row in cells] for i in range(len(columns))]
    natural = [_natural(c, by_column[i]) for i, c in enumerate(columns)]
    widths = list(natural)
    flex = [i for i, c in enumerate(columns) if c.role == "flex"]
    for i in flex:
        widths[i] = _floor(columns[i], by_column[i], natural[i])
    spare = room - table_width(widths)
    if spare < 0:
        return None
    # Hand what is left to the flex columns one character at a time, up to their natural width.
    while spare > 0:
        growing = [i for i in flex if widths[i] < natural[i]]
        if not growing:
            break
        for i in growing[:spare]:
            widths[i] += 1
        spare -= min(spare, len(growing))
    return widths


def _text(cell: Cell, width: int) -> Text:
    if callable(cell):
        return Text(cell(width))
    return cell if isinstance(cell, Text) else Text(cell)


def _add_columns(table: Table, columns: Sequence[Column], widths: Sequence[int]) -> None:
    for column, width in zip(columns, widths, strict=True):
        table.add_column(
            column.header,
            justify=column.justify,
            width=width,
            no_wrap=column.role != "flex",
            overflow="fold" if column.role == "flex" else "ellipsis",
        )


class FittedTable:
    """A table laid out when it is printed, at the width it is printed at (see the module)."""

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Cell]],
        *,
        title: str | None = None,
        caption: str | None = None,
        title_style: str = "table.title",
        after: Sequence[RenderableType] = (),
        width: int | None = None,
    ) -> None:
        """Columns, rows of cells (one per column), and what is printed around them.

        Args:
            columns: The columns.
            rows: The rows, one cell per column.
            title: Printed above the table, wrapped at the console's width.
            caption: Printed below the table (and below ``after``).
            title_style: The title's style.
            after: Printed between the table and its caption (footnotes).
            width: The widest the table may be; the console's width when narrower or ``None``.
        """
        self.columns = list(columns)
        self.rows = [list(row) for row in rows]
        self.title = title
        self.caption = caption
        self.title_style = title_style
        self.after = list(after)
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Lay the table out at ``options.max_width`` and render it."""
        room = options.max_width if self.width is None else min(self.width, options.max_width)
        parts: list[RenderableType] = []
        if self.title:
            parts.append(Text(self.title, style=self.title_style))
        parts.append(self._layout(room))
        parts.extend(self.after)
        if self.caption:
            parts.append(Text(self.caption, style="table.caption"))
        yield Group(*parts)

    def _layout(self, room: int) -> RenderableType:
        keys = [i for i, c in enumerate(self.columns) if c.role == "key"]
        widths = _budget(self.columns, self.rows, room)
        if widths is not None:
            return self._wide(self.columns, self.rows, widths)
        if len(keys) > 1:
            columns, rows = self._merged(keys)
            widths = _budget(columns, rows, room)
            if widths is not None:
                return self._wide(columns, rows, widths)
        return self._stacked(keys, room)

    def _merged(self, keys: Sequence[int]) -> tuple[list[Column], list[list[Cell]]]:
        first = keys[0]
        header = "\n".join(
            ("" if n == 0 else "→ ") + self.columns[i].header for n, i in enumerate(keys)
        )
        columns = [c for i, c in enumerate(self.columns) if i not in keys[1:]]
        columns[first] = Column(header, "key")
        rows = []
        for row in self.rows:
            merged = Text("\n").join(
                Text("" if n == 0 else "→ ") + _text(row[i], 0) for n, i in enumerate(keys)
            )
            rows.append(
                [merged if i == first else c for i, c in enumerate(row) if i not in keys[1:]]
            )
        return columns, rows

    @staticmethod
    def _wide(
        columns: Sequence[Column], rows: Sequence[Sequence[Cell]], widths: Sequence[int]
    ) -> Table:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        _add_columns(table, columns, widths)
        for row in rows:
            table.add_row(*(_text(c, w) for c, w in zip(row, widths, strict=True)))
        return table

    def _stacked(self, keys: Sequence[int], room: int) -> RenderableType:
        rest = [i for i in range(len(self.columns)) if i not in keys]
        columns = [self.columns[i] for i in rest]
        cells = [[row[i] for i in rest] for row in self.rows]
        # The indented line has no edges but the indent; table_width counts two per column.
        line_room = room - STACK_INDENT + 2
        widths = _budget(columns, cells, line_room)
        if widths is None:  # narrower than the numbers: flex columns at their floor, cut the rest
            by_column = [[row[i] for row in cells] for i in range(len(columns))]
            widths = [
                _floor(c, by_column[i], _natural(c, by_column[i]))
                if c.role == "flex"
                else _natural(c, by_column[i])
                for i, c in enumerate(columns)
            ]
        parts: list[RenderableType] = [Text("")]
        parts.extend(
            Text(" " + "  " * n + ("→ " if n else "") + self.columns[i].header, "table.header")
            for n, i in enumerate(keys)
        )
        header = self._line(columns, widths, header=True)
        parts.append(Padding(header, (0, 0, 0, STACK_INDENT), expand=False))
        rows_part: list[RenderableType] = []
        longest = 0
        for row, row_cells in zip(self.rows, cells, strict=True):
            for n, i in enumerate(keys):
                line = Text(" " + "  " * n + ("→ " if n else "")) + _text(row[i], 0)
                line.overflow = "fold"
                longest = max(longest, line.cell_len)
                rows_part.append(line)
            line_table = self._line(columns, widths)
            line_table.add_row(*(_text(c, w) for c, w in zip(row_cells, widths, strict=True)))
            rows_part.append(Padding(line_table, (0, 0, 0, STACK_INDENT), expand=False))
        rule = min(room, max(longest + 1, STACK_INDENT + sum(widths) + 2 * (len(widths) - 1) + 1))
        parts.append(Text(" " + "─" * (rule - 2)))
        parts.extend(rows_part)
        parts.append(Text(""))
        return Group(*parts)

    @staticmethod
    def _line(columns: Sequence[Column], widths: Sequence[int], *, header: bool = False) -> Table:
        line = Table.grid(padding=(0, 2, 0, 0), pad_edge=False)
        if header:
            for column, width in zip(columns, widths, strict=True):
                line.add_column(justify=column.justify, width=width, no_wrap=True)
            line.add_row(*(Text(c.header, style="table.header") for c in columns))
            return line
        _add_columns(line, columns, widths)
        return line
