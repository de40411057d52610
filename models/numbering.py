"""Human-readable case numbers, unique per year: ``TS-2026-000123``, ``CN-2026-000045``, ``GS-…``."""

from __future__ import annotations

import threading
import weakref
from functools import cache
from typing import Any

from sqlalchemy import bindparam, create_engine, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
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


_COUNTER_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_COUNTER_ENGINES_LOCK = threading.Lock()


def _counter_engine(engine: Engine) -> Engine:
    """A small pool of its own for the counter's short transactions: taken from the caller's pool, a
    request already holding one connection would wait for a second, and enough such requests at once
    would wait for each other until the pool timeout. Nothing holding one of these waits for anything but
    another counter transaction."""
    with _COUNTER_ENGINES_LOCK:
        counter = _COUNTER_ENGINES.get(engine)
        if counter is None:
            counter = _COUNTER_ENGINES[engine] = create_engine(
                engine.url, pool_size=2, max_overflow=8, pool_pre_ping=True
            )
            # Its connections close with the engine's, not whenever the garbage collector gets to them.
            event.listen(engine, "engine_disposed", lambda _engine: counter.dispose() if counter else None)
        return counter


def reserve_numbers_apart(
    *, session: Session, prefix: str, year: int, count: int = 1
) -> list[tuple[int, str]]:
    """``reserve_numbers``, committed at once on PostgreSQL in a short transaction of its own.

    In the caller's transaction the counter row stays locked until that transaction ends, so on PostgreSQL
    every registration waited for the one before it to commit (register p99 of seconds in benchmark 3,
    docs/benchmarks.md); committed apart, the row is locked for two statements. The price is gaps: a number
    reserved by a transaction that then rolls back is not handed out again. Numbers stay unique per year,
    which is what the rulebook and the unique index ask; nothing asks for them to be gap-free. SQLite admits
    one writer at a time whatever the counter does, so there (and for a session bound to a connection
    rather than an engine) the number is reserved in the caller's transaction as before, without gaps."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        return reserve_numbers(session=session, prefix=prefix, year=year, count=count)
    create, bump = _counter_statements(bind.dialect.name)
    params = {"counter_prefix": prefix, "counter_year": year, "counter_count": count}
    with _counter_engine(bind).begin() as connection:
        connection.execute(create, params)
        last: int = connection.execute(bump, params).scalar_one()
    first = last - count + 1
    return [(n, format_number(prefix, year, n)) for n in range(first, last + 1)]


def format_number(prefix: str, year: int, seq: int) -> str:
    return f"{prefix}-{year}-{seq:06d}"
