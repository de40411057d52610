"""Loading or correcting a year's holiday notice tells the people whose dates it sets or moves.

The mails that said 待日历确定 promised the date "另行告知"; a pledgor relies on the publication day a notice
gave. So: a deadline dated or moved is told (``deadline_set``) to the party it binds; a publication day never
moves earlier than a day the pledgor was told, and one that moves later or gets its date is told
(``pledge_publication_day_set``); a re-run tells nobody twice."""

from __future__ import annotations

import datetime as dt
import json

from sqlmodel import Session, col, select

from models.calendar import load_calendar, parse_year_notice
from models.calendar_admin import load_year_notice
from models.files import Upload
from models.lifecycle import PledgeState, Role
from models.org import Department
from models.outbox import Notification
from models.pledge import Pledge
from models.pledges import store_evidence
from models.publication import mark_overdue, publish_due, send_warnings
from models.workflow import Actor
from notifications.render import render
from tests.conftest import Staff
from tests.test_december_pending_deadlines import (
    ADMIN,
    EXAMPLE_2027,
    SYSTEM,
    case,
    dispatched,
    do,
    events,
    handler,
)
from tests.test_publication import new_pledge


def queued(session: Session, template: str, case_id: int | None = None) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.template == template)
    if case_id is not None:
        stmt = stmt.where(Notification.case_id == case_id)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def load(session: Session, **change: list[str]) -> None:
    """Load the example 2027 notice, with ``workdays`` / ``holiday_days`` added when correcting it."""
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["workdays"] += change.get("workdays", [])
    for day in change.get("holiday_days", []):
        data["holidays"].append({"name": "更正", "start": day, "end": day})
    load_year_notice(
        session=session, notice=parse_year_notice(json.dumps(data)), loaded_by="管理员", actor=ADMIN
    )
    session.commit()


def dept_name(session: Session, code: str) -> str:
    return session.exec(select(Department.name).where(Department.code == code)).one()


def overdue_pledge(session: Session) -> Pledge:
    """A pledge due 27 January 2027, overdue and warned: its notices said it is published on 4 February."""
    load(session)
    pledge = new_pledge(session, dt.date(2027, 1, 27), registered_on=dt.date(2027, 1, 4))
    assert pledge.publication_day == dt.date(2027, 2, 4)
    calendar = load_calendar(session=session)
    today = dt.date(2027, 1, 28)
    mark_overdue(session=session, ids=[pledge.id or 0], today=today, actor=SYSTEM, calendar=calendar)
    send_warnings(session=session, ids=[pledge.id or 0], today=today, actor=SYSTEM, calendar=calendar)
    session.commit()
    told = {n.context["publication_day"] for n in queued(session, "pledge_overdue", pledge.id)}
    assert told == {"2027-02-04"}
    return pledge


def test_a_corrected_notice_never_moves_a_told_publication_day_earlier(
    session: Session, staff: Staff
) -> None:
    pledge = overdue_pledge(session)
    load(session, workdays=["2027-01-30"])  # Saturday 30 January becomes a make-up working day

    session.expire_all()
    stored = session.get(Pledge, pledge.id)
    assert stored is not None
    assert stored.publication_day == dt.date(2027, 2, 4)  # not 3 February, as the calendar alone gives
    [recompute] = events(session, "pledge", pledge.id or 0, "recompute")
    assert recompute.data["new"] == "2027-02-04"
    assert recompute.data["computed"] == "2027-02-03"
    assert recompute.data["kept_told_day"] is True
    assert "维持原公示日" in (recompute.note or "")
    calendar = load_calendar(session=session)
    ids = [pledge.id or 0]
    assert (
        publish_due(session=session, ids=ids, today=dt.date(2027, 2, 3), actor=SYSTEM, calendar=calendar) == 0
    )
    assert queued(session, "pledge_publication_day_set") == []
    # The same notice loaded again records and queues nothing more.
    load(session, workdays=["2027-01-30"])
    assert len(events(session, "pledge", pledge.id or 0, "recompute")) == 1


