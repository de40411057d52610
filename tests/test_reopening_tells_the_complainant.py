"""重启案件: a supervisor reopens a case that had ended (不予受理, 已办结, 撤回办结 …). Its complainant,
who may have asked for it, is told it is handled again, why, and what comes next (初审 again for a complaint
withdrawn before its first review, else a new dispatch); the departments hear from the dispatch, and a
complainant merged into the case from its new reply."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed, register

REASON = "投诉人致电12345反映仍未收到款项，申请继续办理。"


def _last_id(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.max(Notification.id))).one() or 0


def _queued_since(session: Session, after: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(col(Notification.id) > after).order_by(col(Notification.id))
    return list(session.exec(stmt).all())


def _closed(client: TestClient, staff: Staff) -> int:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同约定的付款条件尚未成就")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，付款条件尚未成就，特此说明。")
    act(client, staff, "intake", cid, "close", satisfaction="满意")
    return cid


def test_a_reopened_closed_case_tells_only_its_complainant_why_and_that_it_is_dispatched_again(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _closed(client, staff)
    before = _last_id(session)

    c = act(client, staff, "supervisor", cid, "reopen", reason=REASON)

    assert c["state"] == "reopened"
    # No department is mailed: the new dispatch tells the one that gets the case.
    [told] = _queued_since(session, before)
    assert (told.template, told.recipient_kind, told.case_id) == ("complaint_reopened", "complainant", cid)
    assert told.recipient_name == "某某建筑工程有限公司"
    message = render(told.template, told.context)
    assert REASON in message.text
    assert "“已办结”" in message.text
    assert "重新派单" in message.text
    assert "初审" not in message.text
    assert REASON in message.html


def test_a_complaint_reopened_after_not_being_accepted_is_told_it_will_be_dispatched(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "reject", reason="已申请行政复议。", route="reconsideration")

    act(client, staff, "supervisor", cid, "reopen", reason="复议申请已撤回，属于受理范围")

    session.expire_all()
    [told] = session.exec(select(Notification).where(Notification.template == "complaint_reopened")).all()
    assert (told.context["ended_label"], told.context["to_review"]) == ("不予受理", False)
    assert "复议申请已撤回" in render(told.template, told.context).text


def test_a_complaint_withdrawn_before_its_review_is_told_it_goes_back_to_that_review(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "withdraw", reason="双方已协商解决，申请撤回。")
    before = _last_id(session)

    c = act(client, staff, "supervisor", cid, "reopen", reason="投诉人称撤回并非本人意愿")

    assert c["state"] == "registered"
    [told] = _queued_since(session, before)
    assert told.template == "complaint_reopened"
    assert (told.context["ended_label"], told.context["to_review"]) == ("撤回办结", True)
    text = render(told.template, told.context).text
    assert "重新进行初审" in text
    assert "重新派单" not in text
    assert "投诉人称撤回并非本人意愿" in text


def test_a_complainant_merged_into_a_reopened_case_is_not_told_and_their_case_is_not_reopened(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    second = register(client, staff, complainant_name="某某建材有限公司", complainant_email="b@example.com")
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "reject", reason="已申请行政复议。", route="reconsideration")
    # A merged complaint ends with the case it joined: it is never reopened on its own.
    act(client, staff, "supervisor", second["id"], "reopen", status=409, reason=REASON)

    act(client, staff, "supervisor", first["id"], "reopen", reason=REASON)

    session.expire_all()
    told = session.exec(select(Notification).where(Notification.template == "complaint_reopened")).all()
    assert [(n.case_id, n.recipient_name) for n in told] == [(first["id"], "某某建筑工程有限公司")]
