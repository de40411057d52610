"""Columns of the `shouxin … list` tables that must survive a narrow console: rich draws a table 80
columns wide when stdout is no terminal (a pipe, a file, cron), and would cut an id to "SX-2026-0000…"."""

from __future__ import annotations

from rich.table import Column


def whole(header: str) -> Column:
    """A column of ids another command takes (``retry``): never wrapped or cut; the other columns give way."""
    return Column(header, no_wrap=True)


def folded(header: str) -> Column:
    """A long value kept whole, folded over lines where it does not fit rather than cut with an ellipsis."""
    return Column(header, overflow="fold")
