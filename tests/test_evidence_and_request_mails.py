"""Mails of the pledge and breach side (issue 15): the pledgor is told when evidence arrives and when it is
accepted; whoever decides is told of an objection or a repair request. Each test reads the
rendered text of what the step queued (the templates render under StrictUndefined)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.accounts import create_user
from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.lifecycle import Role
from models.org import UserCreate
from models.outbox import Notification
from models.register.requests import request_repair
from notifications.catalogue import TEMPLATES
from notifications.render import render
from tests.conftest import Staff
from tests.test_government_credit import confirmed
from tests.test_pledge_evidence import PDF, new_pledge
from tests.test_publication import CODE
from tests.test_register import access_code, publish


def _queued(session: Session, template: str, case_kind: str, case_id: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(
        Notification.template == template,
        Notification.case_kind == case_kind,
        Notification.case_id == case_id,
    )
    return list(session.exec(stmt.order_by(col(Notification.id))))


def test_the_pledgor_is_mailed_when_evidence_arrives_and_when_it_is_accepted(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pledge = new_pledge(client, staff)  # deadline 2026-04-30; today is pinned to 2026-03-02
    pid = int(pledge["id"])
    url = f"/api/v1/public/pledges/{pledge['number']}/evidence"
    sent = client.post(url, data={"access_code": pledge["access_code"]}, files={"file": ("合格书.pdf", PDF)})
    assert sent.status_code == 201, sent.text

    [received] = _queued(session, "pledge_evidence_received", "pledge", pid)
    assert received.recipient_email == "a@example.com"
    mail = render(received.template, received.context)
    assert pledge["number"] in mail.subject
    for part in (mail.text, mail.html):
        assert "合格书.pdf" in part
        assert "2026年3月2日" in part  # the day it arrived
        assert "市住房和城乡建设局" in part  # who reviews it
        assert "2026年3月9日" in part  # 5 working days after the day it arrived
        assert "核查期间该承诺不予公示" in part  # evidence on time holds publication
    assert _queued(session, "pledge_evidence_accepted", "pledge", pid) == []

    confirmed = client.post(f"/api/v1/pledges/{pid}/actions/confirm", json={}, headers=staff.auth("handler"))
    assert confirmed.status_code == 200, confirmed.text
    [accepted] = _queued(session, "pledge_evidence_accepted", "pledge", pid)
    assert accepted.recipient_email == "a@example.com"
    mail = render(accepted.template, accepted.context)
    assert "核查通过" in mail.subject
    for part in (mail.text, mail.html):
        assert "施工图审查合格书" in part
        assert "市住房和城乡建设局" in part
        assert "2026年3月2日" in part
        assert "不予公示" in part


def test_late_evidence_that_does_not_hold_publication_says_so() -> None:
    sample = dict(TEMPLATES["pledge_evidence_received"].sample, held=False)
    mail = render("pledge_evidence_received", sample)
    for part in (mail.text, mail.html):
        assert "不予公示" not in part
        assert "仍将按期公示" in part
        assert "2026年4月30日" in part  # the pledge's deadline it missed


def test_an_objection_mails_the_deciding_department_with_the_reason_and_the_deadline(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    lodged = client.post(
        f"/api/v1/public/breaches/{breach.number}/objection",
        json={
            "access_code": access_code(session, breach),
            "reason": "已按期提交材料",
            "evidence": "快递单号 SF123",
        },
    )
    assert lodged.status_code == 201, lodged.text
    assert breach.id is not None
    [row] = _queued(session, "breach_request_received", "breach", breach.id)
    assert (row.recipient_kind, row.recipient_email) == ("department", "zjj@example.gov.cn")
    mail = render(row.template, row.context)
    assert "失信公示异议待处理" in mail.subject
    assert breach.number in mail.subject
    for part in (mail.text, mail.html):
        assert "市住房和城乡建设局" in part
        assert "示范建设有限公司" in part
        assert "已按期提交材料" in part
        assert "快递单号 SF123" in part
        assert "2026年3月9日" in part  # the reply deadline the subject was told
        assert f"/staff/breaches/{breach.id}" in part


def test_a_repair_request_mails_the_deciding_department(
    engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    request_repair(
        session=session,
        number=breach.number,
        access_code=code,
        statement="已补交合格书",
        repair_pledge="今后按期履约",
        today=dt.date(2026, 6, 1),
        calendar=load_calendar(session=session),
    )
    session.commit()
    assert breach.id is not None
    [row] = _queued(session, "breach_request_received", "breach", breach.id)
    assert row.recipient_email == "zjj@example.gov.cn"
    mail = render(row.template, row.context)
    assert "信用修复申请待处理" in mail.subject
    for part in (mail.text, mail.html):
        assert "纠正失信行为的说明" in part
        assert "已补交合格书" in part
        assert "信用修复承诺" in part
        assert "今后按期履约" in part
        assert "3个工作日" in part
        assert "2026年6月4日" in part  # 3 working days after Monday 1 June


def test_a_departments_objection_filed_by_the_credit_office_mails_the_other_supervisors(
    client: TestClient, staff: Staff, session: Session
) -> None:
    create_user(
        session=session,
        data=UserCreate(name="督办员小赵", role=Role.SUPERVISOR, email="zhao@example.gov.cn"),
    )
    session.commit()
    confirmed(client, staff)
    record = session.exec(select(PublishedBreach)).one()
    filed = client.post(
        f"/api/v1/government-breaches/{record.number}/objection",
        json={"reason": "已于2月底付清尾款，附银行回单", "document_reference": "住建函〔2026〕12号"},
        headers=staff.auth("supervisor"),
    )
    assert filed.status_code == 200, filed.text
    assert record.id is not None
    [row] = _queued(session, "breach_request_received", "breach", record.id)
    # The credit office's supervisors decide (谁认定、谁修复), not the 主管部门 the record names; the one
    # who filed it knows already.
    assert (row.recipient_name, row.recipient_email) == ("督办员小赵", "zhao@example.gov.cn")
    text = render(row.template, row.context).text
    assert "市住房和城乡建设局就你单位认定的失信公示记录" in text
    assert "已于2月底付清尾款，附银行回单" in text
    assert "住建函〔2026〕12号" in text
