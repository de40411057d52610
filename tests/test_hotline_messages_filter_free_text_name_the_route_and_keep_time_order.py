"""What 12345 is sent of a case: staff's free text (the closing note, the reply, a reason) passes the
publication filter with the caller's name known, as the documentation promises; a 不予受理 names where the
caller should go, in the words of their mail; and the reply an order gets when it joins a case already
replied to is dated at the merge, never before the order's own ``merged``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaint import RejectRoute
from models.complaints import ROUTE_GUIDANCE
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results_follow_merge_and_redo import _to_replied, messages


def test_the_closing_note_and_the_reply_reach_12345_without_the_callers_name_or_phone(
    client: TestClient, session: Session, staff: Staff
) -> None:
    case: dict[str, Any] = post(client, new_hotline_token(session), caller_name="王五").json()
    cid = case["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同约定的付款条件尚未成就")
    act(
        client,
        staff,
        "handler",
        cid,
        "reply",
        reply_text="王五您好，经核实付款条件尚未成就，可致电13900000002咨询。",
    )
    act(
        client,
        staff,
        "intake",
        cid,
        "close",
        satisfaction="基本满意",
        note="回访王五，电话13900000003，基本满意",
    )

    sent = json.dumps([m.payload for m in messages(session, cid)], ensure_ascii=False)
    for personal in ("王五", "13900000002", "13900000003"):
        assert personal not in sent
    replied, closed = messages(session, cid)[-2:]
    assert replied.payload["reply"] == "王*您好，经核实付款条件尚未成就，可致电139****0002咨询。"
    assert closed.payload["note"] == "回访王*，电话139****0003，基本满意"


def test_not_accepted_tells_12345_where_the_caller_should_go_as_their_mail_does(
    client: TestClient, session: Session, staff: Staff
) -> None:
    case = post(client, new_hotline_token(session)).json()
    act(client, staff, "intake", case["id"], "reject", reason="属于民事合同纠纷", route="litigation")
    [message] = messages(session, case["id"])
    assert message.payload["route"] == {
        "code": "litigation",
        "guidance": ROUTE_GUIDANCE[RejectRoute.LITIGATION],
    }

    other = post(client, new_hotline_token(session), order_id="GD7").json()
    act(
        client, staff, "intake", other["id"], "reject", reason="不属于受理范围", route="other",
        route_detail="请向市市场监督管理局反映，或联系张先生13900000002",
    )  # fmt: skip
    [told] = messages(session, other["id"])
    assert told.payload["route"] == {
        "code": "other",
        "guidance": "请向市市场监督管理局反映，或联系张*生139****0002",
    }


def test_the_reply_an_order_gets_when_it_joins_a_replied_case_is_dated_at_the_merge(
    client: TestClient, session: Session, staff: Staff
) -> None:
    replied = register(client, staff)
    act(client, staff, "intake", replied["id"], "accept")
    _to_replied(client, staff, replied["id"])
    order: dict[str, Any] = post(client, new_hotline_token(session), order_id="GD9").json()
    act(client, staff, "intake", order["id"], "merge", target_number=replied["number"])

    merged, reply = messages(session, order["id"])
    at = [dt.datetime.fromisoformat(m.payload["occurred_at"]) for m in (merged, reply)]
    assert at[1] >= at[0]
