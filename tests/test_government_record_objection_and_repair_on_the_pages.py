"""A department's written objection or repair request on its government breach record (from a complaint:
拒不整改 confirmed by the credit office): the credit office files it on the record's staff page, through the
same services as the API, only when it would be taken; the decider reads the written objection's 文号; the
department is mailed the acknowledgement and the decision; and 谁认定、谁修复: only supervisors decide it,
never a department's handlers (neither the department in breach, nor its 主管部门)."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.breach_requests import staff_views
from models.clock import Clock
from models.files import CaseFile
from models.outbox import Notification
from tests.conftest import Staff
from tests.test_case_files import PDF
from tests.test_complaints_api import API, act, register
from tests.test_dashboard_record_deadlines import on
from tests.test_government_credit import confirmed
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_FIELD

OBJECTION_DAY = dt.date(2026, 3, 3)
REPAIR_DAY = dt.date(2026, 6, 2)  # the 一般 record's minimum period past (JDRQ 2026-03-02)
REFERENCE = "住建函〔2026〕12号"


def _record(session: Session) -> PublishedBreach:
    session.expire_all()
    return session.exec(select(PublishedBreach)).one()


def _mails(session: Session, template: str) -> list[tuple[str, str | None]]:
    session.expire_all()
    stmt = select(Notification).where(Notification.template == template).order_by(col(Notification.id))
    return [(n.recipient_name, n.recipient_email) for n in session.exec(stmt).all()]


def _file(
    page: TestClient, record: PublishedBreach, kind: str, data: dict[str, str], files: list[tuple[str, bytes]]
) -> httpx.Response:
    token = csrf_of(page, f"/staff/breaches/{record.id}")
    return page.post(
        f"/staff/breaches/{record.id}/file/{kind}",
        data={CSRF_FIELD: token, **data},
        files=[("files", f) for f in files] or None,
        follow_redirects=False,
    )


def _decide(client: TestClient, staff: Staff, who: str, record: PublishedBreach, action: str) -> int:
    response = client.post(
        f"{API}/breaches/{record.id}/actions/{action}", json={"reason": "经复核"}, headers=staff.auth(who)
    )
    return response.status_code


def test_the_credit_office_files_a_departments_written_objection_on_the_record_page(
    client: TestClient, staff: Staff, session: Session, engine: Engine, clock: Clock
) -> None:
    confirmed(client, staff)
    record = _record(session)
    objection = f'action="/staff/breaches/{record.id}/file/objection"'
    repair = f'action="/staff/breaches/{record.id}/file/repair"'
    with on(engine, clock, OBJECTION_DAY) as page:
        sign_in(page, staff.supervisor)
        shown = page.get(f"/staff/breaches/{record.id}").text
        assert "登记部门书面异议" in shown
        assert objection in shown
        # Not offered before the department has rectified and the minimum period is past: it would be refused.
        assert repair not in shown
        assert "尚未提交违约失信原因的书面说明" in shown
        body = {"reason": "已付清尾款", "document_reference": REFERENCE}
        filed = _file(page, record, "objection", body, [("书面异议.pdf", PDF)])
        assert filed.status_code == 303, filed.text
        assert filed.headers["location"] == f"/staff/breaches/{record.id}?filed=objection"
        after = page.get(filed.headers["location"]).text
    assert _record(session).state == "under_objection"
    assert "已完成操作：登记部门书面异议" in after
    # The decider reads the written objection's 文号 with the reason and the file.
    assert f'<dd id="request-document-reference">{REFERENCE}</dd>' in after
    assert "书面异议.pdf" in after
    assert objection not in after  # under objection: no second one
    assert [f.filename for f in session.exec(select(CaseFile)).all()] == ["书面异议.pdf"]
    [view] = staff_views(session=session, records=[_record(session)])
    assert view["request_document_reference"] == REFERENCE
    # The department is told its objection was filed, at its address.
    assert _mails(session, "objection_received") == [("市住房和城乡建设局", "zjj@example.gov.cn")]


def _file_as_handler(page: TestClient, record: PublishedBreach) -> int:
    token = csrf_of(page, "/staff")
    response = page.post(
        f"/staff/breaches/{record.id}/file/objection",
        data={CSRF_FIELD: token, "reason": "本局异议"},
        follow_redirects=False,
    )
    return response.status_code


def test_a_refused_filing_redraws_the_page_with_the_reason_and_files_nothing(
    client: TestClient, staff: Staff, session: Session, engine: Engine, clock: Clock
) -> None:
    confirmed(client, staff)
    record = _record(session)
    with on(engine, clock, OBJECTION_DAY) as page:
        sign_in(page, staff.supervisor)
        refused = _file(page, record, "objection", {"reason": "  ", "document_reference": REFERENCE}, [])
    assert refused.status_code == 422
    assert "请填写异议理由" in refused.text
    assert f'value="{REFERENCE}"' in refused.text  # what was typed is kept
    assert _record(session).state == "published"
    with on(engine, clock, OBJECTION_DAY) as page:
        sign_in(page, staff.handler)
        assert _file_as_handler(page, record) == 403


def test_the_repair_form_is_offered_once_the_department_rectified_and_the_period_passed(
    client: TestClient, staff: Staff, session: Session, engine: Engine, clock: Clock
) -> None:
    cid = confirmed(client, staff)
    record = _record(session)
    repair = f'action="/staff/breaches/{record.id}/file/repair"'
    with on(engine, clock, REPAIR_DAY) as page:
        sign_in(page, staff.supervisor)
        assert repair not in page.get(f"/staff/breaches/{record.id}").text  # no written explanation yet
    act(
        client, staff, "handler", cid, "submit_explanation",
        written_explanation="资金未到位", rectification="已分期支付完毕",
    )  # fmt: skip
    with on(engine, clock, REPAIR_DAY - dt.timedelta(days=1)) as page:
        sign_in(page, staff.supervisor)
        early = page.get(f"/staff/breaches/{record.id}").text
        assert repair not in early
        assert "最短公示期未满" in early
    with on(engine, clock, REPAIR_DAY) as page:
        sign_in(page, staff.supervisor)
        assert repair in page.get(f"/staff/breaches/{record.id}").text
        filed = _file(
            page, record, "repair", {"statement": "已全额支付", "repair_pledge": "今后按期支付"}, []
        )
        assert filed.status_code == 303, filed.text
        assert "已完成操作：登记部门信用修复申请" in page.get(filed.headers["location"]).text
    assert _record(session).state == "repair_requested"
    assert _mails(session, "repair_received") == [("市住房和城乡建设局", "zjj@example.gov.cn")]
    # Decided by the supervisors; the department is mailed the outcome.
    assert _decide(client, staff, "supervisor", record, "approve_repair") == 200
    assert _mails(session, "repair_decision") == [("市住房和城乡建设局", "zjj@example.gov.cn")]


def test_the_department_is_mailed_the_decision_on_its_objection(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    record = _record(session)
    filed = client.post(
        f"{API}/government-breaches/{record.number}/objection",
        json={"reason": "已付清尾款", "document_reference": REFERENCE},
        headers=staff.auth("supervisor"),
    )
    assert filed.status_code == 200, filed.text
    assert _decide(client, staff, "supervisor", record, "reject_objection") == 200
    assert _mails(session, "objection_decision") == [("市住房和城乡建设局", "zjj@example.gov.cn")]


def test_no_handler_decides_a_government_record_not_even_its_competent_department(
    client: TestClient, staff: Staff, session: Session, engine: Engine, clock: Clock
) -> None:
    confirmed(client, staff)
    record = _record(session)
    filed = client.post(
        f"{API}/government-breaches/{record.number}/objection",
        json={"reason": "已付清尾款"},
        headers=staff.auth("supervisor"),
    )
    assert filed.status_code == 200, filed.text

    def queued(who: str) -> list[list[str]]:
        tasks = client.get(f"{API}/tasks", headers=staff.auth(who)).json()
        return [t["actions"] for t in tasks if t["kind"] == "breach"]

    # D00, the 主管部门 the record names as 认定部门: no queue entry, no buttons, refused as a stranger.
    assert queued("competent") == []
    assert queued("supervisor") == [["uphold_withdraw", "uphold_correct", "reject_objection"]]
    with on(engine, clock, OBJECTION_DAY) as page:
        sign_in(page, staff.competent)
        assert page.get(f"/staff/breaches/{record.id}").status_code == 404
    assert _decide(client, staff, "competent", record, "uphold_withdraw") == 404
    with on(engine, clock, OBJECTION_DAY) as page:
        sign_in(page, staff.supervisor)
        assert (
            f"/staff/breaches/{record.id}/act/uphold_withdraw"
            in page.get(f"/staff/breaches/{record.id}").text
        )
    assert _decide(client, staff, "supervisor", record, "uphold_withdraw") == 200


def test_a_department_without_a_competent_department_does_not_decide_its_own_breach(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D00")
    act(client, staff, "competent", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    act(
        client,
        staff,
        "competent",
        cid,
        "record_refusal",
        refusal_facts="拒绝支付",
        document_reference="发改函8号",
    )
    act(client, staff, "supervisor", cid, "confirm_breach", reason="拒不整改")
    record = _record(session)
    assert record.subject_name == "市发展和改革委员会"
    filed = client.post(
        f"{API}/government-breaches/{record.number}/objection",
        json={"reason": "我局认为不成立"},
        headers=staff.auth("supervisor"),
    )
    assert filed.status_code == 200, filed.text
    # D00's own handler ("competent" is D00's) may not withdraw D00's breach.
    assert _decide(client, staff, "competent", record, "uphold_withdraw") == 404
    assert client.get(f"{API}/breaches", headers=staff.auth("competent")).json() == []
    assert _record(session).state == "under_objection"
