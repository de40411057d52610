"""A complainant merged (并单) into another's case gets that case's reply, but the reply was written to the
other complainant and may name them or their phone: the merged complainant's mail and 12345 order get it
through the publication filter, while the handling case's own complainant reads it as written."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results_follow_merge_and_redo import messages

TRACK = "/api/v1/public/complaints/track"
MOBILE = "13912345678"
REPLY = f"张小三先生：经电话（{MOBILE}）联系核实，款项已按合同约定支付。"


def _replied_with_a_merged_order(client: TestClient, session: Session, staff: Staff) -> tuple[Any, Any]:
    token = new_hotline_token(session)
    first = register(client, staff, complainant_name="张小三", complainant_phone=MOBILE)
    order: dict[str, Any] = post(client, token, order_id="GD21").json()
    act(client, staff, "intake", order["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")
    act(client, staff, "intake", first["id"], "dispatch", lead_department_code="D01")
    act(client, staff, "handler", first["id"], "sign_for")
    act(client, staff, "competent", first["id"], "verify_untrue", explanation="合同款项已按约支付")
    act(client, staff, "handler", first["id"], "reply", reply_text=REPLY)
    session.expire_all()
    return first, order


def _reply_mail(session: Session, case_id: int) -> str:
    stmt = select(Notification).where(
        Notification.case_id == case_id, Notification.template == "complaint_replied"
    )
    [mail] = session.exec(stmt).all()
    return render("complaint_replied", mail.context).text


def test_the_merged_complainants_reply_mail_masks_the_other_callers_name_and_phone(
    client: TestClient, session: Session, staff: Staff
) -> None:
    first, order = _replied_with_a_merged_order(client, session, staff)
    theirs = _reply_mail(session, order["id"])
    assert MOBILE not in theirs
    assert "张小三" not in theirs
    assert "139****5678" in theirs
    assert "张*" in theirs
    assert "款项已按合同约定支付" in theirs
    # The complainant it was written to reads it whole.
    assert REPLY in _reply_mail(session, first["id"])


def test_the_merged_12345_order_gets_the_reply_without_the_other_callers_data(
    client: TestClient, session: Session, staff: Staff
) -> None:
    _, order = _replied_with_a_merged_order(client, session, staff)
    [reply] = [m for m in messages(session, order["id"]) if m.stage == "replied"]
    assert MOBILE not in reply.payload["reply"]
    assert "张小三" not in reply.payload["reply"]
    assert "款项已按合同约定支付" in reply.payload["reply"]


def test_the_merged_complainants_tracking_shows_the_reply_without_the_other_callers_data(
    client: TestClient, session: Session, staff: Staff
) -> None:
    first, _ = _replied_with_a_merged_order(client, session, staff)
    later = register(client, staff, complainant_name="李四", complainant_email="li@example.cn")
    act(client, staff, "intake", later["id"], "merge", target_number=first["number"])
    theirs = client.post(
        TRACK, json={"number": later["number"], "password": later["tracking_password"]}
    ).json()
    assert MOBILE not in theirs["reply_text"]
    assert "张小三" not in theirs["reply_text"]
    assert "款项已按合同约定支付" in theirs["reply_text"]
    own = client.post(TRACK, json={"number": first["number"], "password": first["tracking_password"]})
    assert own.json()["reply_text"] == REPLY
