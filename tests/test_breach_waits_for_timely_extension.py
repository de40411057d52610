"""拒不整改 on the ground that the rectification deadline passed waits for an extension the department asked
for before that deadline (RULEBOOK complaints §6, §8): the supervisor decides the request first, and the
deadline it leaves is the one whose passing counts. A refusal recorded with its evidence still grounds the
confirmation meanwhile. Days walked with the pinned clock (March 2026 has no holidays)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed, set_today


def _confirm_event(session: Session, cid: int) -> CaseEvent:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "confirm_breach")
    [event] = session.exec(stmt.order_by(col(CaseEvent.seq))).all()
    return event


def _extension_asked_on_the_deadline(client: TestClient, staff: Staff) -> int:
    """Ordered on Monday 2026-03-02 to rectify by Monday 03-09; on 03-09 the lead asks for 3 more days."""
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    c = act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    assert c["stage_deadline"] == "2026-03-09"
    set_today(client, dt.date(2026, 3, 9))
    act(client, staff, "handler", cid, "request_extension", reason="财政资金拨付中", days=3)
    set_today(client, dt.date(2026, 3, 10))
    return cid


def test_breach_is_not_confirmed_for_a_passed_deadline_while_a_timely_extension_is_undecided(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _extension_asked_on_the_deadline(client, staff)
    refused = act(client, staff, "supervisor", cid, "confirm_breach", status=422, reason="逾期未整改")
    assert "延期" in refused["message"]
    assert "请先审批该延期申请" in refused["message"]
    c = act(client, staff, "supervisor", cid, "approve_extension")  # the request is still there to decide
    assert (c["state"], c["breach_confirmed"], c["stage_deadline"]) == ("rectifying", False, "2026-03-12")


def test_breach_waits_for_the_extended_deadline_once_the_extension_is_approved(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _extension_asked_on_the_deadline(client, staff)
    act(client, staff, "supervisor", cid, "approve_extension")
    refused = act(client, staff, "supervisor", cid, "confirm_breach", status=422, reason="逾期未整改")
    assert "整改期限（2026-03-12）尚未届满" in refused["message"]
    set_today(client, dt.date(2026, 3, 13))
    c = act(client, staff, "supervisor", cid, "confirm_breach", reason="延期届满仍未整改")
    assert (c["state"], c["breach_confirmed"]) == ("explanation_ordered", True)
    data = _confirm_event(session, cid).data
    assert (data["grounds"], data["rectification_deadline"]) == ("deadline_passed", "2026-03-12")


def test_breach_is_confirmed_for_the_passed_deadline_once_the_extension_is_refused(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _extension_asked_on_the_deadline(client, staff)
    act(client, staff, "supervisor", cid, "refuse_extension", reason="无正当理由")
    c = act(client, staff, "supervisor", cid, "confirm_breach", reason="逾期未整改")
    assert (c["state"], c["breach_confirmed"]) == ("explanation_ordered", True)
    data = _confirm_event(session, cid).data
    assert (data["grounds"], data["rectification_deadline"]) == ("deadline_passed", "2026-03-09")


def test_a_recorded_refusal_still_grounds_the_breach_while_an_extension_is_undecided(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _extension_asked_on_the_deadline(client, staff)
    act(
        client,
        staff,
        "competent",
        cid,
        "record_refusal",
        refusal_facts="书面回复拒绝支付",
        attachments=["回函.pdf"],
    )
    c = act(client, staff, "supervisor", cid, "confirm_breach", reason="明确拒绝整改")
    assert (c["state"], c["breach_confirmed"]) == ("explanation_ordered", True)
    assert _confirm_event(session, cid).data["grounds"] == "refusal_recorded"
