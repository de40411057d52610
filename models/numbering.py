"""Human-readable case numbers, unique per year: ``TS-2026-000123``, ``CN-2026-000045``, ``GS-…``."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col

COMPLAINT_PREFIX = "TS"  # 投诉
PLEDGE_PREFIX = "CN"  # 承诺
BREACH_PREFIX = "GS"  # 公示


# One row per (prefix, year); incremented by a single UPDATE, which takes the row lock on PostgreSQL.
class CaseCounter(SQLModel, table=True):
    __tablename__ = "case_counter"
    prefix: str = Field(primary_key=True, max_length=4)
    year: int = Field(primary_key=True)
    last: int = 0


def reserve_numbers(*, session: Session, prefix: str, year: int, count: int = 1) -> list[tuple[int, str]]:
    """Reserve ``count`` consecutive numbers as (seq, number) pairs, in the caller's transaction."""
    dialect = session.get_bind().dialect.name
    values = {"prefix": prefix, "year": year, "last": 0}
    if dialect == "postgresql":
        session.execute(postgresql.insert(CaseCounter).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(CaseCounter).values(**values).on_conflict_do_nothing())
    stmt = (
        update(CaseCounter)
        .where(col(CaseCounter.prefix) == prefix, col(CaseCounter.year) == year)
        .values(last=col(CaseCounter.last) + count)
        .returning(col(CaseCounter.last))
    )
    last: int = session.execute(stmt).scalar_one()
    first = last - count + 1
    return [(n, format_number(prefix, year, n)) for n in range(first, last + 1)]


def format_number(prefix: str, year: int, seq: int) -> str:
    return f"{prefix}-{year}-{seq:06d}"
