"""Holding rows for this transaction's write before reading them, on both engines.

A service that checks a row and then writes depending on what it read (a case's state and attachments, a
department still active) must not let another writer slip in between. PostgreSQL locks the rows (``FOR
UPDATE``, or ``FOR NO KEY UPDATE`` where an insert referring to the row must not wait); SQLite has no row
locks and pysqlite begins a transaction only at its first write, so a write that changes nothing takes
the database's one write turn first. Either way the rows are then read back as stored, since the session
may hold them as they were read before."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import Session, SQLModel, col, select

Row = TypeVar("Row", bound=SQLModel)


def hold_rows(
    session: Session, model: type[Row], ids: Iterable[int | None], *, key_share: bool = False
) -> Sequence[Row]:
    """The rows of ``model`` with ``ids``, held and re-read, in id order (two holders of the same rows
    take turns instead of deadlocking). ``key_share``: ``FOR NO KEY UPDATE`` on PostgreSQL."""
    wanted = sorted({i for i in ids if i is not None})
    key: Any = col(model.id)  # type: ignore[attr-defined]
    rows = select(model).where(key.in_(wanted)).order_by(key)
    if session.get_bind().dialect.name == "postgresql":
        session.exec(rows.with_for_update(key_share=key_share)).all()
    else:
        table: Any = model.__table__  # type: ignore[attr-defined]
        session.execute(update(table).where(table.c.id.in_(wanted)).values(id=table.c.id))
    return session.exec(rows.execution_options(populate_existing=True)).all()