def test_a_publication_day_moved_later_is_told_to_the_pledgor_once(session: Session, staff: Staff) -> None:
    pledge = overdue_pledge(session)
    load(session, holiday_days=["2027-02-01"])  # Monday 1 February becomes a holiday: then 春节

    session.expire_all()
    assert session.get(Pledge, pledge.id).publication_day == dt.date(2027, 2, 15)  # type: ignore[union-attr]
    [mail] = queued(session, "pledge_publication_day_set", pledge.id)
    assert (mail.recipient_kind, mail.recipient_email) == ("pledgor", "a@example.com")
    assert mail.context["told_day"] == "2027-02-04"
    assert mail.context["publication_day"] == "2027-02-15"
    assert mail.context["corrected"] is True
    text = render(mail.template, mail.context).text
    assert "由此前告知的2027年2月4日调整为2027年2月15日" in text
    assert "因节假日安排更正" in text
    load(session, holiday_days=["2027-02-01"])
    assert len(queued(session, "pledge_publication_day_set")) == 1


def test_a_pending_publication_day_that_gets_its_date_is_told(session: Session, staff: Staff) -> None:
    pledge = new_pledge(session, dt.date(2027, 1, 15), registered_on=dt.date(2026, 12, 16))
    assert pledge.publication_day is None
    [registered] = queued(session, "pledge_registered", pledge.id)
    assert registered.context["publication_day"] is None
    load(session)

    [mail] = queued(session, "pledge_publication_day_set", pledge.id)
    session.expire_all()
    day = session.get(Pledge, pledge.id).publication_day  # type: ignore[union-attr]
    assert day is not None
    assert (mail.context["told_day"], mail.context["corrected"]) == (None, False)
    assert mail.context["publication_day"] == day.isoformat()
    assert "节假日安排已载入" in render(mail.template, mail.context).text
    load(session)
    assert len(queued(session, "pledge_publication_day_set")) == 1


def test_a_pending_stage_deadline_is_told_to_the_departments_it_binds(session: Session, staff: Staff) -> None:
    late = dispatched(session, dt.date(2026, 12, 31))
    signed = dispatched(session, dt.date(2026, 12, 15))
    do(session, signed, "sign_for", handler(session), dt.date(2026, 12, 15))
    [promised] = queued(session, "complaint_dispatched", late)
    assert "另行告知" in render(promised.template, promised.context).text
    load(session)

    [told] = queued(session, "deadline_set", late)
    assert told.recipient_name == dept_name(session, "D01")
    assert (told.context["deadline"], told.context["old_deadline"]) == ("2027-01-05", None)
    assert told.context["stage_label"] == "签收"
    assert case(session, late).stage_deadline == dt.date(2027, 1, 5)
    text = render(told.template, told.context).text
    assert "2027年1月5日" in text
    assert "节假日安排已载入" in text
    # The verification binds the lead and its 主管部门, which the verify request told.
    assert {n.recipient_name for n in queued(session, "deadline_set", signed)} == {
        dept_name(session, "D01"),
        dept_name(session, "D00"),
    }
    load(session)
    assert len(queued(session, "deadline_set")) == 3


def test_a_deadline_a_corrected_notice_moves_is_told_with_the_old_date(
    session: Session, staff: Staff
) -> None:
    load(session)
    cid = dispatched(session, dt.date(2027, 1, 28))  # signing for: 2 working days, 29 and (Sunday) 31 Jan
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 31)
    load(session, holiday_days=["2027-01-29"])

    assert case(session, cid).stage_deadline == dt.date(2027, 2, 1)
    [told] = queued(session, "deadline_set", cid)
    assert told.recipient_name == dept_name(session, "D01")
    assert (told.context["old_deadline"], told.context["deadline"]) == ("2027-01-31", "2027-02-01")
    assert "由2027年1月31日调整为2027年2月1日" in render(told.template, told.context).text


def test_an_evidence_review_dated_by_the_load_is_told_to_the_pledgor(session: Session, staff: Staff) -> None:
    pledge = new_pledge(session, dt.date(2026, 12, 31), registered_on=dt.date(2026, 12, 15))
    store_evidence(session=session, pledge_id=pledge.id or 0, uploads=[Upload("许可证.pdf", b"%PDF-1.7 x")],
                   actor=Actor(name="住建经办人", role=Role.HANDLER, department_id=pledge.authority_id),
                   today=dt.date(2026, 12, 29), calendar=load_calendar(session=session))  # fmt: skip
    session.commit()
    assert session.get(Pledge, pledge.id).state == PledgeState.EVIDENCE_SUBMITTED  # type: ignore[union-attr]
    load(session)

    [told] = queued(session, "deadline_set", pledge.id)
    assert (told.recipient_kind, told.recipient_email) == ("pledgor", "a@example.com")
    assert (told.context["stage_label"], told.context["deadline"]) == ("材料核查", "2027-01-06")
