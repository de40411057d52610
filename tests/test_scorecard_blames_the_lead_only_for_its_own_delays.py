"""按时办理率 counts a case late for its lead only where the lead's move was awaited: a delay of the 主管部门
in 核实 or 责令整改 is not the lead's, whether the flow recorded it or the case sits there overdue today; a
lead without a 主管部门 verifies its own cases and answers for that delay; and a late event written before
the events named whom they awaited counts as it always did."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from models import scorecard
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.complaints import ActionBody, OrderRectificationBody, act
from models.lifecycle import Role
from models.workflow import Actor, apply_event
from tests.conftest import Staff
from tests.test_supervision_reaches_the_department_whose_move_is_awaited import (
    DEADLINE,
    FIFTH_OVERDUE,
    case_in,
    handler_of,
    supervise_on,
)


def on_time(session: Session, today: dt.date) -> dict[str, tuple[int, int]]:
    """(on time, handled) per lead department."""
    rows = scorecard.department_scores(session=session, today=today)
    return {r.code: (r.on_time, r.handled) for r in rows if r.handled}


def test_a_case_late_in_the_competent_departments_rectification_order_is_on_time_for_its_lead(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "verified")  # 责令整改: the 主管部门's move
    supervise_on(session, calendar, FIFTH_OVERDUE)  # red, 催办, 督办, 提级 for D00's delay
    act(session=session, complaint_id=cid, action="order_rectification",
        body=OrderRectificationBody(requirements="限期付款"), actor=handler_of(session, "D00"),
        today=FIFTH_OVERDUE, calendar=calendar)  # fmt: skip
    session.commit()
    assert on_time(session, FIFTH_OVERDUE)["D01"] == (1, 1)


def test_a_case_sitting_overdue_in_the_competent_departments_stage_is_on_time_for_its_lead(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    case_in(session, calendar, "verified")
    assert on_time(session, FIFTH_OVERDUE)["D01"] == (1, 1)


def test_a_case_late_in_the_leads_own_rectification_is_late_for_it(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    case_in(session, calendar, "rectifying")
    assert on_time(session, FIFTH_OVERDUE)["D01"] == (0, 1)  # overdue today
    supervise_on(session, calendar, FIFTH_OVERDUE)
    assert on_time(session, DEADLINE)["D01"] == (0, 1)  # by its events alone


def test_a_lead_without_a_competent_department_answers_for_its_own_late_verification(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    case_in(session, calendar, "signed", lead="K01")
    assert on_time(session, FIFTH_OVERDUE)["K01"] == (0, 1)
    supervise_on(session, calendar, FIFTH_OVERDUE)
    assert on_time(session, DEADLINE)["K01"] == (0, 1)


def test_a_late_event_that_names_nobody_awaited_still_counts_against_the_lead(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "verified")
    case = session.get(Complaint, cid)
    assert case is not None
    # As the supervision steps were recorded before they named whose move they awaited.
    apply_event(session=session, case=case, event="remind", actor=Actor(name="督办员", role=Role.SUPERVISOR),
                today=FIFTH_OVERDUE, data={"overdue_working_days": 5})  # fmt: skip
    session.commit()
    assert on_time(session, DEADLINE)["D01"] == (0, 1)


def test_a_supervisors_manual_chase_of_the_competent_department_is_on_time_for_its_lead(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "verified")  # 责令整改: the 主管部门's move
    supervisor = Actor(name="督办员", role=Role.SUPERVISOR)
    act(session=session, complaint_id=cid, action="remind", body=ActionBody(), actor=supervisor,
        today=FIFTH_OVERDUE, calendar=calendar)  # fmt: skip
    act(session=session, complaint_id=cid, action="order_rectification",
        body=OrderRectificationBody(requirements="限期付款"), actor=handler_of(session, "D00"),
        today=FIFTH_OVERDUE, calendar=calendar)  # fmt: skip
    session.commit()
    assert on_time(session, FIFTH_OVERDUE)["D01"] == (1, 1)
