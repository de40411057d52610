"""Results back to 12345 for orders that do not run straight through: an order merged into another case
(并单) hears that it was merged, into which case, and then each stage of that case under its own order id,
so it reaches its ending; a redo, a return by the department and a reopening are reported, so the platform
never keeps showing a reply or a closing that no longer stands."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.hotline import HotlineMessage
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.test_hotline_intake import ORDER, new_hotline_token, post

REPLY = "经核实，付款条件尚未成就，已向您说明。"


def messages(session: Session, cid: int) -> list[HotlineMessage]:
    session.expire_all()
    stmt = select(HotlineMessage).where(HotlineMessage.complaint_id == cid)
    return list(session.exec(stmt.order_by(col(HotlineMessage.id))))


def _to_replied(client: TestClient, staff: Staff, cid: int) -> None:
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同约定的付款条件尚未成就")
    act(client, staff, "handler", cid, "reply", reply_text=REPLY)


def test_an_order_merged_into_an_earlier_12345_case_hears_the_merge_and_that_cases_reply_and_closing(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first: dict[str, Any] = post(client, token).json()
    second: dict[str, Any] = post(client, token, order_id="GD2").json()
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")
    _to_replied(client, staff, first["id"])
    act(client, staff, "intake", first["id"], "close", satisfaction="满意")

    own = messages(session, first["id"])
    assert [m.stage for m in own] == ["accepted", "dispatched", "signed", "replied", "closed"]
    merged = messages(session, second["id"])
    assert [m.stage for m in merged] == ["merged", "accepted", "dispatched", "signed", "replied", "closed"]
    joined = {"case_number": first["number"], "order_id": ORDER["order_id"]}
    assert all(m.payload["order_id"] == "GD2" for m in merged)
    assert all(m.payload["case_number"] == second["number"] for m in merged)
    assert all(m.payload["merged_into"] == joined for m in merged)
    replied, closed = merged[4].payload, merged[5].payload
    assert replied["reply"] == REPLY
    # The satisfaction was the first caller's: this order's caller was never visited.
    assert (closed["result"], closed["satisfaction"]) == ("closed", None)
    # Each order's messages are its own: the platform de-duplicates on the id.
    ids = [m.message_id for m in [*own, *merged]]
    assert len(set(ids)) == len(ids)
    assert all(m.message_id == m.payload["message_id"] for m in merged)


def test_an_order_merged_into_a_case_registered_here_is_told_that_case_was_not_accepted(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    here = register(client, staff)  # came in at the window: the platform has no order for it
    order: dict[str, Any] = post(client, token).json()
    act(client, staff, "intake", order["id"], "merge", target_number=here["number"])
    act(
        client,
        staff,
        "intake",
        here["id"],
        "reject",
        reason="属于民事合同纠纷，应通过诉讼解决",
        route="litigation",
    )

    assert messages(session, here["id"]) == []
    merged, rejected = (m.payload for m in messages(session, order["id"]))
    assert (merged["stage"], merged["merged_into"]) == (
        "merged",
        {"case_number": here["number"], "order_id": None},
    )
    assert (rejected["stage"], rejected["order_id"], rejected["source_system"]) == (
        "not_accepted",
        ORDER["order_id"],
        "12345",
    )
    assert rejected["reason"] == "属于民事合同纠纷，应通过诉讼解决"


def test_an_order_merged_into_a_case_merged_later_follows_the_case_that_now_handles_both(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    earliest: dict[str, Any] = post(client, token, order_id="GD1").json()
    middle: dict[str, Any] = post(client, token, order_id="GD2").json()
    latest: dict[str, Any] = post(client, token, order_id="GD3").json()
    act(client, staff, "intake", latest["id"], "merge", target_number=middle["number"])
    act(client, staff, "intake", middle["id"], "merge", target_number=earliest["number"])
    act(client, staff, "intake", earliest["id"], "accept")

    rows = messages(session, latest["id"])
    assert [m.stage for m in rows] == ["merged", "merged", "accepted"]
    assert [m.payload["merged_into"]["order_id"] for m in rows] == ["GD2", "GD1", "GD1"]
    assert {m.payload["order_id"] for m in rows} == {"GD3"}


def test_a_redo_a_return_and_a_reopening_are_reported_so_no_stale_ending_stands(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = post(client, token).json()["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "return_order", reason="不属于本部门职责")
    _to_replied(client, staff, cid)
    act(client, staff, "intake", cid, "redo", reason="投诉人不满意，要求重办")
    act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实：付款条件尚未成就")
    act(client, staff, "handler", cid, "reply", reply_text="再次答复：付款条件尚未成就。")
    act(client, staff, "intake", cid, "close", satisfaction="满意")
    act(client, staff, "supervisor", cid, "reopen", reason="发现新情况，重启办理")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")

    rows = messages(session, cid)
    stages = [m.stage for m in rows]
    assert stages == [
        "accepted",
        "dispatched",
        "returned",
        "dispatched",
        "signed",
        "replied",
        "redone",
        "replied",
        "closed",
        "reopened",
        "dispatched",
    ]
    returned, redone, reopened = rows[2].payload, rows[6].payload, rows[9].payload
    department = {"code": "D01", "name": "市住房和城乡建设局"}
    assert (returned["reason"], returned["department"]) == ("不属于本部门职责", department)
    assert (redone["reason"], redone["redo_count"], redone["satisfaction"]) == (
        "投诉人不满意，要求重办",
        1,
        "不满意",
    )
    assert redone["department"] == department
    assert reopened["reason"] == "发现新情况，重启办理"


def test_every_stage_reported_to_12345_has_a_label_on_the_admin_outbox_page() -> None:
    from models.hotline import STAGE_LABELS, STAGES

    assert set(STAGES.values()) <= set(STAGE_LABELS)
