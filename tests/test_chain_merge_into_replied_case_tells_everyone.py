"""并单 along a chain (D into C, C into B, then B into A) where A was already replied to (已答复（待回访）):
every complainant joining A with B is sent A's reply at once, under their own number, once (RULEBOOK
complaints §3: feedback to every complainant), not only B's complainant. A later reply of A reaches them
all again."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification
from tests.conftest import Staff
from tests.test_complaint_endings import _replied
from tests.test_complaints_api import act, register

REPLY = "经核实，款项已按合同约定支付。"  # the reply ``_replied`` gives


def _replies(session: Session, cid: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(
        Notification.case_id == cid,
        Notification.template == "complaint_replied",
        Notification.recipient_kind == "complainant",
        Notification.channel == "email",
    )
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def test_every_complainant_of_a_chain_merged_into_a_replied_case_gets_its_reply_once(
    client: TestClient, staff: Staff, session: Session
) -> None:
    a = _replied(client, staff)
    b = register(client, staff, complainant_name="某某建材有限公司", complainant_email="b@ex.cn")
    c = register(client, staff, complainant_name="某某物流有限公司", complainant_email="c@ex.cn")
    d = register(client, staff, complainant_name="某某餐饮有限公司", complainant_email="d@ex.cn")
    act(client, staff, "intake", d["id"], "merge", target_number=c["number"])
    act(client, staff, "intake", c["id"], "merge", target_number=b["number"])
    for case in (b, c, d):  # B is still to be handled: nobody has a reply yet
        assert _replies(session, case["id"]) == []

    act(client, staff, "intake", b["id"], "merge", target_number=a["number"])
    for case, email in ((b, "b@ex.cn"), (c, "c@ex.cn"), (d, "d@ex.cn")):
        [mail] = _replies(session, case["id"])
        assert mail.recipient_email == email
        assert mail.context["case_number"] == case["number"]
        assert mail.context["target_number"] == a["number"]
        assert mail.context["reply_text"] == REPLY

    # A repeated merge is refused (B has joined A) and sends nothing again.
    act(client, staff, "intake", b["id"], "merge", status=409, target_number=a["number"])
    for case in (b, c, d):
        assert len(_replies(session, case["id"])) == 1

    # Redone and replied again, A's new reply reaches the whole chain once more, under a key of its own.
    act(client, staff, "intake", a["id"], "redo", reason="投诉人回访不满意")
    act(client, staff, "competent", a["id"], "verify_untrue", explanation="合同款项已按约支付")
    act(client, staff, "handler", a["id"], "reply", reply_text="经再次核实，款项已全额支付。")
    for case in (b, c, d):
        assert [m.context["reply_text"] for m in _replies(session, case["id"])] == [
            REPLY,
            "经再次核实，款项已全额支付。",
        ]
