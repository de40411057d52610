"""A complaint merged (并单) into a case that was already replied to gets that reply by message at once, with
a merge notice that says so: the reply was sent before it joined and is not sent again (RULEBOOK complaints
§3: feedback to every complainant). A case whose reply is still to come promises it, and a case that has
ended (办结) is no merge target."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaint_endings import _replied, _reply_to
from tests.test_complaints_api import act, register

REPLY = "经核实，款项已按合同约定支付。"  # the reply ``_reply_to`` gives


def _mails(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def test_complaint_merged_into_a_replied_case_is_sent_its_reply_with_the_merge_notice(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = _replied(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])

    [told] = _mails(session, duplicate["id"], "complaint_merged")
    notice = render("complaint_merged", told.context)
    for part in (notice.text, notice.html):
        assert "该案已作出答复" in part
        assert "将同时答复您" not in part
    [copy] = _mails(session, duplicate["id"], "complaint_replied")
    assert (copy.recipient_name, copy.recipient_email) == ("某某建材有限公司", "jc@ex.cn")
    assert copy.context["case_number"] == duplicate["number"]
    assert copy.context["target_number"] == first["number"]
    [own] = _mails(session, first["id"], "complaint_replied")
    assert (copy.context["reply_text"], copy.context["department_name"]) == (
        REPLY,
        own.context["department_name"],
    )
    message = render("complaint_replied", copy.context)
    assert REPLY in message.text
    assert first["number"] in message.text

    # The return visit closes the case: the merged complainant is told it ended, and not replied to again.
    act(client, staff, "intake", first["id"], "close", satisfaction="满意")
    assert len(_mails(session, duplicate["id"], "complaint_closed")) == 1
    assert len(_mails(session, duplicate["id"], "complaint_replied")) == 1


def test_complaint_merged_into_a_case_still_to_be_replied_is_promised_the_reply_and_sent_it_later(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    [told] = _mails(session, duplicate["id"], "complaint_merged")
    assert "该案的办理结果将同时答复您" in render("complaint_merged", told.context).text
    assert _mails(session, duplicate["id"], "complaint_replied") == []
    _reply_to(client, staff, first["id"])
    [copy] = _mails(session, duplicate["id"], "complaint_replied")
    assert copy.context["reply_text"] == REPLY


def test_complaint_merged_into_a_redone_case_gets_the_new_reply_not_the_rejected_one(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = _replied(client, staff)
    act(client, staff, "intake", first["id"], "redo", reason="投诉人回访不满意")
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    [told] = _mails(session, duplicate["id"], "complaint_merged")
    assert "该案的办理结果将同时答复您" in render("complaint_merged", told.context).text
    assert _mails(session, duplicate["id"], "complaint_replied") == []
    act(client, staff, "competent", first["id"], "verify_untrue", explanation="合同款项已按约支付")
    act(client, staff, "handler", first["id"], "reply", reply_text="经再次核实，款项已全额支付。")
    [copy] = _mails(session, duplicate["id"], "complaint_replied")
    assert copy.context["reply_text"] == "经再次核实，款项已全额支付。"


def test_complaint_is_not_merged_into_a_closed_case(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = _replied(client, staff)
    act(client, staff, "intake", first["id"], "close", satisfaction="满意")
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    refused = act(
        client, staff, "intake", duplicate["id"], "merge", status=422, target_number=first["number"]
    )
    assert "不能作为并单目标" in refused["message"]
    assert "另行办理" in refused["message"]
    assert _mails(session, duplicate["id"], "complaint_merged") == []
    assert _mails(session, duplicate["id"], "complaint_replied") == []
    c = act(client, staff, "intake", duplicate["id"], "accept")  # handled on its own instead
    assert c["state"] == "accepted"
