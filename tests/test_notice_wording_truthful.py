"""Notices tell the recipient only what is true of its case: a pledge deadline on a holiday is not "today",
and an assisting (协办) department is not asked to sign for, return or extend what only the lead may."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.outbox import Notification
from notifications.render import RenderedMessage, render
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.test_publication import new_pledge, run


def queued(session: Session, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))))


def rendered(row: Notification) -> RenderedMessage:
    return render(row.template, row.context)


def test_reminder_for_a_holiday_deadline_with_no_working_day_left_does_not_say_it_is_today(
    engine: Engine, session: Session, staff: Staff
) -> None:
    # Deadline Sunday 4 October 2026, inside the National Day holiday; Wednesday 30 September is the last
    # working day before it, so no working day is left, yet the deadline is four days away.
    new_pledge(session, dt.date(2026, 10, 4), registered_on=dt.date(2026, 9, 1))
    run(engine, dt.date(2026, 9, 30))
    [row] = queued(session, "pledge_reminder")
    assert row.context["working_days_left"] == 0
    message = rendered(row)
    for part in (message.text, message.html):
        assert "今日为期限届满日" not in part
        assert "今日后至期限届满已无工作日" in part
        assert "履约期限为2026年10月4日" in part


def test_reminder_sent_on_the_deadline_itself_says_it_is_today(
    engine: Engine, session: Session, staff: Staff
) -> None:
    # Friday 9 October 2026 is a working day; the first sweep to see the pledge runs on the deadline.
    new_pledge(session, dt.date(2026, 10, 9), registered_on=dt.date(2026, 9, 1))
    run(engine, dt.date(2026, 10, 9))
    [row] = queued(session, "pledge_reminder")
    message = rendered(row)
    for part in (message.text, message.html):
        assert "今日为期限届满日" in part
        assert "已无工作日" not in part


def test_assisting_department_is_told_it_assists_the_named_lead_not_to_sign_return_or_extend(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    dispatch = {"lead_department_code": "D01", "assisting_department_codes": ["D02"]}
    act(client, staff, "intake", cid, "dispatch", **dispatch)
    mails = {row.recipient_email: rendered(row) for row in queued(session, "complaint_dispatched")}

    lead, assisting = mails["zjj@example.gov.cn"], mails["czj@example.gov.cn"]
    for part in (assisting.text, assisting.html):
        assert "协办" in part
        assert "主办单位为" in part
        assert "市住房和城乡建设局" in part
        # Nothing the API refuses the assisting department (sign_for, return_order, request_extension).
        assert "完成签收" not in part
        assert "请在规定时限内提出退单" not in part
        assert "确需延期的" not in part
        assert "签收期限" not in part
    # The lead's mail keeps its signing deadline, return and extension instructions.
    for part in (lead.text, lead.html):
        assert "前完成签收" in part
        assert "请在规定时限内提出退单" in part
        assert "确需延期的" in part
        assert "主办单位为" not in part
    # What the mail leaves out is what the assisting department's handler cannot do.
    act(client, staff, "handler2", cid, "sign_for", status=403)
    act(client, staff, "handler2", cid, "return_order", status=403, reason="不属于本单位职责")
