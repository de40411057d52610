"""What a department handler meets: 退单 is offered only within its window (the page and the action hold to
one rule), a rectification sent back (整改退回重办) names the new rectification deadline, and the lead
department is told a reply to the complainant (答复投诉人) is due, and by when, once the complaint is found
untrue or its rectification is accepted. A deadline in a year not loaded yet reads 待日历确定."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import API, act, dispatched_and_signed, register, set_today
from tests.web_support import sign_in

MONDAY = dt.date(2026, 3, 2)  # the client's pinned day: the case is dispatched on it


def _mails(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))))


def _dispatched(client: TestClient, staff: Staff) -> int:
    cid = int(register(client, staff)["id"])
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    return cid


def _reported(client: TestClient, staff: Staff) -> int:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="支付工程款")
    act(client, staff, "handler", cid, "report_rectification", evidence="已支付一半")
    return cid


def test_return_order_is_offered_only_within_its_window(client: TestClient, staff: Staff) -> None:
    cid = _dispatched(client, staff)
    sign_in(client, staff.handler)
    page = client.get(f"/staff/complaints/{cid}").text
    assert 'value="return_order"' in page

    set_today(client, dt.date(2026, 3, 5))  # Thursday: 3 working days after Monday's dispatch
    page = client.get(f"/staff/complaints/{cid}").text
    assert 'value="return_order"' not in page
    assert 'value="sign_for"' in page
    # The page says why, in the words the action refuses with.
    assert "已超过退单时限" in page
    body = act(client, staff, "handler", cid, "return_order", status=422, reason="不属于本单位职责")
    assert "已超过退单时限：2 个工作日内（截至 2026-03-04）可退单" in body["message"]
    assert body["last_day"] == "2026-03-04"


def test_the_work_queue_offers_return_order_only_within_its_window(client: TestClient, staff: Staff) -> None:
    cid = _dispatched(client, staff)

    def offered() -> list[str]:
        tasks = client.get(f"{API}/tasks", headers=staff.auth("handler")).json()
        [task] = [t for t in tasks if t["id"] == cid]
        return list(task["actions"])

    assert "return_order" in offered()
    set_today(client, dt.date(2026, 3, 5))  # past the window: the queue agrees with the case page
    assert "return_order" not in offered()
    assert "sign_for" in offered()


def test_a_rectification_sent_back_names_the_new_deadline(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _reported(client, staff)
    c = act(client, staff, "supervisor", cid, "send_back", reason="尚未全额支付")

    [notice] = _mails(session, cid, "rectification_review")
    assert notice.context["deadline"] == c["stage_deadline"]
    message = render(notice.template, notice.context)
    day = dt.date.fromisoformat(c["stage_deadline"])
    for part in (message.text, message.html):
        assert f"{day.year}年{day.month}月{day.day}日" in part
        assert f"{notice.context['working_days']}个工作日" in part
        assert "审核意见" in part


def test_a_sent_back_deadline_in_a_year_not_loaded_waits_for_the_calendar(
    client: TestClient, staff: Staff, session: Session
) -> None:
    set_today(client, dt.date(2026, 12, 1))
    cid = _reported(client, staff)
    set_today(client, dt.date(2026, 12, 28))
    c = act(client, staff, "supervisor", cid, "send_back", reason="尚未全额支付")
    assert (c["stage_deadline"], c["deadline_pending"]) == (None, True)

    [notice] = _mails(session, cid, "rectification_review")
    message = render(notice.template, notice.context)
    assert "待日历确定" in message.text
    assert "待日历确定" in message.html


def test_the_lead_is_told_to_reply_once_the_complaint_is_found_untrue(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    c = act(client, staff, "competent", cid, "verify_untrue", explanation="合同款项已按约支付")

    [notice] = _mails(session, cid, "complaint_reply_due")
    assert (notice.recipient_kind, notice.recipient_name) == ("department", "市住房和城乡建设局")
    assert notice.context["deadline"] == c["stage_deadline"]
    message = render(notice.template, notice.context)
    day = dt.date.fromisoformat(c["stage_deadline"])
    assert c["number"] in message.subject
    for part in (message.text, message.html):
        assert "答复投诉人" in part
        assert f"{day.year}年{day.month}月{day.day}日" in part
        assert "合同款项已按约支付" in part


def test_an_accepted_rectification_tells_the_lead_its_reply_deadline_without_an_empty_opinion(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _reported(client, staff)
    c = act(client, staff, "supervisor", cid, "accept_rectification")

    [notice] = _mails(session, cid, "rectification_review")
    assert notice.recipient_name == "市住房和城乡建设局"
    message = render(notice.template, notice.context)
    day = dt.date.fromisoformat(c["stage_deadline"])
    for part in (message.text, message.html):
        assert "审核意见" not in part
        assert "答复投诉人" in part
        assert f"{day.year}年{day.month}月{day.day}日" in part
