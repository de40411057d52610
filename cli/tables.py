"""Columns of the `shouxin … list` tables that must survive a narrow console: rich draws a table 80
columns wide when stdout is no terminal (a pipe, a file, cron), and would cut an id to "SX-2026-0000…".

Rich fits a table to the console by narrowing the columns that may wrap, widest first, down to nothing
if need be; only when they are not enough does it squeeze every column evenly, headers and values gone.
So each short value (an id, a state, a count) is a :func:`whole` column and each long one (an order or
receipt number, a reason) a :func:`folded` one, and the table fits 80 columns by folding the long values
alone, shared out in their order (:class:`_Listing`) rather than the widest first. Build it with
:func:`table`, which keeps the whole columns whole even when squeezed (a console narrower than they are
together: the table is then cropped at the right edge rather than lose them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Column, Table


def whole(header: str) -> Column:
    """A column never wrapped or cut, however narrow the console: the ids another command takes
    (``retry``), and the short values (a state, a count) that are unreadable folded; the folded columns
    give way."""
    return Column(header, no_wrap=True)


def folded(header: str) -> Column:
    """A long value kept whole, folded over lines where it does not fit rather than cut with an ellipsis."""
    return Column(header, overflow="fold")


# The narrowest a folded column is made while the console has room for it: a reason of eight cells a line.
FOLDED_MIN = 8


class _Listing(Table):
    """A table whose folded columns share what the whole ones leave, in their order: each is given as much
    of its widest value as fits while the later ones keep ``FOLDED_MIN`` (an order number of 15 characters
    stays on one line, the reason after it folding), the last one the rest. Rich, left to itself, would
    narrow the widest first and fold them all alike."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width if self.width is None else self.width
        padding = self.padding[1] + self.padding[3]
        # The default box: a rule left of each column and one at the right edge.
        spare = width - (len(self.columns) + 1) - padding * len(self.columns)
        spare -= sum(_widest(column) for column in self.columns if column.no_wrap)
        giving = [column for column in self.columns if not column.no_wrap]
        for index, column in enumerate(giving):
            later = len(giving) - 1 - index
            share = max(spare - FOLDED_MIN * later, FOLDED_MIN)
            column.max_width = share if later == 0 else min(_widest(column), share)
            spare -= column.max_width
        yield from super().__rich_console__(console, options)


def _widest(column: Column) -> int:
    """The cells of ``column``'s header and widest value, on one line."""
    return max(cell_len(str(text)) for text in (column.header, *column.cells))


def table(*columns: Column, rows: Iterable[Sequence[str]]) -> Table:
    """The table of ``rows``, its folded columns sharing the width as :class:`_Listing` does, each whole
    column's ``min_width`` its header and widest value, which rich restores after the even squeeze (a
    column squeezed to nothing is lost still, on a console some 30 columns wide)."""
    drawn = _Listing(*columns)
    for row in rows:
        drawn.add_row(*row)
    for column in drawn.columns:
        if column.no_wrap:
            column.min_width = _widest(column)
    return drawn
