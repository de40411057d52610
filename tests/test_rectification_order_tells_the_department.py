"""责令整改 is mailed to the department that must rectify, with the requirements and the deadline, as the
other stages it owes are (dispatch, verification request, breach order, redo); a deadline in a year whose
holiday notice is not loaded yet is said to wait for the calendar (待日历确定)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed, set_today

REQUIREMENTS = "按合同约定支付剩余工程款，并报送付款凭证"


def _orders(session: Session, cid: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(
        Notification.case_id == cid, Notification.template == "rectification_ordered"
    )
    return list(session.exec(stmt.order_by(col(Notification.id))))


def test_the_lead_department_is_mailed_the_requirements_and_the_deadline(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    c = act(
        client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements=REQUIREMENTS
    )
    assert c["stage_deadline"] == "2026-03-09"

    [order] = _orders(session, cid)
    assert (order.recipient_kind, order.recipient_name) == ("department", "市住房和城乡建设局")
    assert order.recipient_email == "zjj@example.gov.cn"
    message = render(order.template, order.context)
    assert "责令整改" in message.subject
    for part in (message.text, message.html):
        assert REQUIREMENTS in part
        assert "2026年3月9日" in part
    assert "整改时限：5个工作日" in message.text


def test_a_deadline_in_a_year_not_loaded_is_said_to_wait_for_the_calendar(
    client: TestClient, staff: Staff, session: Session
) -> None:
    set_today(client, dt.date(2026, 12, 21))
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    set_today(client, dt.date(2026, 12, 28))
    c = act(client, staff, "competent", cid, "order_rectification", requirements=REQUIREMENTS)
    assert (c["stage_deadline"], c["deadline_pending"]) == (None, True)

    [order] = _orders(session, cid)
    assert order.context["deadline"] is None
    message = render(order.template, order.context)
    assert "待日历确定" in message.text
    assert "待日历确定" in message.html
