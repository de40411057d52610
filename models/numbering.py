"""Human-readable case numbers, unique per year: ``TS-2026-000123``, ``CN-2026-000045``, ``GS-…``."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel

COMPLAINT_PREFIX = "TS"  # 投诉
PLEDGE_PREFIX = "CN"  # 承诺
BREACH_PREFIX = "GS"  # 公示


# One row per (prefix, year); incremented by a single UPDATE, which takes the row lock on PostgreSQL.
class CaseCounter(SQLModel, table=True):
    __tablename__ = "case_counter"
    prefix: str = Field(primary_key=True, max_length=4)
    year: int = Field(primary_key=True)
    last: int = 0


@cache
def _counter_statements(dialect: str) -> tuple[Any, Any]:
    """The counter's create-if-missing INSERT and its increment, built once per dialect with bound
    parameters (building them cost more than running them), on the table rather than the mapped class."""
    table: Any = CaseCounter.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    create = (
        insert(table)
        .values(prefix=bindparam("counter_prefix"), year=bindparam("counter_year"), last=0)
        .on_conflict_do_nothing()
    )
    bump = (
        update(table)
        .where(table.c.prefix == bindparam("counter_prefix"), table.c.year == bindparam("counter_year"))
        .values(last=table.c.last + bindparam("counter_count"))
        .returning(table.c.last)
    )
    return create, bump


def reserve_numbers(*, session: Session, prefix: str, year: int, count: int = 1) -> list[tuple[int, str]]:
    """Reserve ``count`` consecutive numbers as (seq, number) pairs, in the caller's transaction."""
    create, bump = _counter_statements(session.get_bind().dialect.name)
    params = {"counter_prefix": prefix, "counter_year": year, "counter_count": count}
    if session.autoflush:
        session.flush()  # as the ORM statements did first: pending rows go out before the counter's
    session.execute(create, params)
    last: int = session.execute(bump, params).scalar_one()
    first = last - count + 1
    return [(n, format_number(prefix, year, n)) for n in range(first, last + 1)]


def format_number(prefix: str, year: int, seq: int) -> str:
    return f"{prefix}-{year}-{seq:06d}"
