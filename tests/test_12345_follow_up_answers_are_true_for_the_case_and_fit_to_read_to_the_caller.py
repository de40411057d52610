"""What 12345 is answered about a follow-up is true of the case it concerns and fit to read to the caller
(``message`` is documented as 可转告来电人): a refused withdrawal says why and what happens next, never a
clerk's instructions; a merged order whose case has ended is answered as an ended case; an ending is dated
by its Beijing day; a supplement to a paused case says it stays paused until it is checked; and a
follow-up dated before its own order is refused under ``received_at``."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaint import Complaint
from tests.conftest import Staff
from tests.test_complaints_api import act
from tests.test_hotline_intake import ORDER, RECEIVED_AT, new_hotline_token
from tests.test_what_12345_forwards_after_an_order_reaches_the_case import (
    dispatched,
    follow,
    follow_up_events,
    order,
)

WITHDRAWAL = {
    "follow_up_id": "CD1",
    "kind": "withdrawal",
    "content": "欠款已付清，来电人申请撤回。",
    "attachments": [],
}
# The clerk's wording of a refused withdrawal (models/complaints/preconditions.py, models/lifecycle.py): for
# staff, who can resume, reply and close; a caller can do none of it.
STAFF_WORDS = (
    "请将投诉人",
    "写入答复",
    "答复投诉人”",
    "恢复办理",
    "当前可执行",
    "请继续办理",
    "回访办结的流程",
)


def _caller_facing(message: str) -> None:
    for words in STAFF_WORDS:
        assert words not in message, (words, message)


def test_a_withdrawal_of_a_case_found_untrue_says_why_not_and_that_the_department_will_reply(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同约定的付款条件尚未成就")

    refused = follow(client, token, **WITHDRAWAL)

    assert refused.status_code == 409, refused.text
    message = refused.json()["message"]
    assert "经核实不属实，不能撤回" in message
    assert "办理部门将向来电人答复办理结果" in message
    _caller_facing(message)
    # What the platform may do with the caller's wish is said to the platform, apart from the message.
    assert "kind=supplement" in refused.json()["platform_hint"]
    assert "kind=supplement" not in message
    assert follow_up_events(session, cid) == []


def test_a_withdrawal_of_a_case_others_joined_says_it_goes_on_for_them(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first = order(client, token, ORDER["order_id"])
    second = order(client, token, "GD2026031600002")
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])

    refused = follow(client, token, **WITHDRAWAL)

    assert refused.status_code == 409, refused.text
    message = refused.json()["message"]
    assert "其他投诉人" in message
    assert "案件将继续办理" in message
    _caller_facing(message)


def test_a_withdrawal_of_a_merged_order_whose_case_ended_is_answered_as_an_ended_case(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first = order(client, token, "GD2026031600001")
    second = order(client, token, "GD2026031600002")
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(
        client,
        staff,
        "intake",
        first["id"],
        "reject",
        reason="属于民事合同纠纷，应通过诉讼解决。",
        route="litigation",
    )

    refused = follow(client, token, "GD2026031600002", **WITHDRAWAL)

    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert f"所并入的投诉 {first['number']} 已“不予受理”" in body["message"]
    assert "本次撤单未保存" in body["message"]
    # Not "继续办理（当前“已并单”）", nor a supplement that would be refused in turn.
    assert "继续办理" not in body["message"]
    assert "kind=supplement" not in body["message"]
    assert "platform_hint" not in body
    assert (body["case_number"], body["state"]) == (first["number"], "not_accepted")
    # The supplement it no longer points to is refused the same way.
    supplement = follow(client, token, "GD2026031600002")
    assert supplement.status_code == 409
    assert f"所并入的投诉 {first['number']} 已“不予受理”" in supplement.json()["message"]
    assert follow_up_events(session) == []


def test_an_ended_case_is_dated_by_its_beijing_day(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    assert follow(client, token, **WITHDRAWAL).status_code == 201
    case = session.get(Complaint, cid)
    assert case is not None
    # 01:30 in Beijing on 17 March is still 16 March in UTC.
    case.closed_at = dt.datetime(2026, 3, 16, 17, 30, tzinfo=dt.UTC)
    session.add(case)
    session.commit()

    refused = follow(client, token, follow_up_id="CB1", kind="chase", attachments=[])

    assert refused.status_code == 409, refused.text
    assert "（2026-03-17）" in refused.json()["message"]
    # A second withdrawal of a withdrawn case is told just that, not "无从撤回".
    again = follow(client, token, **{**WITHDRAWAL, "follow_up_id": "CD2"})
    assert again.status_code == 409
    assert "无需再次撤单" in again.json()["message"]


def test_a_supplement_to_a_paused_case_says_it_stays_paused_until_the_material_is_checked(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "handler", cid, "await_complainant", reason="请补充结算单及付款申请")

    answer = follow(client, token)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["state"] == "awaiting_complainant"
    assert "案件仍暂停计时，待市住房和城乡建设局核对材料、确认补充齐全后恢复办理" in body["message"]
    again = follow(client, token)  # a resend: the same answer, though the case may have moved since
    assert again.json()["message"] == body["message"]


def test_a_follow_up_dated_before_its_order_is_refused_under_received_at(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)

    early = follow(client, token, received_at=(RECEIVED_AT - dt.timedelta(minutes=1)).isoformat())

    assert early.status_code == 422, early.text
    assert early.json()["fields"][0]["field"] == "received_at"
    assert "受理时间早于工单" in early.json()["message"]
    assert follow_up_events(session, cid) == []
    # The order's own moment is not before it.
    assert follow(client, token, received_at=RECEIVED_AT.isoformat()).status_code == 201
