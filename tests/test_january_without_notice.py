"""A January before the year's holiday notice is loaded: complaint work goes on (RULEBOOK: never guess a
working day, but never stop working either). Cases from December 2026 have known 2026 deadlines; on
2027-01-04 the calendar does not cover 2027 until docs/calendar-example-2027.json is loaded."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from models.calendar import WorkCalendar, load_calendar, parse_year_file
from models.calendar_admin import load_year_notice
from models.complaints import ContactAttemptBody, ReasonBody, work_queue
from models.digest import queue_daily_digest
from models.errors import ValidationFailed
from models.outbox import Notification
from tests.conftest import Staff
from tests.test_december_pending_deadlines import (
    ADMIN,
    EXAMPLE_2027,
    INTAKE,
    case,
    dispatched,
    do,
    events,
    handler,
    pending,
    registered,
    supervise,
)

JANUARY_4 = dt.date(2027, 1, 4)  # a Monday, in a year without a notice


def load_2027(session: Session) -> WorkCalendar:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    return load_calendar(session=session)


def test_the_work_queue_shows_last_years_deadlines_without_a_day_count(
    session: Session, staff: Staff
) -> None:
    cid = dispatched(session, dt.date(2026, 12, 24))
    calendar = load_calendar(session=session)
    assert not calendar.covers(2027)
    [item] = work_queue(session=session, actor=handler(session), today=JANUARY_4, calendar=calendar)
    assert item.id == cid
    assert item.stage_deadline == case(session, cid).stage_deadline  # the 2026 date, shown as it is
    assert item.working_days_left is None  # not counted on a guess


def test_supervision_waits_for_the_notice_and_then_catches_up(session: Session, staff: Staff) -> None:
    cid = registered(session, dt.date(2026, 12, 24))  # the initial review is due in 2026
    before = len(events(session, "complaint", cid))
    supervise(session, JANUARY_4)  # no error, and nothing warned or chased on a guessed day
    assert len(events(session, "complaint", cid)) == before
    load_2027(session)
    supervise(session, JANUARY_4)
    assert events(session, "complaint", cid, "warn_red")


def test_a_return_is_refused_only_when_the_known_days_already_pass_the_window(
    session: Session, staff: Staff
) -> None:
    h = handler(session)
    late = dispatched(session, dt.date(2026, 12, 31))  # no 2026 working day after it: the window is open
    do(session, late, "return_order", h, JANUARY_4, ReasonBody(reason="不属于本部门职责范围"))
    assert case(session, late).lead_department_id is None
    early = dispatched(session, dt.date(2026, 12, 1))  # weeks of 2026 working days since
    with pytest.raises(ValidationFailed, match="已超过退单时限"):
        do(session, early, "return_order", h, JANUARY_4, ReasonBody(reason="不属于本部门职责范围"))


def test_a_resumed_stage_owes_its_remaining_days_from_today_and_gets_the_usual_date(
    session: Session, staff: Staff
) -> None:
    paused_on = dt.date(2026, 12, 24)
    cid = registered(session, paused_on)
    deadline = case(session, cid).stage_deadline
    assert deadline is not None
    calendar = load_calendar(session=session)
    left = calendar.working_days_between(paused_on, deadline)
    do(session, cid, "await_complainant", INTAKE, paused_on, ReasonBody(reason="待补充合同材料"))
    do(session, cid, "resume", INTAKE, JANUARY_4)
    assert pending(case(session, cid)) == (True, JANUARY_4, left, None)
    [resumed] = events(session, "complaint", cid, "resume")
    assert resumed.data["paused_working_days"] is None
    full = load_2027(session)
    # The date a resume with the notice loaded gives: the deadline moved by the working days paused.
    expected = full.add_working_days(deadline, full.working_days_between(paused_on, JANUARY_4))
    assert case(session, cid).stage_deadline == expected


def test_a_contact_attempt_is_recorded_but_not_counted_on_a_day_not_known_to_be_a_working_day(
    session: Session, staff: Staff
) -> None:
    cid = registered(session, dt.date(2026, 12, 24))
    do(session, cid, "await_complainant", INTAKE, dt.date(2026, 12, 24), ReasonBody(reason="待补充合同材料"))
    do(
        session,
        cid,
        "record_contact_attempt",
        INTAKE,
        JANUARY_4,
        ContactAttemptBody(contact_result="电话无人接听"),
    )
    [attempt] = events(session, "complaint", cid, "record_contact_attempt")
    assert (attempt.data["counted"], attempt.data["attempt"]) == (False, 0)


def test_working_days_at_least_counts_the_loaded_years_only() -> None:
    calendar = WorkCalendar()
    assert not calendar.covers(2027)
    assert calendar.working_days_at_least(dt.date(2026, 12, 30), dt.date(2027, 1, 8)) == (1, False)
    assert calendar.working_days_at_least(dt.date(2026, 12, 28), dt.date(2026, 12, 31)) == (3, True)
    assert calendar.working_days_at_least(dt.date(2027, 1, 4), dt.date(2027, 1, 8)) == (0, False)
    assert calendar.is_workday_if_known(JANUARY_4) is None
    assert calendar.is_workday_if_known(dt.date(2026, 12, 31)) is True


def test_the_digest_goes_out_on_weekdays_and_says_the_notice_is_missing(
    session: Session, staff: Staff
) -> None:
    registered(session, dt.date(2026, 12, 24))
    calendar = load_calendar(session=session)
    assert queue_daily_digest(session=session, today=dt.date(2027, 1, 9), calendar=calendar) == 0  # Saturday
    assert queue_daily_digest(session=session, today=JANUARY_4, calendar=calendar) == 2
    digests = session.exec(select(Notification).where(Notification.template == "daily_digest")).all()
    assert all("2027" in d.context["calendar_warning"] for d in digests)
