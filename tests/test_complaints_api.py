"""Complaints end to end through the HTTP API, with real users of each role, checking the database too."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from api.main import create_app
from models.accounts import create_user, import_departments
from models.audit import CaseEvent
from models.clock import Clock
from models.complaint import Category, CategoryRule, Complaint, ComplaintAssignment
from models.db import make_engine
from models.lifecycle import Role
from models.org import Department, UserCreate
from models.outbox import Notification
from tests.conftest import DEPARTMENTS, Staff

API = "/api/v1"

BODY: dict[str, Any] = {
    "channel": "hotline",
    "complainant_name": "某某建筑工程有限公司",
    "complainant_phone": "13800000001",
    "complainant_email": "boss@example.com",
    "complainant_credit_code": "91440300708461136T",
    "respondent_department_code": "D01",
    "category": "sme_arrears",
    "amount": "1250000.00",
    "summary": "工程竣工验收后工程款逾期未支付",
    "description": "2024年完成的道路工程，至今未付尾款。",
    "attachments": ["contract.pdf"],
}


def register(client: TestClient, staff: Staff, **overrides: Any) -> dict[str, Any]:
    response = client.post(f"{API}/complaints", json={**BODY, **overrides}, headers=staff.auth("intake"))
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"  # it carries the tracking password
    data: dict[str, Any] = response.json()
    return data


def act(
    client: TestClient, staff: Staff, who: str, cid: int, action: str, status: int = 200, **body: Any
) -> dict[str, Any]:
    response = client.post(f"{API}/complaints/{cid}/actions/{action}", json=body, headers=staff.auth(who))
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


def set_today(client: TestClient, day: dt.date) -> None:
    app: Any = client.app
    app.state.clock = Clock(tz=app.state.clock.tz, pinned_today=day)


def events(session: Session, cid: int) -> list[str]:
    session.expire_all()
    rows = session.exec(select(CaseEvent).where(CaseEvent.case_id == cid).order_by(col(CaseEvent.seq)))
    return [e.event for e in rows]


def mails(session: Session, cid: int) -> list[tuple[str, str]]:
    session.expire_all()
    rows = session.exec(
        select(Notification).where(Notification.case_id == cid).order_by(col(Notification.id))
    )
    return [(n.template, n.recipient_name) for n in rows]


def get(session: Session, cid: int) -> Complaint:
    session.expire_all()
    complaint = session.get(Complaint, cid)
    assert complaint is not None
    return complaint


def dispatched_and_signed(client: TestClient, staff: Staff) -> int:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    return int(cid)


def test_register_returns_the_password_once_and_queues_the_receipt(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    assert created["number"] == "TS-2026-000001"
    assert created["state"] == "registered"
    symbol = "[A-HJKMNP-Z2-9]"  # no 0/O, 1/I/L
    assert re.fullmatch(f"{symbol}{{4}}-{symbol}{{4}}-{symbol}{{4}}", created["tracking_password"])
    assert created["stage_deadline"] == "2026-03-04"  # initial review: 2 working days from Monday
    assert "tracking_password_hash" not in created
    again = client.get(f"{API}/complaints/{created['id']}", headers=staff.auth("intake")).json()
    assert "tracking_password" not in again
    complaint = get(session, created["id"])
    assert complaint.tracking_password_hash.startswith("hmac-sha256$")
    assert complaint.respondent_name == "市住房和城乡建设局"
    assert events(session, created["id"]) == ["register"]
    [mail] = session.exec(select(Notification)).all()
    assert mail.template == "complaint_received"
    assert mail.recipient_email == "boss@example.com"
    assert mail.context["channel_label"] == "12345热线"
    assert mail.context["received_on"] == "2026-03-02"
    assert mail.idempotency_key == f"complaint:{created['id']}:1:complaint_received:complainant"


def test_register_refuses_bad_input_with_field_messages(client: TestClient, staff: Staff) -> None:
    no_contact = {**BODY, "complainant_phone": None, "complainant_email": None}
    response = client.post(f"{API}/complaints", json=no_contact, headers=staff.auth("intake"))
    assert response.status_code == 422
    assert "联系电话和电子邮箱至少填写一项" in response.json()["message"]
    bad_code = {**BODY, "complainant_credit_code": "91440300708461136A"}
    response = client.post(f"{API}/complaints", json=bad_code, headers=staff.auth("intake"))
    assert response.status_code == 422
    unknown_dept = {**BODY, "respondent_department_code": "X99"}
    response = client.post(f"{API}/complaints", json=unknown_dept, headers=staff.auth("intake"))
    assert response.status_code == 422
    assert "X99" in response.json()["message"]
    response = client.post(f"{API}/complaints", json=BODY, headers=staff.auth("handler"))
    assert response.status_code == 403


def test_the_whole_walk(client: TestClient, staff: Staff, session: Session) -> None:
    session.add(CategoryRule(category=Category.SME_ARREARS, rectification_working_days=10))
    session.commit()
    cid = register(client, staff)["id"]

    offered = client.get(f"{API}/complaints/{cid}/actions", headers=staff.auth("intake")).json()
    assert [a["event"] for a in offered] == ["accept", "reject", "merge", "withdraw", "await_complainant"]
    assert offered[1]["fields"] == ["reason", "route", "route_detail"]
    act(client, staff, "intake", cid, "accept")

    # Dispatch to a lead and an assisting department: both are told, both can see the case.
    c = act(
        client,
        staff,
        "intake",
        cid,
        "dispatch",
        lead_department_code="D01",
        assisting_department_codes=["D02"],
    )
    assert c["state"] == "dispatched"
    assert c["lead_department_id"] is not None
    dispatched = [m for m in mails(session, cid) if m[0] == "complaint_dispatched"]
    assert dispatched == [
        ("complaint_dispatched", "市住房和城乡建设局"),
        ("complaint_dispatched", "市财政局"),
    ]
    sent = session.exec(select(Notification).where(Notification.template == "complaint_dispatched")).all()
    roles = {n.recipient_name: n.context["role_label"] for n in sent}
    assert roles["市财政局"] == "协办"
    assert client.get(f"{API}/complaints/{cid}", headers=staff.auth("handler2")).status_code == 200
    assert client.get(f"{API}/complaints/{cid}/actions", headers=staff.auth("handler2")).json() == []
    act(client, staff, "handler2", cid, "sign_for", status=403)

    # The lead returns it within the window, then it is re-dispatched (改派).
    set_today(client, dt.date(2026, 3, 4))
    act(client, staff, "handler", cid, "return_order", reason="不属于本单位职责，应由财政局办理")
    assert client.get(f"{API}/complaints/{cid}", headers=staff.auth("handler")).status_code == 404
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    session.expire_all()
    active = session.exec(select(ComplaintAssignment).where(col(ComplaintAssignment.active).is_(True))).all()
    assert [(a.department_id, a.lead) for a in active] == [(get(session, cid).lead_department_id, True)]

    # Signing for starts the 15-working-day verification clock.
    c = act(client, staff, "handler", cid, "sign_for")
    assert (c["state"], c["stage_deadline"]) == ("signed", "2026-03-25")
    # Verification belongs to the competent department (认定部门), not the lead itself.
    act(client, staff, "handler", cid, "verify_true", status=403)
    act(client, staff, "competent", cid, "verify_true")
    c = act(client, staff, "competent", cid, "order_rectification", requirements="十日内付清")
    assert (c["state"], c["stage_deadline"]) == ("rectifying", "2026-03-18")  # category rule: 10 days

    act(
        client, staff, "handler", cid, "report_rectification", evidence="已支付一半", attachments=["pay1.pdf"]
    )
    act(client, staff, "supervisor", cid, "send_back", reason="尚未全额支付")
    act(
        client, staff, "handler", cid, "report_rectification", evidence="已全额支付", attachments=["pay2.pdf"]
    )
    c = act(client, staff, "supervisor", cid, "accept_rectification")
    assert c["state"] == "reply_pending"
    reviews = session.exec(
        select(Notification)
        .where(Notification.template == "rectification_review")
        .order_by(col(Notification.id))
    ).all()
    assert [r.context["accepted"] for r in reviews] == [False, True]
    assert reviews[0].context["reason"] == "尚未全额支付"
    assert get(session, cid).attachments == ["contract.pdf", "pay1.pdf", "pay2.pdf"]

    act(client, staff, "handler", cid, "reply", reply_text="款项已于3月10日全额支付。")
    assert [m[0] for m in mails(session, cid)][-2:] == ["complaint_replied", "complaint_return_visit"]
    c = act(client, staff, "intake", cid, "redo", reason="投诉人称利息未付")
    assert (c["state"], c["redo_count"], c["satisfaction"]) == ("signed", 1, "不满意")

    act(client, staff, "competent", cid, "verify_untrue", explanation="利息不在合同约定范围内")
    act(client, staff, "handler", cid, "reply", reply_text="利息不在合同约定范围内，特此说明。")
    act(client, staff, "intake", cid, "close", status=422, satisfaction="很好")
    c = act(client, staff, "intake", cid, "close", satisfaction="基本满意")
    assert (c["state"], c["satisfaction"]) == ("closed", "基本满意")
    act(client, staff, "intake", cid, "reopen", status=403, reason="投诉人再次反映")
    c = act(client, staff, "supervisor", cid, "reopen", reason="投诉人再次反映")
    assert c["state"] == "reopened"

    timeline = client.get(f"{API}/complaints/{cid}/events", headers=staff.auth("supervisor")).json()
    assert [e["event"] for e in timeline] == events(session, cid)
    assert timeline[0]["label"] == "登记"
    assert timeline[1]["label"] == "受理"
    assert len(timeline) == 18
    assert [e["seq"] for e in timeline] == list(range(1, 19))


def test_reject_names_the_proper_route(client: TestClient, staff: Staff, session: Session) -> None:
    cid = register(client, staff)["id"]
    response = client.post(
        f"{API}/complaints/{cid}/actions/reject",
        json={"reason": "已起诉", "route": "other"},
        headers=staff.auth("intake"),
    )
    assert response.status_code == 422
    assert "route_detail" in response.json()["message"]
    act(client, staff, "intake", cid, "reject", status=422, reason="已起诉", route="court")
    c = act(client, staff, "intake", cid, "reject", reason="该事项已进入诉讼程序。", route="litigation")
    assert c["state"] == "not_accepted"
    [notice] = session.exec(
        select(Notification).where(Notification.template == "complaint_not_accepted")
    ).all()
    assert notice.context["route"] == "该事项属于诉讼范围，请通过人民法院依法主张权利。"
    assert notice.context["reason"] == "该事项已进入诉讼程序。"
    assert notice.context["complainant_name"] == BODY["complainant_name"]


def test_merge_keeps_both_timelines(client: TestClient, staff: Staff, session: Session) -> None:
    first = register(client, staff)
    second = register(client, staff)
    third = register(client, staff)
    act(client, staff, "intake", second["id"], "merge", status=422, target_number=third["number"])
    act(client, staff, "intake", second["id"], "merge", status=422, target_number="TS-2026-999999")
    c = act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    assert (c["state"], c["merged_into_id"]) == ("merged", first["id"])
    assert events(session, first["id"]) == ["register", "merged_in"]
    assert events(session, second["id"]) == ["register", "merge"]
    # A merged case cannot be the target of another merge.
    act(client, staff, "intake", third["id"], "merge", status=422, target_number=second["number"])
    timeline = client.get(f"{API}/complaints/{first['id']}/events", headers=staff.auth("intake")).json()
    assert timeline[1]["label"] == "并入重复投诉"
    assert timeline[1]["data"]["merged_number"] == second["number"]


def test_await_and_resume_shift_the_deadline_by_the_paused_working_days(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    before = get(session, cid)
    assert before.stage_deadline == dt.date(2026, 3, 23)
    stage = before.stage_seq
    set_today(client, dt.date(2026, 3, 4))  # Wednesday
    c = act(client, staff, "handler", cid, "await_complainant", reason="请投诉人补充合同原件")
    assert c["state"] == "awaiting_complainant"
    assert c["stage_deadline"] == "2026-03-23"
    set_today(client, dt.date(2026, 3, 9))  # Monday: Thu, Fri, Mon paused = 3 working days
    c = act(client, staff, "intake", cid, "resume")
    assert (c["state"], c["stage_deadline"]) == ("signed", "2026-03-26")
    after = get(session, cid)
    assert after.stage_seq == stage  # the same stage resumes: warnings and extension carry over
    assert (after.paused_from_state, after.paused_on) == (None, None)
    [resume] = session.exec(select(CaseEvent).where(CaseEvent.event == "resume")).all()
    assert resume.data["paused_working_days"] == 3


def test_one_extension_per_stage(client: TestClient, staff: Staff, session: Session) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "handler", cid, "request_extension", status=422, days=11, reason="需多方核对")
    act(client, staff, "supervisor", cid, "approve_extension", status=422)
    act(client, staff, "handler", cid, "request_extension", days=5, reason="需多方核对账目")
    act(client, staff, "handler", cid, "request_extension", status=422, days=2, reason="再申请")
    c = act(client, staff, "supervisor", cid, "approve_extension", reason="同意")
    assert c["stage_deadline"] == "2026-03-30"  # 2026-03-23 + 5 working days
    assert c["extension_used"] is True
    act(client, staff, "handler", cid, "request_extension", status=422, days=2, reason="再申请")
    [decision] = session.exec(select(Notification).where(Notification.template == "extension_decision")).all()
    assert decision.context == {
        "case_number": c["number"],
        "department_name": "市住房和城乡建设局",
        "approved": True,
        "days": 5,
        "new_deadline": "2026-03-30",
        "reason": "同意",
    }

    other = dispatched_and_signed(client, staff)
    act(client, staff, "handler", other, "request_extension", days=3, reason="需多方核对账目")
    c = act(client, staff, "supervisor", other, "refuse_extension", reason="理由不充分")
    assert c["stage_deadline"] == "2026-03-23"
    refused = session.exec(
        select(Notification).where(Notification.case_id == other).order_by(col(Notification.id))
    ).all()
    assert refused[-1].context["approved"] is False


def test_refusal_to_rectify_confirms_a_breach(client: TestClient, staff: Staff, session: Session) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    c = act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    assert c["stage_deadline"] == "2026-03-09"  # ordered on Monday 3/2 + 5 working days
    act(client, staff, "handler", cid, "confirm_breach", status=403, reason="拒不整改")
    set_today(client, dt.date(2026, 3, 10))  # the rectification deadline has passed
    c = act(client, staff, "supervisor", cid, "confirm_breach", reason="期限届满仍拒不整改")
    assert (c["state"], c["breach_confirmed"]) == ("explanation_ordered", True)
    dept = session.exec(select(Department).where(Department.code == "D01")).one()
    confirmed = session.exec(
        select(Complaint).where(
            col(Complaint.breach_confirmed).is_(True), Complaint.lead_department_id == dept.id
        )
    ).all()
    assert len(confirmed) == 1
    act(
        client,
        staff,
        "handler",
        cid,
        "submit_explanation",
        written_explanation="资金未到位",
        rectification="已付清",
    )
    act(client, staff, "handler", cid, "reply", reply_text="已确认违约失信并记入政务信用记录。")


def test_return_after_the_window_is_refused(client: TestClient, staff: Staff, session: Session) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    set_today(client, dt.date(2026, 3, 5))  # Thursday: 3 working days after Monday's dispatch
    body = act(client, staff, "handler", cid, "return_order", status=422, reason="不属于本单位职责")
    assert "已超过退单时限" in body["message"]
    assert body["last_day"] == "2026-03-04"
    assert events(session, cid) == ["register", "accept", "dispatch"]


def test_errors_403_404_409_422(client: TestClient, staff: Staff, session: Session) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "handler", cid, "accept", status=404)  # not the handler's case: not revealed
    act(client, staff, "admin", cid, "accept", status=403)  # admins read, the table lets them not act
    assert client.get(f"{API}/complaints/{cid}", headers=staff.auth("admin")).status_code == 200
    body = act(client, staff, "intake", cid, "close", status=409, satisfaction="满意")
    assert body["state"] == "registered"
    assert body["allowed"] == ["accept", "reject", "merge", "withdraw", "await_complainant"]
    assert "已登记" in body["message"]
    body = act(client, staff, "intake", cid, "warn_yellow", status=403)
    body = act(client, staff, "intake", cid, "no_such_action", status=409)
    assert "accept" in body["allowed"]

    body = act(client, staff, "intake", cid, "accept", status=422, unexpected="x")
    assert body["fields"][0]["field"] == "unexpected"
    act(client, staff, "intake", cid, "accept")
    response = client.post(f"{API}/complaints/{cid}/actions/dispatch", json={}, headers=staff.auth("intake"))
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "lead_department_code"
    assert "必填项" in response.json()["fields"][0]["message"]
    act(client, staff, "intake", cid, "dispatch", status=422, lead_department_code="NOPE")

    # Stale expected_version: someone else acted since the caller loaded the case.
    c = act(client, staff, "intake", cid, "dispatch", lead_department_code="D01", expected_version=2)
    assert c["version"] == 3
    act(client, staff, "handler2", cid, "sign_for", status=404)
    body = act(client, staff, "handler", cid, "sign_for", status=409, expected_version=2)
    assert body["current_version"] == 3
    assert events(session, cid) == ["register", "accept", "dispatch"]
    act(client, staff, "handler", cid, "sign_for", expected_version=3)


def test_list_filters_and_keyset_pagination(client: TestClient, staff: Staff) -> None:
    ids = [register(client, staff, summary=f"第{i}号项目工程款未付")["id"] for i in range(5)]
    other = register(
        client, staff, channel="window", summary="招商引资奖励未兑现", category="investment_attraction"
    )
    act(client, staff, "intake", ids[0], "accept")
    act(client, staff, "intake", ids[0], "dispatch", lead_department_code="D02")
    headers = staff.auth("supervisor")

    page = client.get(f"{API}/complaints", params={"limit": 4}, headers=headers).json()
    assert [c["id"] for c in page["items"]] == [other["id"], *reversed(ids[2:])]
    page2 = client.get(
        f"{API}/complaints", params={"limit": 4, "after": page["next_cursor"]}, headers=headers
    )
    assert [c["id"] for c in page2.json()["items"]] == [ids[1], ids[0]]
    assert page2.json()["next_cursor"] is None

    def found(**params: Any) -> list[int]:
        response = client.get(f"{API}/complaints", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert found(channel="window") == [other["id"]]
    assert found(q="招商") == [other["id"]]
    assert found(q=other["number"]) == [other["id"]]
    assert found(state="dispatched") == [ids[0]]
    assert found(department="D02") == [ids[0]]
    assert found(due_before="2026-03-03") == []
    assert len(found(due_before="2026-03-04")) == 6
    assert found(overdue=True) == []
    client.app.state.clock = Clock(tz=client.app.state.clock.tz, pinned_today=dt.date(2026, 3, 5))  # type: ignore[attr-defined]
    assert found(overdue=True) == [other["id"], *reversed(ids)]
    # Handlers list only their department's cases.
    handler2 = client.get(f"{API}/complaints", headers=staff.auth("handler2")).json()
    assert [c["id"] for c in handler2["items"]] == [ids[0]]
    assert client.get(f"{API}/complaints", headers=staff.auth("handler")).json()["items"] == []
    assert client.get(f"{API}/complaints", params={"state": "nope"}, headers=headers).status_code == 422


def test_work_queue(client: TestClient, staff: Staff) -> None:
    late = register(client, staff)["id"]
    soon = dispatched_and_signed(client, staff)
    set_today(client, dt.date(2026, 3, 5))
    queue = client.get(f"{API}/tasks", headers=staff.auth("intake")).json()
    assert [t["id"] for t in queue] == [late]
    assert queue[0]["working_days_left"] == -1  # due 3/4, today 3/5
    assert queue[0]["state_label"] == "已登记（待初审）"
    handler = client.get(f"{API}/tasks", headers=staff.auth("handler")).json()
    assert [(t["id"], t["working_days_left"]) for t in handler] == [(soon, 12)]
    assert "request_extension" in handler[0]["actions"]
    competent = client.get(f"{API}/tasks", headers=staff.auth("competent")).json()
    assert [t["actions"] for t in competent] == [["verify_true", "verify_untrue", "await_complainant"]]
    assert client.get(f"{API}/tasks", headers=staff.auth("handler2")).json() == []
    assert client.get(f"{API}/tasks", headers=staff.auth("admin")).json() == []


def test_public_tracking_shows_stages_and_dates_only(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    act(client, staff, "intake", created["id"], "accept")
    good = {"number": created["number"], "password": created["tracking_password"]}
    response = client.post(f"{API}/public/complaints/track", json=good)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["state_label"] == "已受理（待派单）"
    assert [s["label"] for s in data["steps"]] == ["登记", "受理"]
    assert dt.date.fromisoformat(data["steps"][0]["date"])
    text = response.text
    for secret in (BODY["complainant_name"], BODY["complainant_phone"], "受理员小王"):
        assert secret not in text
    wrong_password = client.post(f"{API}/public/complaints/track", json={**good, "password": "AAAAAAAA"})
    wrong_number = client.post(f"{API}/public/complaints/track", json={**good, "number": "TS-2026-000099"})
    assert wrong_password.status_code == wrong_number.status_code == 404
    assert wrong_password.json() == wrong_number.json()


def test_public_tracking_hides_the_deadline_while_paused(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    good = {"number": created["number"], "password": created["tracking_password"]}
    assert client.post(f"{API}/public/complaints/track", json=good).json()["stage_deadline"]
    act(client, staff, "intake", created["id"], "await_complainant", reason="请补充合同原件")
    paused = client.post(f"{API}/public/complaints/track", json=good).json()
    assert paused["state_label"] == "待投诉人补充（暂停计时）"
    assert paused["stage_deadline"] is None  # it moves when the case resumes


def test_two_handlers_at_once_one_wins(tmp_path: Path, clock: Clock) -> None:
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}", create=True)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        import_departments(session=session, items=DEPARTMENTS)
        tokens = [
            create_user(
                session=session, data=UserCreate(name=f"经办人{i}", role=Role.HANDLER, department_code="D01")
            )[1]
            for i in range(2)
        ]
        _, intake = create_user(session=session, data=UserCreate(name="受理员", role=Role.INTAKE))
        session.commit()
    client = TestClient(create_app(engine=engine, clock=clock, check_schema=False))
    headers = {"Authorization": f"Bearer {intake}"}
    cid = client.post(f"{API}/complaints", json=BODY, headers=headers).json()["id"]
    client.post(f"{API}/complaints/{cid}/actions/accept", json={}, headers=headers)
    client.post(
        f"{API}/complaints/{cid}/actions/dispatch", json={"lead_department_code": "D01"}, headers=headers
    )

    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def sign(token: str) -> None:
        barrier.wait()
        response = client.post(
            f"{API}/complaints/{cid}/actions/sign_for",
            json={"expected_version": 3},
            headers={"Authorization": f"Bearer {token}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=sign, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409]
    with Session(engine) as session:
        signs = session.exec(select(CaseEvent).where(CaseEvent.event == "sign_for")).all()
        assert len(signs) == 1
        complaint = session.get(Complaint, cid)
        assert complaint is not None
        assert (complaint.state, complaint.version) == ("signed", 4)
    engine.dispose()


def test_supervisor_can_chase_by_hand(client: TestClient, staff: Staff, session: Session) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "handler", cid, "remind", status=403)
    c = act(client, staff, "supervisor", cid, "escalate", note="多次催办未果")
    assert c["escalation_level"] == 3
    # 核实 awaits the 主管部门 (D00), which has no 主管部门 above it: it alone is told, nobody escalated to.
    assert get(session, cid).escalated_to_department_id is None
    notices = [m for m in mails(session, cid) if m[0] in ("supervision_notice", "escalation_alert")]
    assert notices == [
        ("supervision_notice", "市发展和改革委员会"),
    ]  # no escalation_alert: the only supervisor is the one who pressed 提级办理


def test_reopen_from_not_accepted_then_dispatch(client: TestClient, staff: Staff, session: Session) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "reject", reason="已申请行政复议。", route="reconsideration")
    act(client, staff, "intake", cid, "reopen", status=403, reason="复议已撤回")
    c = act(client, staff, "supervisor", cid, "reopen", reason="复议申请已撤回，属于受理范围")
    assert (c["state"], c["stage_deadline"]) == ("reopened", "2026-03-03")  # 改派: 1 working day
    c = act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    assert c["state"] == "dispatched"
    assert client.get(f"{API}/complaints/{cid}", headers=staff.auth("handler")).status_code == 200
    assert events(session, cid) == ["register", "reject", "reopen", "dispatch"]


def test_merge_an_accepted_duplicate(client: TestClient, staff: Staff, session: Session) -> None:
    first = register(client, staff)
    second = register(client, staff)
    act(client, staff, "intake", second["id"], "accept")
    c = act(client, staff, "supervisor", second["id"], "merge", target_number=first["number"])
    assert (c["state"], c["merged_into_id"]) == ("merged", first["id"])
    assert events(session, second["id"]) == ["register", "accept", "merge"]
    assert events(session, first["id"]) == ["register", "merged_in"]
    act(client, staff, "intake", second["id"], "dispatch", status=409, lead_department_code="D01")


def test_manual_remind_then_supervise(client: TestClient, staff: Staff, session: Session) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "intake", cid, "remind", status=403)
    c = act(client, staff, "supervisor", cid, "remind")
    assert c["escalation_level"] == 1
    c = act(client, staff, "supervisor", cid, "supervise", note="请书面报告进展")
    assert c["escalation_level"] == 2
    assert get(session, cid).escalated_to_department_id is None  # only 提级 moves it up
    notices = [m for m in mails(session, cid) if m[0] in ("supervision_notice", "escalation_alert")]
    assert notices == [
        ("supervision_notice", "市发展和改革委员会"),  # 核实 is the 主管部门's move
        ("supervision_notice", "市发展和改革委员会"),
    ]  # no escalation_alert: the only supervisor is the one who pressed 督办
    session.expire_all()
    steps = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == cid, col(CaseEvent.event).in_(["remind", "supervise"]))
        .order_by(col(CaseEvent.id))
    ).all()
    assert [(e.event, e.actor_role, e.data["manual"]) for e in steps] == [
        ("remind", "supervisor", True),
        ("supervise", "supervisor", True),
    ]


def test_default_rectification_period_and_repeated_redo(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    c = act(client, staff, "supervisor", cid, "order_rectification", requirements="限期付款")
    assert c["stage_deadline"] == "2026-03-23"  # no category rule: the default 15 working days
    act(client, staff, "handler", cid, "report_rectification", evidence="已全额支付")
    act(client, staff, "supervisor", cid, "accept_rectification")
    for n in (1, 2):
        act(client, staff, "handler", cid, "reply", reply_text="款项已全额支付。")
        c = act(client, staff, "intake", cid, "redo", reason=f"第{n}次回访不满意")
        assert (c["state"], c["redo_count"]) == ("signed", n)
        act(client, staff, "competent", cid, "verify_untrue", explanation="已核实无新的欠款")
    act(client, staff, "handler", cid, "reply", reply_text="经再次核实，无新的欠款。")
    c = act(client, staff, "supervisor", cid, "close", satisfaction="满意")
    assert (c["state"], c["redo_count"], c["satisfaction"]) == ("closed", 2, "满意")
