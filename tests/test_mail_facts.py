"""The mails state the right facts: read the rendered text of what each step queues (issue 15)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.outbox import Notification
from models.publication import sweep
from models.settings import get_settings
from notifications.catalogue import TEMPLATES
from notifications.render import RenderedMessage, render
from notifications.sink_store import SinkMessage
from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed, register
from tests.test_publication import SYSTEM, new_pledge
from tests.web_support import sign_in

PLACEHOLDER = "XX市社会信用体系建设领导小组办公室"


def queued(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))))


def rendered(row: Notification) -> RenderedMessage:
    return render(row.template, row.context)


def test_mails_are_signed_by_the_configured_sender_organisation(monkeypatch: pytest.MonkeyPatch) -> None:
    sample: dict[str, Any] = TEMPLATES["complaint_return_visit"].sample
    # Nothing configured: the shipped placeholder is never printed, the platform signs.
    message = render("complaint_return_visit", sample)
    assert PLACEHOLDER not in message.text
    assert PLACEHOLDER not in message.html
    assert "守信平台" in message.text.split("——")[0]

    monkeypatch.setenv("SHOUXIN_SENDER_ORGANISATION", "呼和浩特市社会信用体系建设领导小组办公室")
    get_settings.cache_clear()
    message = render("complaint_return_visit", sample)
    for part in (message.text, message.html):
        assert "呼和浩特市社会信用体系建设领导小组办公室" in part
        assert PLACEHOLDER not in part
    # A context naming a placeholder issuer does not bring it back.
    message = render("complaint_return_visit", dict(sample, issuer_name=PLACEHOLDER))
    assert PLACEHOLDER not in message.text


def test_dispatch_mail_names_the_signing_deadline_not_the_end_of_handling(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    case = act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    assert case["stage_deadline"] == "2026-03-04"  # 签收: 2 working days from Monday 2 March
    [row] = queued(session, cid, "complaint_dispatched")
    message = rendered(row)
    for part in (message.text, message.html):
        assert "2026年3月4日前完成签收" in part
        assert "2个工作日" in part
        assert "前办结" not in part


def test_manual_remind_before_the_deadline_goes_to_the_department_without_zero_overdue(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "supervisor", cid, "remind")
    act(client, staff, "supervisor", cid, "supervise")
    notices = queued(session, cid, "supervision_notice")
    assert [(n.recipient_kind, n.recipient_email) for n in notices] == [
        ("department", "fgw@example.gov.cn"),  # 核实 is the 主管部门's move
        ("department", "fgw@example.gov.cn"),
    ]
    for row in notices:
        message = rendered(row)
        for part in (message.text, message.html):
            assert "超期0" not in part
            assert "尚未超过期限" in part
            assert "超期原因" not in part
    # The supervisor who pressed 督办 is not told of it by mail; nobody else is a supervisor here.
    assert queued(session, cid, "escalation_alert") == []


def test_receipt_mail_says_tracking_needs_the_number_and_the_password(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    [row] = queued(session, created["id"], "complaint_received")
    message = rendered(row)
    for part in (message.text, message.html):
        assert "投诉编号和查询密码" in part
        assert created["number"] in part
        assert created["tracking_password"] not in part  # the password itself never travels by mail


def test_catch_up_sweep_skips_the_overdue_notice_whose_moment_passed_and_records_it(
    engine: Engine, session: Session, staff: Staff
) -> None:
    on_time = new_pledge(session, dt.date(2026, 2, 12), name="按时公司", code=None)
    # The sweep ran on the first overdue working day: the pledgor is told, in time.
    assert sweep(engine=engine, today=dt.date(2026, 2, 13), actor=SYSTEM).counts["overdue"] == 1
    # A pledge entered afterwards (a late paper register) with the same deadline.
    late = new_pledge(session, dt.date(2026, 2, 12), name="迟到公司", code=None)
    assert late.publication_day == dt.date(2026, 2, 28)
    # The sweep was down until after the publication day: the other is published, without a belated
    # "will be published on 28 February" in the same minute.
    counts = sweep(engine=engine, today=dt.date(2026, 3, 2), actor=SYSTEM).counts
    assert (counts["overdue"], counts["publish"]) == (1, 2)
    session.expire_all()
    mails = session.exec(select(Notification).where(Notification.case_kind == "pledge")).all()
    by_case = {(m.case_id, m.template) for m in mails}
    assert (on_time.id, "pledge_overdue") in by_case
    assert (on_time.id, "pledge_published") in by_case
    assert (late.id, "pledge_overdue") not in by_case
    assert (late.id, "pledge_published") in by_case
    event = session.exec(
        select(CaseEvent).where(
            CaseEvent.case_kind == "pledge", CaseEvent.case_id == late.id, CaseEvent.event == "mark_overdue"
        )
    ).one()
    assert event.data["notice_skipped"] == "pledge_overdue"
    assert event.data["skipped_reason"] == "publication_day_reached"


def test_the_overdue_notice_of_a_pledge_whose_publication_day_waits_for_the_calendar_says_so(
    engine: Engine, session: Session, staff: Staff
) -> None:
    # Due 28 December: its 7th working day falls in 2027, whose holiday notice is not loaded yet.
    pledge = new_pledge(session, dt.date(2026, 12, 28), registered_on=dt.date(2026, 11, 2))
    assert pledge.publication_day is None
    sweep(engine=engine, today=dt.date(2026, 12, 29), actor=SYSTEM)
    [notice] = session.exec(select(Notification).where(Notification.template == "pledge_overdue")).all()
    mail = render(notice.template, notice.context)  # it rendered None as a date, and failed
    assert "待日历确定" in mail.html
    assert "节假日安排公布后确定" in mail.text


def test_admin_pages_list_the_unsendable_with_the_phone_and_open_mail_bodies(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_SENDER_ORGANISATION", "呼和浩特市社会信用体系建设领导小组办公室")
    get_settings.cache_clear()
    # A complainant with a landline and no e-mail: the receipt cannot be sent, staff must call.
    register(client, staff, complainant_email=None, complainant_phone="0471-6951234")
    session.add(
        SinkMessage(
            received_at=dt.datetime(2026, 3, 2, 1, 5, tzinfo=dt.UTC),
            mail_from="noreply@shouxin.local",
            rcpt_tos=["zjj@example.gov.cn"],
            subject="【守信平台】转办通知",
            raw=(
                "Subject: =?utf-8?b?44CQ5a6I5L+h5bmz5Y+w44CR?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n请于2026年3月4日前完成签收。\r\n"
            ),
        )
    )
    session.commit()
    sign_in(client, staff.supervisor)
    page = client.get("/staff/admin/notifications").text
    assert "呼和浩特市社会信用体系建设领导小组办公室" in page
    undeliverable = page.split('id="undeliverable"')[1]
    assert "complaint_received" in undeliverable
    assert "请致电 0471-6951234" in undeliverable
    mail = client.get("/staff/admin/mail").text
    assert "2026-03-02 09:05" in mail  # 01:05 UTC, shown in Asia/Shanghai
    assert "请于2026年3月4日前完成签收。" in mail


def test_competent_department_is_mailed_to_verify_once_the_lead_signs_for_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)  # lead D01, whose 主管部门 is D00
    [row] = queued(session, cid, "complaint_verify_request")
    assert (row.recipient_name, row.recipient_email) == ("市发展和改革委员会", "fgw@example.gov.cn")
    message = rendered(row)
    for part in (message.text, message.html):
        assert "市住房和城乡建设局" in part
        assert "15个工作日" in part
        assert "2026年3月23日" in part  # 核实: 15 working days from the signing day, 2 March
