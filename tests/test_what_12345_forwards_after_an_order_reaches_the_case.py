"""What 12345 forwards about an order it handed over (补充材料, 撤单, 催单): recorded once on the case
handling the order, keyed by the platform's follow-up id; a withdrawal through the lifecycle's ``withdraw``
(refused once verified, with the reason said for the caller); a chase and a supplement told to whoever
the case awaits; an ended case refuses them with its ending and what to do instead."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import models.hotline_followups as followups
from models.audit import CaseEvent
from models.calendar import load_calendar
from models.complaint import Complaint
from models.hotline import HotlineMessage
from models.hotline_followups import FollowUp, receive_follow_up
from models.lifecycle import Role
from models.outbox import Notification
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_complaints_api import API, act
from tests.test_hotline_intake import ORDER, RECEIVED_AT, new_hotline_token, post
from tests.web_support import sign_in

CALLED_AGAIN = (RECEIVED_AT + dt.timedelta(hours=3)).isoformat()
SUPPLEMENT: dict[str, Any] = {
    "follow_up_id": "BC2026031600001",
    "kind": "补充材料",
    "received_at": CALLED_AGAIN,
    "content": "来电人补充：尾款对应的结算单已于2025年12月经区住建局盖章确认。",
    "attachments": ["结算单扫描件.pdf"],
}


def follow(client: TestClient, token: str, order_id: str = ORDER["order_id"], **overrides: Any) -> Any:
    return client.post(
        f"{API}/intake/work-orders/{order_id}/follow-ups",
        json={**SUPPLEMENT, **overrides},
        headers={"Authorization": f"Bearer {token}"},
    )


def order(client: TestClient, token: str, order_id: str = ORDER["order_id"]) -> dict[str, Any]:
    response = post(client, token, order_id=order_id)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def dispatched(client: TestClient, staff: Staff, token: str, order_id: str = ORDER["order_id"]) -> int:
    cid = int(order(client, token, order_id)["id"])
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    return cid


def follow_up_events(session: Session, cid: int | None = None) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(col(CaseEvent.event).startswith("hotline_"))
    if cid is not None:
        stmt = stmt.where(CaseEvent.case_id == cid)
    return list(session.exec(stmt.order_by(col(CaseEvent.id))).all())


def notices(session: Session, cid: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(
        Notification.case_id == cid, Notification.template == "hotline_follow_up"
    )
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def test_a_supplement_joins_the_case_tells_the_lead_and_its_resend_answers_the_same_once(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)

    first = follow(client, token)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["kind"], body["recorded"], body["withdrawn"], body["created"]) == (
        "supplement",
        True,
        False,
        True,
    )
    assert (body["state"], body["merged_into"], body["notified"]) == (
        "dispatched",
        None,
        ["市住房和城乡建设局"],
    )
    assert "补充材料已记入投诉" in body["message"]

    again = follow(client, token)  # the platform lost the answer and sends the same follow-up again
    assert again.status_code == 200, again.text
    assert {**again.json(), "created": True} == body

    [event] = follow_up_events(session, cid)
    assert (event.event, event.actor_role, event.note) == (
        "hotline_supplement",
        "hotline",
        SUPPLEMENT["content"],
    )
    case = session.get(Complaint, cid)
    assert case is not None
    assert case.attachments == SUPPLEMENT["attachments"]
    [notice] = notices(session, cid)  # one notice, to the lead the stage awaits (签收)
    assert (notice.recipient_email, notice.context["kind"]) == ("zjj@example.gov.cn", "supplement")

    # The order itself still compares as sent: the supplement's attachments are not the order's.
    assert post(client, token).status_code == 200

    # The staff case page's timeline shows the follow-up with its text; the attachment joins the case's.
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{cid}").text
    assert "12345 转来补充材料" in page
    assert SUPPLEMENT["content"] in page
    assert "结算单扫描件.pdf" in page


def test_a_resend_that_differs_is_refused_naming_the_fields_and_nothing_is_stored(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    assert follow(client, token).status_code == 201
    other = follow(client, token, content="来电人补充了另外的情况，内容不同。", kind="chase")
    assert other.status_code == 409, other.text
    assert {f["field"] for f in other.json()["fields"]} == {"content", "kind"}
    assert "后续编号 BC2026031600001" in other.json()["message"]
    assert len(follow_up_events(session, cid)) == 1


def test_a_withdrawal_before_verification_closes_the_case_and_after_it_is_refused_with_the_reason(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    withdrawal = {
        "follow_up_id": "CD1",
        "kind": "withdrawal",
        "content": "欠款已于昨日付清，来电人申请撤回。",
    }
    answer = follow(client, token, attachments=[], **withdrawal)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["withdrawn"], answer.json()["state"]) == (True, "closed_withdrawn")
    session.expire_all()
    case = session.get(Complaint, cid)
    assert case is not None
    assert case.state == "closed_withdrawn"
    withdraw = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "withdraw")
    ).one()
    assert (withdraw.actor_role, withdraw.data["reason"]) == ("hotline", withdrawal["content"])
    # The platform gets the order's closing, as for a withdrawal a clerk records.
    stages = session.exec(select(HotlineMessage.stage).where(HotlineMessage.complaint_id == cid)).all()
    assert stages[-1] == "closed"
    assert follow(client, token, attachments=[], **withdrawal).status_code == 200  # a resend: same answer
    chase = follow(client, token, follow_up_id="CB1", kind="chase", attachments=[])
    assert chase.status_code == 409
    assert "撤回办结" in chase.json()["message"]
    assert "无需催办" in chase.json()["message"]

    # Verified, the case is the credit office's matter: refused with the table's reason, nothing stored.
    other = dispatched(client, staff, token, order_id="GD2026031600099")
    act(client, staff, "handler", other, "sign_for")
    act(client, staff, "competent", other, "verify_true")
    refused = follow(client, token, "GD2026031600099", **{**withdrawal, "follow_up_id": "CD2"})
    assert refused.status_code == 409, refused.text
    # Said for the caller: why not, and what happens next; the clerk's instructions stay out of it.
    assert "已核实属实，不能撤回" in refused.json()["message"]
    assert "办理部门将向来电人答复办理结果" in refused.json()["message"]
    assert "kind=supplement" in refused.json()["platform_hint"]
    assert refused.json()["case_number"]
    assert refused.json()["state"] == "verified"
    assert follow_up_events(session, other) == []
    session.expire_all()
    assert session.get(Complaint, other).state == "verified"  # type: ignore[union-attr]


def test_a_chase_tells_the_department_the_stage_awaits_or_the_supervisors_for_a_stage_of_staff(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    chase = {"follow_up_id": "CB1", "kind": "催单", "content": "来电人催问办理进度。", "attachments": []}
    answer = follow(client, token, **chase)
    assert answer.status_code == 201, answer.text
    assert answer.json()["notified"] == ["市住房和城乡建设局"]
    [event] = follow_up_events(session, cid)
    assert (event.event, event.note) == ("hotline_chase", chase["content"])
    [notice] = notices(session, cid)
    assert (notice.recipient_kind, notice.context["kind"]) == ("department", "chase")

    # Still awaiting its initial review (intake's stage): the supervisors are told, not a department.
    waiting = int(order(client, token, "GD2026031600077")["id"])
    answer = follow(client, token, "GD2026031600077", **{**chase, "follow_up_id": "CB2"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["notified"] == ["受理及督办人员"]
    assert {n.recipient_kind for n in notices(session, waiting)} == {"supervisor"}


def test_a_follow_up_on_a_merged_order_goes_to_the_case_handling_it_and_says_so(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first = order(client, token, "GD2026031600001")
    second = order(client, token, "GD2026031600002")
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])

    answer = follow(client, token, "GD2026031600002")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["case_number"], body["merged_into"]) == (first["number"], first["number"])
    assert f"该工单已并入投诉 {first['number']} 一并办理" in body["message"]
    assert [e.case_id for e in follow_up_events(session)] == [first["id"]]
    handling = session.get(Complaint, first["id"])
    assert handling is not None
    assert handling.attachments == SUPPLEMENT["attachments"]
    # The handling case's own order still compares as it was sent.
    assert post(client, token, order_id="GD2026031600001").status_code == 200


def test_an_ended_case_refuses_a_follow_up_with_its_ending_and_what_to_do(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = int(order(client, token)["id"])
    act(
        client,
        staff,
        "intake",
        cid,
        "reject",
        reason="属于民事合同纠纷，应通过诉讼解决。",
        route="litigation",
    )
    refused = follow(client, token)
    assert refused.status_code == 409, refused.text
    message = refused.json()["message"]
    assert "不予受理" in message
    assert "属于民事合同纠纷" in message
    assert "新的工单编号" in message
    assert refused.json()["state"] == "not_accepted"
    assert follow_up_events(session, cid) == []
    chase = follow(client, token, follow_up_id="CB9", kind="chase", attachments=[])
    assert chase.status_code == 409
    assert "本次催单未保存" in chase.json()["message"]


def test_only_the_hotline_token_sends_follow_ups_checked_as_orders_are(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    order(client, token)
    url = f"{API}/intake/work-orders/{ORDER['order_id']}/follow-ups"
    assert client.post(url, json=SUPPLEMENT).status_code == 401
    for who in ("intake", "supervisor", "admin", "handler"):
        assert client.post(url, json=SUPPLEMENT, headers=staff.auth(who)).status_code == 403, who
    assert follow(client, token, "GD-NOT-HANDED-IN").status_code == 404
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    for field, value in (("received_at", ahead), ("kind", "投诉"), ("content", " \u200b "), ("extra", 1)):
        answer = follow(client, token, **{field: value})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["fields"][0]["field"] == field
    assert follow_up_events(session) == []


def test_a_copy_that_loses_the_race_answers_the_winners_follow_up(
    engine: Engine, client: TestClient, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy checked for the follow-up before the other copy committed: the unique key decides."""
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    actor = Actor(name="12345热线平台", role=Role.HOTLINE)
    follow_up = FollowUp.model_validate(SUPPLEMENT)
    today = dt.date(2026, 3, 16)
    with Session(engine, expire_on_commit=False) as other:
        calendar = load_calendar(session=other)
        winner = receive_follow_up(session=other, order_id=ORDER["order_id"], follow_up=follow_up,
                                   actor=actor, today=today, calendar=calendar)  # fmt: skip
        other.commit()
    real = followups._recorded
    checks: list[str] = []

    def stale_first_check(session: Session, key: str) -> CaseEvent | None:
        checks.append(key)
        return None if len(checks) == 1 else real(session, key)

    monkeypatch.setattr(followups, "_recorded", stale_first_check)
    result = receive_follow_up(session=session, order_id=ORDER["order_id"], follow_up=follow_up, actor=actor,
                               today=today, calendar=load_calendar(session=session))  # fmt: skip
    session.commit()
    assert (result.created, result.event.id, len(checks)) == (False, winner.event.id, 2)
    assert len(follow_up_events(session, cid)) == 1
    assert len(notices(session, cid)) == 1
