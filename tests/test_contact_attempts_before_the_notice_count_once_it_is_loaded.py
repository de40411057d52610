"""Contact attempts recorded in a January before the year's holiday notice is loaded are counted once it
is: the working days of 无法联系办结 are worked out from the stored contact days against the calendar as it
is when the case is closed, not frozen when each attempt was recorded (models/complaints/preconditions.py
``counted_days``). Until then the refusal says which days wait for the notice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from models.calendar import load_calendar, parse_year_file
from models.calendar_admin import load_year_notice
from models.complaint import Complaint
from models.complaints import ContactAttemptBody, OptionalReasonBody
from models.complaints.bodies import ExplanationBody, ReplyBody
from models.complaints.preconditions import unmet
from models.errors import ValidationFailed
from tests.conftest import Staff
from tests.test_december_pending_deadlines import (
    ADMIN,
    EXAMPLE_2027,
    INTAKE,
    SUPERVISOR,
    case,
    dispatched,
    do,
    events,
    handler,
)

DECEMBER_21 = dt.date(2026, 12, 21)
ATTEMPTS = [dt.date(2027, 1, 4), dt.date(2027, 1, 5), dt.date(2027, 1, 6)]  # working days in the 2027 notice
JANUARY_7 = dt.date(2027, 1, 7)
NO_ANSWER = ContactAttemptBody(contact_result="电话无人接听")


def replied(session: Session) -> int:
    cid = dispatched(session, DECEMBER_21)
    do(session, cid, "sign_for", handler(session), DECEMBER_21)
    do(session, cid, "verify_untrue", handler(session, "D00"), DECEMBER_21,
       ExplanationBody(explanation="经核实，合同未约定该款项"))  # fmt: skip
    do(session, cid, "reply", handler(session), DECEMBER_21, ReplyBody(reply_text="经核实不属实，已说明。"))
    return cid


def refusal(session: Session, cid: int, today: dt.date) -> ValidationFailed | None:
    complaint = session.get(Complaint, cid)
    assert complaint is not None
    return unmet(session=session, case=complaint, action="close_unreachable", today=today,
                 calendar=load_calendar(session=session))  # fmt: skip


def test_attempts_made_before_the_notice_count_once_it_is_loaded(session: Session, staff: Staff) -> None:
    cid = replied(session)
    assert not load_calendar(session=session).covers(2027)
    for day in ATTEMPTS:
        do(session, cid, "record_contact_attempt", INTAKE, day, NO_ANSWER)
    recorded = events(session, "complaint", cid, "record_contact_attempt")
    assert [(e.data["counted"], e.data["attempt"]) for e in recorded] == [(False, 0)] * 3
    assert all(e.data["counts_once_calendar_loaded"] for e in recorded)

    # Before the notice: refused, and the refusal says the days wait for it.
    before = refusal(session, cid, ATTEMPTS[-1])
    assert before is not None
    assert "本阶段已记录 0 个工作日" in before.message
    assert "另有 3 天（2027-01-04、2027-01-05、2027-01-06）所在年份的节假日安排尚未载入" in before.message
    assert "载入后如为工作日即计入" in before.message
    assert before.details["waiting_for_calendar"] == [d.isoformat() for d in ATTEMPTS]

    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN,
                     today=JANUARY_7)  # fmt: skip
    session.commit()
    assert refusal(session, cid, JANUARY_7) is None
    do(session, cid, "close_unreachable", SUPERVISOR, JANUARY_7, OptionalReasonBody(reason="三次联系未果"))
    assert case(session, cid).state == "closed_unreachable"
    [closed] = events(session, "complaint", cid, "close_unreachable")
    assert closed.data["contact_days"] == [d.isoformat() for d in ATTEMPTS]


def test_a_day_the_loaded_notice_makes_a_holiday_never_counts(session: Session, staff: Staff) -> None:
    cid = replied(session)
    days = [dt.date(2027, 1, 1), dt.date(2027, 1, 4), dt.date(2027, 1, 5)]  # 元旦 is a holiday in 2027
    for day in days:
        do(session, cid, "record_contact_attempt", INTAKE, day, NO_ANSWER)
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN,
                     today=JANUARY_7)  # fmt: skip
    session.commit()
    after = refusal(session, cid, JANUARY_7)
    assert after is not None
    assert "本阶段已记录 2 个工作日（2027-01-04、2027-01-05）" in after.message
    assert "尚未载入" not in after.message
    with pytest.raises(ValidationFailed, match="本阶段已记录 2 个工作日"):
        do(session, cid, "close_unreachable", SUPERVISOR, JANUARY_7, OptionalReasonBody(reason="联系未果"))
    # The next attempt, on a day known to be a working day, counts as the third.
    do(session, cid, "record_contact_attempt", INTAKE, JANUARY_7, ContactAttemptBody(contact_result="关机"))
    last = events(session, "complaint", cid, "record_contact_attempt")[-1]
    assert (last.data["counted"], last.data["attempt"]) == (True, 3)
    assert "counts_once_calendar_loaded" not in last.data
    do(session, cid, "close_unreachable", SUPERVISOR, JANUARY_7, OptionalReasonBody(reason="联系未果"))
