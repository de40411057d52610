"""A 12345 order merged (并单) into a case already replied to (已答复（待回访）) hears the merge and then that
case's reply, once, under its own order id, as its complainant gets the reply at once; the case's later
stages follow as for any merged order."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results_follow_merge_and_redo import REPLY, _to_replied, messages


def test_an_order_merged_into_a_replied_case_gets_its_reply_once(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    replied = register(client, staff)  # came in at the window
    act(client, staff, "intake", replied["id"], "accept")
    _to_replied(client, staff, replied["id"])
    order: dict[str, Any] = post(client, token, order_id="GD9").json()
    act(client, staff, "intake", order["id"], "merge", target_number=replied["number"])

    merged, reply = messages(session, order["id"])
    assert (merged.stage, reply.stage) == ("merged", "replied")
    joined = {"case_number": replied["number"], "order_id": None}
    assert reply.payload["merged_into"] == joined
    assert (reply.payload["order_id"], reply.payload["case_number"]) == ("GD9", order["number"])
    assert reply.payload["reply"] == REPLY
    assert reply.payload["department"] == {"code": "D01", "name": "市住房和城乡建设局"}
    assert reply.message_id == reply.payload["message_id"]

    # The case goes on: its closing reaches the order, and the reply is not written again.
    act(client, staff, "intake", replied["id"], "close", satisfaction="满意")
    assert [m.stage for m in messages(session, order["id"])] == ["merged", "replied", "closed"]


def test_an_order_merged_into_a_case_not_yet_replied_gets_the_reply_only_when_it_comes(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    target = register(client, staff)
    order: dict[str, Any] = post(client, token, order_id="GD8").json()
    act(client, staff, "intake", order["id"], "merge", target_number=target["number"])
    assert [m.stage for m in messages(session, order["id"])] == ["merged"]
    act(client, staff, "intake", target["id"], "accept")
    _to_replied(client, staff, target["id"])
    stages = [m.stage for m in messages(session, order["id"])]
    assert stages == ["merged", "accepted", "dispatched", "signed", "replied"]
