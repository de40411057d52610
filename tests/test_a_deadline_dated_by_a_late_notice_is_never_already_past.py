"""A stage deadline that waited for the calendar (待日历确定) and is dated by a notice loaded late is never
a day already past: like a pledge's publication day (models/publication_days.py), it is put at the third
working day after the load (models/deadlines.py ``known_late_floor``), audited as ``known_late``, and the
department is told that date. Otherwise a complaint dispatched on 31 December 2026 and the 2027 notice
loaded on 8 January would have a sign-for deadline of 5 January: told on the 8th, warned red, chased and
supervised in the same run, and counted late."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from models.calendar import load_calendar, parse_year_file
from models.calendar_admin import load_year_notice
from models.deadlines import known_late_floor
from models.outbox import Notification
from tests.conftest import Staff
from tests.test_december_pending_deadlines import (
    ADMIN,
    EXAMPLE_2027,
    case,
    dispatched,
    do,
    events,
    handler,
    pending,
    registered,
    supervise,
)

DECEMBER_31 = dt.date(2026, 12, 31)
JANUARY_8 = dt.date(2027, 1, 8)  # the 2027 notice is loaded late, on a Friday
FLOOR = dt.date(2027, 1, 13)  # the third working day after it: 11, 12, 13 January


def test_a_sign_for_deadline_dated_after_it_passed_is_put_after_the_load_and_told_so(
    session: Session, staff: Staff
) -> None:
    cid = dispatched(session, DECEMBER_31)  # signing for is due 2 working days on, in 2027
    assert pending(case(session, cid)) == (True, DECEMBER_31, 2, None)

    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN,
                     today=JANUARY_8)  # fmt: skip
    session.commit()
    calendar = load_calendar(session=session)
    assert calendar.add_working_days(DECEMBER_31, 2) == dt.date(2027, 1, 5)  # what the calendar alone gives
    assert known_late_floor(calendar, JANUARY_8) == FLOOR

    stored = case(session, cid)
    assert stored.stage_deadline == FLOOR
    # The working days grow to reach the floor: whatever counts the stage again lands no earlier.
    assert calendar.add_working_days(DECEMBER_31, stored.deadline_working_days or 0) == FLOOR
    [resolved] = events(session, "complaint", cid, "deadline_resolved")
    assert resolved.data["deadline"] == FLOOR.isoformat()
    assert resolved.data["known_late"] == {
        "computed": "2027-01-05",
        "known_on": "2027-01-08",
        "grace_working_days": 3,
        "reason": "deadline_known_late",
    }
    assert resolved.note is not None
    assert "2027-01-05" in resolved.note
    assert "2027-01-13" in resolved.note

    # The department is told the date it can still keep, not one already past.
    told = session.exec(
        select(Notification)
        .where(Notification.case_id == cid, Notification.template == "deadline_set")
        .order_by(col(Notification.id))
    ).all()
    assert told
    assert {m.context["deadline"] for m in told} == {FLOOR.isoformat()}

    # The first run after the load warns nothing, chases nothing: the stage is not late.
    supervise(session, JANUARY_8)
    supervise(session, dt.date(2027, 1, 11))
    assert events(session, "complaint", cid, "warn_red", "remind", "supervise", "escalate") == []
    supervise(session, dt.date(2027, 1, 12))
    assert [e.event for e in events(session, "complaint", cid, "warn_yellow", "warn_red")] == ["warn_yellow"]


def test_an_intake_stage_dated_late_gets_the_same_floor(session: Session, staff: Staff) -> None:
    cid = registered(session, DECEMBER_31)  # the initial review: 2 working days, in 2027
    assert pending(case(session, cid))[0] is True
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN,
                     today=JANUARY_8)  # fmt: skip
    session.commit()
    assert case(session, cid).stage_deadline == FLOOR
    [resolved] = events(session, "complaint", cid, "deadline_resolved")
    assert resolved.data["known_late"]["reason"] == "deadline_known_late"
    supervise(session, JANUARY_8)
    assert events(session, "complaint", cid, "warn_red", "remind") == []


def test_a_notice_loaded_in_time_dates_the_deadline_as_the_calendar_gives_it(
    session: Session, staff: Staff
) -> None:
    cid = dispatched(session, dt.date(2026, 12, 15))
    do(session, cid, "sign_for", handler(session), dt.date(2026, 12, 15))  # 15 working days to verify
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN,
                     today=dt.date(2026, 12, 28))  # fmt: skip
    session.commit()
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 6)  # well after the floor (31 December)
    [resolved] = events(session, "complaint", cid, "deadline_resolved")
    assert "known_late" not in resolved.data
    assert resolved.note == "办理期限已按载入的日历确定为 2027-01-06"
