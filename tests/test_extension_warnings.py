"""An approved extension gives the stage a new deadline with its own warning ladder: yellow before it, red
and 催办 after it, whatever fired before the old deadline; a rejected one changes nothing."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from models.calendar import WorkCalendar, load_calendar
from models.complaints.bodies import (
    ExtensionRequestBody,
    OptionalReasonBody,
    OrderRectificationBody,
    ReasonBody,
)
from tests.conftest import Staff
from tests.test_december_pending_deadlines import SUPERVISOR, case, dispatched, do, events, handler, supervise

JUNE_1 = dt.date(2026, 6, 1)  # a Monday


def rectifying(session: Session) -> int:
    """A complaint at rectification (the stage whose deadline departments most often ask to extend)."""
    lead, verifier = handler(session), handler(session, "D00")
    cid = dispatched(session, JUNE_1)
    do(session, cid, "sign_for", lead, JUNE_1)
    do(session, cid, "verify_true", verifier, JUNE_1)
    do(session, cid, "order_rectification", verifier, JUNE_1, OrderRectificationBody(requirements="限期付款"))
    return cid


def day_before(calendar: WorkCalendar, deadline: dt.date) -> dt.date:
    """The last working day before ``deadline`` (the yellow warning's day)."""
    day = deadline - dt.timedelta(days=1)
    while not calendar.is_workday(day):
        day -= dt.timedelta(days=1)
    return day


def names(session: Session, cid: int, *steps: str) -> list[str]:
    return [e.event for e in events(session, "complaint", cid, *steps)]


def test_an_extension_approved_after_the_yellow_warning_gets_its_own_yellow(
    session: Session, staff: Staff
) -> None:
    calendar = load_calendar(session=session)
    cid = rectifying(session)
    yellow_day = day_before(calendar, case(session, cid).stage_deadline)  # type: ignore[arg-type]
    supervise(session, yellow_day)
    assert case(session, cid).warning_level == "yellow"
    do(
        session,
        cid,
        "request_extension",
        handler(session),
        yellow_day,
        ExtensionRequestBody(reason="审计未完成", days=5),
    )
    do(session, cid, "approve_extension", SUPERVISOR, yellow_day, OptionalReasonBody(reason="同意"))
    assert case(session, cid).warning_level is None
    new_deadline = case(session, cid).stage_deadline
    assert new_deadline is not None
    supervise(session, day_before(calendar, new_deadline))
    assert names(session, cid, "warn_yellow") == ["warn_yellow", "warn_yellow"]


def test_an_extension_approved_after_the_old_deadline_passed_clears_red_and_warns_again_when_missed(
    session: Session, staff: Staff
) -> None:
    calendar = load_calendar(session=session)
    cid = rectifying(session)
    deadline = case(session, cid).stage_deadline
    assert deadline is not None
    # Asked for on the deadline day itself; the supervisor decides the next working day, after the run.
    do(
        session,
        cid,
        "request_extension",
        handler(session),
        deadline,
        ExtensionRequestBody(reason="审计未完成", days=10),
    )
    next_day = calendar.nth_working_day_after(deadline, 1)
    supervise(session, next_day)
    assert names(session, cid, "warn_red", "remind") == ["warn_red", "remind"]
    do(session, cid, "approve_extension", SUPERVISOR, next_day, OptionalReasonBody(reason="同意"))
    extended = case(session, cid)
    assert (extended.warning_level, extended.escalation_level) == (None, 0)  # within its new deadline
    assert extended.stage_deadline is not None
    supervise(session, calendar.nth_working_day_after(extended.stage_deadline, 1))
    assert names(session, cid, "warn_red", "remind") == ["warn_red", "remind", "warn_red", "remind"]


def test_a_rejected_extension_keeps_the_ladder_of_the_deadline(session: Session, staff: Staff) -> None:
    calendar = load_calendar(session=session)
    cid = rectifying(session)
    deadline = case(session, cid).stage_deadline
    assert deadline is not None
    yellow_day = day_before(calendar, deadline)
    supervise(session, yellow_day)
    do(
        session,
        cid,
        "request_extension",
        handler(session),
        yellow_day,
        ExtensionRequestBody(reason="审计未完成", days=5),
    )
    do(session, cid, "refuse_extension", SUPERVISOR, yellow_day, ReasonBody(reason="理由不充分"))
    assert case(session, cid).stage_deadline == deadline
    supervise(session, deadline)  # still yellow's window: no second yellow for the same deadline
    assert names(session, cid, "warn_yellow") == ["warn_yellow"]
    supervise(session, calendar.nth_working_day_after(deadline, 1))
    assert names(session, cid, "warn_red") == ["warn_red"]
