"""Tables for people: every value whole, and no wider than the terminal.

A table is collected first (:func:`new_table`, ``add_row``) and laid out when printed, once
its cells are known. In a terminal narrower than the table, columns are left out — the least
important first (``priority``; by default the rightmost) — until the rest fits, and the line
under the table names them. A long cell is folded onto more lines, never cut with an
ellipsis: a run id that reads ``162…`` cannot be copied. ``--columns`` chooses the columns
(:data:`ColumnsOption`). Piped output is never fitted: ``grep`` and ``awk`` read each row
whole on one line.

rich is imported only when a table is printed, so that ``shipyard --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "CliTable",
    "ColumnsOption",
    "cell",
    "new_table",
    "parse_columns",
    "plural",
    "print_tables",
]

# rich wraps and truncates to 80 columns when stdout is not a terminal; piped output is read
# by grep, awk and diff, which want every value whole on one line.
_PIPE_WIDTH = 10_000
# A column this narrow is never folded: statuses, numbers, ages ("5m ago").
_SHORT = 12
# A column of single words up to this long (ids, URIs, dates) is kept whole or left out:
# folded, a 32-character run id would no longer be one word to double-click and copy.
_WORD = 40
# What a column of free text (descriptions, details) may be folded down to.
_FOLDED = 16
# Each column is padded by one space on each side and separated by one more.
_GAP = 3
_EDGES = 2


ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        metavar="NAMES",
        show_default=False,
        help="Comma-separated columns to show, in this order, e.g. 'name,status'"
        " [default: those that fit the terminal].",
    ),
]


def parse_columns(value: str | None) -> list[str] | None:
    """``--columns "a, b"`` as ``["a", "b"]``; None when not given."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise typer.BadParameter(
            "name at least one column, e.g. --columns name,status", param_hint="--columns"
        )
    return names


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``1 run``, ``3 runs``, ``0 runs``; ``plural_noun`` for the irregular ones (entries)."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


@dataclass
class CliTable:
    """A table's headers and rows, laid out only when printed (:func:`print_tables`)."""

    headers: tuple[str, ...]
    title: str | None = None
    show_header: bool = True
    priority: tuple[str, ...] = ()
    rows: list[tuple[Text, ...]] = field(default_factory=list)

    def add_row(self, *cells: Text) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"{len(cells)} cells for {len(self.headers)} columns")
        self.rows.append(cells)

    def ranked(self) -> list[int]:
        """Column indexes, most important first: ``priority``, then left to right."""
        index = {name: i for i, name in enumerate(self.headers)}
        first = [index[name] for name in self.priority if name in index]
        return first + [i for i in range(len(self.headers)) if i not in first]


def new_table(
    *headers: str, title: str | None = None, show_header: bool = True, priority: Sequence[str] = ()
) -> CliTable:
    """A table; ``priority`` names the columns to keep first when the terminal is narrow
    (the others follow from left to right; the first one ranked is never left out)."""
    return CliTable(tuple(headers), title=title, show_header=show_header, priority=tuple(priority))


def cell(value: object, style: str = "") -> Text:
    """A table cell; ``None`` shows as an empty cell, not as the word None."""
    from rich.text import Text

    return Text("" if value is None else str(value), style=style)


def print_tables(
    *tables: CliTable, footer: str = "", columns: Sequence[str] | None = None, choosable: bool = False
) -> None:
    """The tables, a blank line apart, then ``footer`` (counts, hints) on its own line.

    ``columns`` (from ``--columns``) chooses the first table's columns; ``choosable`` says
    that the command takes ``--columns``, so the note about left-out columns can say so.
    """
    console = _console()
    notes: list[str] = []
    for i, table in enumerate(tables):
        if i:
            console.print()
        chosen = _chosen(table, columns) if i == 0 and columns is not None else None
        rendered, left_out = _layout(table, console.width, chosen)
        console.print(rendered)
        if left_out:
            how = "--columns chooses them" if choosable else "a wider terminal shows them"
            notes.append(f"left out to fit {console.width} columns: {', '.join(left_out)} ({how})")
    # The footer is printed on its own: as a table caption it would be wrapped to the table.
    for line in [*notes, footer]:
        if line:
            console.print(line, style="dim")


def _console() -> Console:
    from rich.console import Console

    # markup, emoji and highlighting off: names and values are user data, and a run named
    # "[red]x" or ":ok:" must print as typed.
    console = Console(markup=False, emoji=False, highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def _chosen(table: CliTable, columns: Sequence[str]) -> list[int]:
    index = {name: i for i, name in enumerate(table.headers)}
    unknown = [name for name in columns if name not in index]
    if unknown:
        raise typer.BadParameter(
            f"no column {unknown[0]!r} here; choose from: {', '.join(table.headers)}", param_hint="--columns"
        )
    return [index[name] for name in dict.fromkeys(columns)]


@dataclass(frozen=True)
class _Width:
    natural: int
    least: int  # what it may be folded down to; == natural for a column kept whole

    @property
    def whole(self) -> bool:
        return self.least == self.natural


def _width(table: CliTable, i: int) -> _Width:
    from rich.cells import cell_len

    header = table.headers[i] if table.show_header else ""
    lines = [header, *(line for row in table.rows for line in row[i].plain.split("\n"))]
    natural = max(cell_len(line) for line in lines)
    single_words = all(" " not in line.strip() for line in lines[1:])
    # A table without a header is a list of fields and values: every value must show, so
    # long ones are folded rather than the column left out.
    if natural <= _SHORT or (single_words and natural <= _WORD and table.show_header):
        return _Width(natural, natural)
    longest_header_word = max((cell_len(word) for word in header.split()), default=0)
    return _Width(natural, min(natural, max(_FOLDED, longest_header_word)))


def _fit(table: CliTable, width: int, widths: list[_Width]) -> list[int]:
    """The columns to show: in rank order, each one that still fits at its least width."""
    shown: list[int] = []
    used = _EDGES
    for i in table.ranked():
        extra = widths[i].least + (_GAP if shown else 0)
        if not shown or used + extra <= width:
            shown.append(i)
            used += extra
    return sorted(shown)


def _layout(table: CliTable, width: int, chosen: list[int] | None) -> tuple[Table, list[str]]:
    from rich import box
    from rich.table import Table

    widths = [_width(table, i) for i in range(len(table.headers))]
    shown = chosen if chosen is not None else _fit(table, width, widths)
    # A rule under the header and nothing else: no blank edge lines, no vertical bars, so that
    # `grep`, `awk '{print $1}'` and copy-paste of an id work on the output.
    out = Table(
        title=table.title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_header=table.show_header,
    )
    for i in shown:
        w = widths[i]
        # fold, not ellipsis: a value too long for its column goes on in the next line.
        out.add_column(table.headers[i], overflow="fold", no_wrap=w.whole, min_width=w.least)
    for row in table.rows:
        out.add_row(*(row[i] for i in shown))
    left_out = (
        [] if chosen is not None else [table.headers[i] for i in range(len(table.headers)) if i not in shown]
    )
    return out, left_out
