"""A past period's scorecard counts each complaint for the lead department it had at the period's end: a
return (退单) or re-dispatch (改派) after that end leaves the period's figures where they were, and a
period ending after it counts the case for its new lead.

Each step's audit events are stamped with the moment it stands for (the services record the real time), so
the cases are registered and dispatched in February and returned or re-dispatched in March."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.complaints import DispatchBody, ReasonBody
from models.scorecard import Period, department_scores, period_of
from models.workflow import Actor
from tests.test_scorecard import INTAKE, _complaint, _handler, _run

FEBRUARY = period_of("month", dt.date(2026, 2, 1))
FIRST_QUARTER = period_of("quarter", dt.date(2026, 1, 1))
IN_FEBRUARY = dt.datetime(2026, 2, 27, 2, tzinfo=dt.UTC)
IN_MARCH = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
# The business day of each step (the return window counts from the dispatch's).
FEB_DAY, MAR_DAY = dt.date(2026, 2, 27), dt.date(2026, 3, 2)


def _last_seq(session: Session, case: Complaint) -> int:
    seq = session.exec(
        select(func.max(CaseEvent.seq)).where(
            CaseEvent.case_kind == "complaint", CaseEvent.case_id == case.id
        )
    ).one()
    return int(seq or 0)


def _step(
    session: Session,
    calendar: WorkCalendar,
    case: Complaint,
    at: dt.datetime,
    *steps: tuple[Actor, str, Any],
) -> None:
    """Run ``steps`` and stamp the events they recorded with ``at``."""
    since = _last_seq(session, case)
    _run(session, calendar, at.date(), case, *steps)
    session.execute(
        update(CaseEvent)
        .where(
            col(CaseEvent.case_kind) == "complaint",
            col(CaseEvent.case_id) == case.id,
            col(CaseEvent.seq) > since,
        )
        .values(at=at)
    )
    session.commit()


def _in_february(session: Session, calendar: WorkCalendar, lead: str) -> Complaint:
    """A complaint registered and dispatched to ``lead`` in February."""
    case = _complaint(session, calendar, FEB_DAY, lead)
    session.execute(update(CaseEvent).where(col(CaseEvent.case_id) == case.id).values(at=IN_FEBRUARY))
    session.execute(update(Complaint).where(col(Complaint.id) == case.id).values(created_at=IN_FEBRUARY))
    session.commit()
    return case


def _handled(session: Session, period: Period) -> dict[str, int]:
    rows = department_scores(session=session, today=MAR_DAY, period=period)
    return {r.code: r.handled for r in rows if r.handled}


@pytest.mark.usefixtures("staff")
def test_a_return_and_redispatch_after_the_period_leave_its_scorecard_unchanged(
    session: Session, calendar: WorkCalendar
) -> None:
    d01 = _handler(session, "D01")
    redispatched = _in_february(session, calendar, "D01")
    returned = _in_february(session, calendar, "D01")
    assert _handled(session, FEBRUARY) == {"D01": 2}

    # In March D01 returns both; one is re-dispatched (改派) to D02, the other waits for it.
    _step(
        session, calendar, redispatched, IN_MARCH,
        (d01, "return_order", ReasonBody(reason="不属于本部门职责")),
        (INTAKE, "dispatch", DispatchBody(lead_department_code="D02")),
    )  # fmt: skip
    _step(session, calendar, returned, IN_MARCH, (d01, "return_order", ReasonBody(reason="不属于本部门职责")))

    assert _handled(session, FEBRUARY) == {"D01": 2}
    # A period ending after the re-dispatch counts the case for its new lead, the waiting one for nobody.
    assert _handled(session, FIRST_QUARTER) == {"D02": 1}


@pytest.mark.usefixtures("staff")
def test_a_case_returned_within_the_period_counts_for_the_lead_it_was_redispatched_to(
    session: Session, calendar: WorkCalendar
) -> None:
    d01 = _handler(session, "D01")
    case = _in_february(session, calendar, "D01")
    _step(session, calendar, case, IN_FEBRUARY, (d01, "return_order", ReasonBody(reason="不属于本部门职责")))
    _step(session, calendar, case, IN_MARCH, (INTAKE, "dispatch", DispatchBody(lead_department_code="D02")))

    # Nobody led it at February's end: the department that took it on counts it, not the one that refused it.
    assert _handled(session, FEBRUARY) == {"D02": 1}


@pytest.mark.usefixtures("staff")
def test_a_case_redispatched_twice_after_the_period_counts_for_its_lead_then_and_its_last_lead_later(
    session: Session, calendar: WorkCalendar
) -> None:
    d01 = _handler(session, "D01")
    first = _in_february(session, calendar, "D01")
    _in_february(session, calendar, "D02")
    # Re-dispatched twice after February: D01 → D02 → D00.
    _step(
        session, calendar, first, IN_MARCH,
        (d01, "return_order", ReasonBody(reason="不属于本部门职责")),
        (INTAKE, "dispatch", DispatchBody(lead_department_code="D02")),
        (_handler(session, "D02"), "return_order", ReasonBody(reason="不属于本部门职责")),
        (INTAKE, "dispatch", DispatchBody(lead_department_code="D00")),
    )  # fmt: skip

    assert _handled(session, FEBRUARY) == {"D01": 1, "D02": 1}
    assert _handled(session, FIRST_QUARTER) == {"D00": 1, "D02": 1}
