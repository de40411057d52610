"""Complaint numbers reserved apart (models.numbering.reserve_numbers_apart): committed at once on
PostgreSQL, so the counter row is not locked until the registering transaction ends (gaps after a
rollback); in the caller's transaction on SQLite, as before (no gaps)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.numbering import reserve_numbers, reserve_numbers_apart


def test_numbers_apart_are_consecutive_and_unique(session: Session) -> None:
    first = reserve_numbers_apart(session=session, prefix="TS", year=2026)
    more = reserve_numbers_apart(session=session, prefix="TS", year=2026, count=3)
    session.commit()
    assert first == [(1, "TS-2026-000001")]
    assert [seq for seq, _ in more] == [2, 3, 4]
    assert reserve_numbers_apart(session=session, prefix="TS", year=2027) == [(1, "TS-2027-000001")]


def test_a_rolled_back_number_is_a_gap_on_postgresql_only(engine: Engine) -> None:
    with Session(engine) as session:
        reserve_numbers_apart(session=session, prefix="TS", year=2026)
        session.rollback()
    with Session(engine) as session:
        [(seq, _)] = reserve_numbers_apart(session=session, prefix="TS", year=2026)
        session.commit()
    assert seq == (2 if engine.dialect.name == "postgresql" else 1)


def test_the_counter_row_is_not_held_by_the_registering_transaction(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return  # SQLite: one writer at a time in any case
    with Session(engine) as holder, Session(engine) as other:
        reserve_numbers_apart(session=holder, prefix="TS", year=2026)  # holder's transaction stays open
        other.execute(text("SET LOCAL lock_timeout = '2s'"))
        # In the holder's transaction this would wait for the holder to end, and fail after 2 s.
        [(seq, _)] = reserve_numbers(session=other, prefix="TS", year=2026)
        other.commit()
        holder.rollback()
    assert seq == 2
