"""A government breach record (from a complaint) is decided by the credit office's supervisors alone
(``may_decide``), though its 认定部门 field still names the department's 主管部门: so the supervisors,
not that department, are mailed the objection to decide and chased when the decision is late; the
decider's list (GET /breaches) carries the written objection's 文号; and the record's pages name the
credit office as the deciding body, while the 双公示 field the API, exports and platform get is unchanged."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.accounts import create_user
from models.breach import PublishedBreach
from models.breach_supervision import supervise_breaches, supervision_ids
from models.calendar import WorkCalendar
from models.clock import Clock
from models.lifecycle import Role
from models.org import UserCreate
from models.outbox import Notification
from models.workflow import Actor
from notifications.render import render
from tests.conftest import Staff
from tests.test_dashboard_record_deadlines import on
from tests.test_government_credit import confirmed
from tests.web_support import sign_in

REFERENCE = "住建函〔2026〕12号"
COMPETENT = "市发展和改革委员会"  # the 主管部门 the record's 认定部门 field names
RESPONDENT = "市住房和城乡建设局"  # the department in breach


def _second_supervisor(session: Session) -> str:
    _, token = create_user(
        session=session,
        data=UserCreate(name="督办员小赵", role=Role.SUPERVISOR, email="zhao@example.gov.cn"),
    )
    session.commit()
    return token


def _objected(client: TestClient, staff: Staff, session: Session) -> PublishedBreach:
    """A confirmed government breach (2026-03-02) whose department's written objection the first supervisor
    filed the same day: its reply is due five working days later, 2026-03-09."""
    confirmed(client, staff)
    record = session.exec(select(PublishedBreach)).one()
    filed = client.post(
        f"/api/v1/government-breaches/{record.number}/objection",
        json={"reason": "已于2月底付清尾款，附银行回单", "document_reference": REFERENCE},
        headers=staff.auth("supervisor"),
    )
    assert filed.status_code == 200, filed.text
    session.expire_all()
    return session.exec(select(PublishedBreach)).one()


def _queued(session: Session, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))))


def test_the_other_supervisors_not_the_named_department_are_mailed_the_objection_to_decide(
    client: TestClient, staff: Staff, session: Session, engine: Engine, clock: Clock
) -> None:
    other = _second_supervisor(session)
    record = _objected(client, staff, session)
    [row] = _queued(session, "breach_request_received")
    # The supervisor who filed it knows; the 主管部门 the record names would get a page it cannot open.
    assert (row.recipient_kind, row.recipient_name, row.recipient_email) == (
        "supervisor",
        "督办员小赵",
        "zhao@example.gov.cn",
    )
    mail = render(row.template, row.context)
    assert "信用办（督办人员）：" in mail.text
    assert COMPETENT not in mail.text
    assert f"{RESPONDENT}就你单位认定的失信公示记录" in mail.text
    assert REFERENCE in mail.text
    # The link in the mail opens for the one it was sent to.
    path = f"/staff/breaches/{record.id}"
    assert row.context["url"].endswith(path)
    with on(engine, clock, dt.date(2026, 3, 3)) as page:
        sign_in(page, other)
        assert page.get(path).status_code == 200


def test_a_late_decision_on_a_government_record_chases_the_supervisors_alone(
    client: TestClient, staff: Staff, session: Session, calendar: WorkCalendar
) -> None:
    record = _objected(client, staff, session)
    assert record.stage_deadline == dt.date(2026, 3, 9)
    applied = supervise_breaches(
        session=session,
        ids=supervision_ids(session=session),
        actor=Actor.system("run-g"),
        today=dt.date(2026, 3, 10),
        calendar=calendar,
    )
    assert applied == 2  # red and 催办 at once
    notices = _queued(session, "breach_stage_notice")
    assert [(n.context["step"], n.recipient_kind, n.recipient_name) for n in notices] == [
        ("red", "supervisor", "督办员老李"),
        ("remind", "supervisor", "督办员老李"),
    ]
    text = render(notices[1].template, notices[1].context).text
    assert "信用办（督办人员）：" in text
    assert COMPETENT not in text


def test_the_deciders_list_carries_the_written_objections_document_reference(
    client: TestClient, staff: Staff, session: Session
) -> None:
    _objected(client, staff, session)
    listed = client.get("/api/v1/breaches", headers=staff.auth("supervisor"))
    assert listed.status_code == 200, listed.text
    [item] = listed.json()
    assert item["request_document_reference"] == REFERENCE
    # The 双公示 field stays as stored: the platform and exports read the same.
    assert item["department_name"] == COMPETENT


def test_the_record_pages_name_the_stored_deciding_department_and_staff_see_who_decides_requests(
    client: TestClient, staff: Staff, session: Session, engine: Engine, clock: Clock
) -> None:
    # The 认定部门 is the one the API, the exports, the credit platform and the register's department
    # filter give (RULEBOOK: the 主管部门 that verified the complaint): a reader counting by department gets
    # the same figures on the page and in the export. Who decides the record's objections and repairs (the
    # credit office's supervisors) is said beside it to staff, and where a request is filed.
    record = _objected(client, staff, session)
    with on(engine, clock, dt.date(2026, 3, 3)) as page:
        public = page.get(f"/register/{record.number}").text
        listed = page.get("/register").text
        sign_in(page, staff.supervisor)
        staff_page = page.get(f"/staff/breaches/{record.id}").text
    assert f'<dt>认定部门</dt><dd id="decided-by">{COMPETENT}</dd>' in public
    assert f'<dt>认定部门</dt><dd id="decided-by">{COMPETENT}</dd>' in staff_page
    assert '<dd id="requests-decided-by">由信用办（督办人员）受理并决定</dd>' in staff_page
    assert f'<td data-label="认定部门">{COMPETENT}</td>' in listed
