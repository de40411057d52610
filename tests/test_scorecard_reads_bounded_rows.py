"""The oversight figures read a bounded number of rows, however much history the database holds.

Each figure is shown small (a count per state, five cases per escalation level, eight weeks, a row per
department), so the rows its queries hand to Python must not grow with the cases stored: many cases in
the same state, or many old ones outside the weeks or the period shown, change the numbers only. Every
SELECT a figure issues is caught by an engine event and run again to count the rows it returns.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import scorecard
from models.accounts import department_by_code
from models.audit import CaseEvent
from models.clock import Clock
from models.complaint import Complaint
from models.lifecycle import ComplaintState as CS
from models.org import User
from tests.conftest import Staff

T = TypeVar("T")
_numbers = itertools.count(1)

# Outside the eight weeks drawn (from 2026-01-05) and the month shown (2026-03), by a long way.
LONG_AGO = dt.datetime(2024, 6, 3, 2, tzinfo=dt.UTC)
RECENTLY = dt.datetime(2026, 2, 24, 2, tzinfo=dt.UTC)
THIS_MONTH = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)


@contextmanager
def _selects(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _rows_read(session: Session, figure: Callable[[], T]) -> tuple[T, list[int]]:
    """The figure, and how many rows each of its SELECTs returned (run again on the same connection)."""
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    with _selects(bind) as seen:
        result = figure()
    conn = session.connection()
    return result, [len(conn.exec_driver_sql(sql, params).fetchall()) for sql, params in seen]


def _case(
    session: Session,
    *,
    state: CS,
    lead: int,
    created: dt.datetime,
    closed: dt.datetime | None = None,
    level: int = 0,
    late_by: int | None = None,
) -> Complaint:
    """A complaint stored as it stands (no lifecycle run), late when ``late_by`` (a user id) warned it."""
    n = next(_numbers)
    case = Complaint(
        channel="window",  # type: ignore[arg-type]
        complainant_name="示范建工集团有限公司",
        category="sme_arrears",  # type: ignore[arg-type]
        summary="拖欠工程款",
        number=f"TS{n:08d}",
        year=created.year,
        seq=n,
        tracking_password_hash="x",
        state=state,
        lead_department_id=lead,
        stage_deadline=(created + dt.timedelta(days=30)).date(),
        escalation_level=level,
        created_at=created,
        closed_at=closed,
    )
    session.add(case)
    session.flush()
    assert case.id is not None
    if late_by is not None:
        session.add(
            CaseEvent(
                case_kind="complaint",
                case_id=case.id,
                case_number=case.number,
                seq=1,
                event="warn_red",
                to_state=state,
                actor_id=late_by,
                actor_name="住建经办人",
                actor_role="handler",
                at=created,
            )
        )
    return case


def _lead_and_handler(session: Session) -> tuple[int, int]:
    dept = department_by_code(session=session, code="D01").id
    assert dept is not None
    user = session.exec(select(User).where(User.department_id == dept)).first()
    assert user is not None
    assert user.id is not None
    return dept, user.id


def test_state_counts_read_one_row_per_state_however_many_cases_share_it(
    session: Session, staff: Staff
) -> None:
    del staff
    lead, _ = _lead_and_handler(session)
    for state in (CS.SIGNED, CS.CLOSED):
        _case(session, state=state, lead=lead, created=RECENTLY)
    session.commit()
    before, rows_before = _rows_read(session, lambda: scorecard.state_counts(session=session))

    for _ in range(40):
        _case(session, state=CS.SIGNED, lead=lead, created=LONG_AGO)
    session.commit()
    after, rows_after = _rows_read(session, lambda: scorecard.state_counts(session=session))

    assert rows_after == rows_before == [2]
    signed = {c.state: c.count for c in before}[CS.SIGNED]
    assert {c.state: c.count for c in after}[CS.SIGNED] == signed + 40


def test_escalation_ladder_reads_the_counts_and_only_the_sampled_cases(
    session: Session, staff: Staff
) -> None:
    del staff
    lead, _ = _lead_and_handler(session)
    for level in (0, 2):
        for _ in range(2):
            _case(session, state=CS.SIGNED, lead=lead, created=RECENTLY, level=level)
    session.commit()
    before, rows_before = _rows_read(session, lambda: scorecard.escalation_ladder(session=session, sample=2))

    for level in (0, 2):
        for _ in range(30):
            _case(session, state=CS.SIGNED, lead=lead, created=LONG_AGO, level=level)
    session.commit()
    after, rows_after = _rows_read(session, lambda: scorecard.escalation_ladder(session=session, sample=2))

    # The counts per level (two levels), then two cases for each level that has any.
    assert rows_after == rows_before == [2, 2, 2]
    assert [(r.level, r.count) for r in before] == [(0, 2), (1, 0), (2, 2), (3, 0)]
    assert [(r.level, r.count, len(r.cases)) for r in after] == [(0, 32, 2), (1, 0, 0), (2, 32, 2), (3, 0, 0)]
    # Earliest deadline first: the old cases, whose deadlines passed long ago, are the ones shown now.
    assert all(number not in after[0].numbers for number in before[0].numbers)


def test_weekly_flow_does_not_read_cases_older_than_the_weeks_drawn(
    session: Session, staff: Staff, clock: Clock, today: dt.date
) -> None:
    del staff
    lead, _ = _lead_and_handler(session)
    _case(session, state=CS.SIGNED, lead=lead, created=RECENTLY)
    # Opened before the weeks drawn but closed within them: its closing is still counted.
    _case(session, state=CS.CLOSED, lead=lead, created=LONG_AGO, closed=RECENTLY)
    session.commit()

    def flow() -> list[scorecard.WeekFlow]:
        return scorecard.weekly_flow(session=session, clock=clock, today=today)

    before, rows_before = _rows_read(session, flow)
    for _ in range(40):
        _case(session, state=CS.CLOSED, lead=lead, created=LONG_AGO, closed=LONG_AGO + dt.timedelta(days=9))
    session.commit()
    after, rows_after = _rows_read(session, flow)

    assert rows_after == rows_before == [2]
    assert after == before
    assert (sum(w.opened for w in after), sum(w.closed for w in after)) == (1, 1)


def test_department_scores_read_a_row_per_department_for_a_period_and_for_all_time(
    session: Session, staff: Staff, today: dt.date
) -> None:
    del staff
    lead, handler = _lead_and_handler(session)
    month = scorecard.period_of("month", today)
    _case(session, state=CS.CLOSED, lead=lead, created=THIS_MONTH, closed=THIS_MONTH, late_by=handler)
    _case(session, state=CS.SIGNED, lead=lead, created=THIS_MONTH)
    # An old late case, so the all-time rows already hold every department the old cases below add to.
    _case(session, state=CS.CLOSED, lead=lead, created=LONG_AGO, closed=LONG_AGO, late_by=handler)
    session.commit()

    def in_month() -> list[scorecard.DepartmentScore]:
        return scorecard.department_scores(session=session, today=today, period=month)

    def all_time() -> list[scorecard.DepartmentScore]:
        return scorecard.department_scores(session=session, today=today)

    month_before, month_rows_before = _rows_read(session, in_month)
    ever_before, ever_rows_before = _rows_read(session, all_time)

    # Many old cases, each warned late by the department's own handler.
    for _ in range(40):
        _case(session, state=CS.CLOSED, lead=lead, created=LONG_AGO, closed=LONG_AGO, late_by=handler)
    session.commit()
    month_after, month_rows_after = _rows_read(session, in_month)
    ever_after, ever_rows_after = _rows_read(session, all_time)

    assert month_rows_after == month_rows_before
    assert ever_rows_after == ever_rows_before
    # No query returns more rows than there are departments (four).
    assert max(month_rows_after + ever_rows_after) <= 4
    assert month_after == month_before
    [month_row] = month_after
    assert (month_row.handled, month_row.on_time, month_row.closed, month_row.acted) == (2, 1, 1, 1)
    [ever_row] = ever_after
    assert (ever_row.handled, ever_row.on_time, ever_row.closed) == (43, 1, 42)
    assert ever_row.acted == ever_before[0].acted + 40
