"""Complaints that end unsatisfied or unreachable: the rating on a case is the answer to the return visit
that ended its current handling (none after 无法联系办结, none while reopened), earlier answers stay in the
audit trail; a complainant merged into the case (并单) is not shown the attempts to reach the other
complainant; a merged 12345 order is never pushed the satisfaction of a caller it is not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.hotline import HotlineMessage
from models.scorecard import DepartmentScore, department_scores
from tests.conftest import Staff
from tests.test_complaint_endings import _reply_to, _track
from tests.test_complaints_api import act, get, register, set_today
from tests.test_hotline_intake import new_hotline_token, post

ATTEMPT_DAYS = (dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4))
ATTEMPT_LABEL = "记录联系投诉人未果"


def _d01(session: Session, today: dt.date) -> DepartmentScore:
    session.expire_all()
    [row] = [r for r in department_scores(session=session, today=today) if r.code == "D01"]
    return row


def _ratings(session: Session, cid: int) -> list[tuple[str, str]]:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == cid)
    rows = session.exec(stmt.order_by(col(CaseEvent.seq)))
    return [(e.event, e.data["satisfaction"]) for e in rows if e.data.get("satisfaction")]


def _close_unreachable(client: TestClient, staff: Staff, cid: int) -> dict[str, Any]:
    for day in ATTEMPT_DAYS:
        set_today(client, day)
        act(client, staff, "intake", cid, "record_contact_attempt", contact_result="13800000001 无人接听")
    return act(client, staff, "supervisor", cid, "close_unreachable", reason="13800000001 三日未接听")


def _redo_and_reply_again(client: TestClient, staff: Staff, cid: int) -> None:
    act(client, staff, "intake", cid, "redo", reason="回访不满意")
    act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实")
    act(client, staff, "handler", cid, "reply", reply_text="再次答复。")


def test_a_case_redone_then_closed_unreachable_is_not_rated_and_keeps_the_redo_answer_in_its_history(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    _reply_to(client, staff, cid)
    _redo_and_reply_again(client, staff, cid)

    closed = _close_unreachable(client, staff, cid)

    assert (closed["state"], closed["satisfaction"]) == ("closed_unreachable", None)
    row = _d01(session, ATTEMPT_DAYS[-1])
    assert (row.closed_unreachable, row.rated, row.satisfied, row.satisfaction_rate) == (1, 0, 0, None)
    assert _ratings(session, cid) == [("redo", "不满意")]


def test_a_reopened_case_drops_its_rating_until_a_new_visit_and_the_closing_event_keeps_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    _reply_to(client, staff, cid)
    act(client, staff, "intake", cid, "close", satisfaction="满意")
    act(client, staff, "supervisor", cid, "reopen", reason="发现新证据")

    assert (get(session, cid).state, get(session, cid).satisfaction) == ("reopened", None)
    assert _d01(session, ATTEMPT_DAYS[0]).rated == 0

    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实")
    act(client, staff, "handler", cid, "reply", reply_text="再次答复。")
    closed = _close_unreachable(client, staff, cid)

    assert (closed["state"], closed["satisfaction"]) == ("closed_unreachable", None)
    row = _d01(session, ATTEMPT_DAYS[-1])
    assert (row.rated, row.satisfied, row.satisfaction_rate) == (0, 0, None)
    assert _ratings(session, cid) == [("close", "满意")]


def test_a_merged_complainants_tracking_leaves_out_the_attempts_to_reach_the_other_complainant(
    client: TestClient, staff: Staff
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    _reply_to(client, staff, first["id"])
    _close_unreachable(client, staff, first["id"])

    merged = _track(client, duplicate)
    assert merged["state_label"] == "无法联系办结"
    labels = [s["label"] for s in merged["steps"]]
    assert ATTEMPT_LABEL not in labels
    assert labels[-2:] == ["答复投诉人", "无法联系办结"]
    own = [s["label"] for s in _track(client, first)["steps"]]
    assert own.count(ATTEMPT_LABEL) == len(ATTEMPT_DAYS)


def _payloads(session: Session, cid: int) -> dict[str, dict[str, Any]]:
    session.expire_all()
    stmt = select(HotlineMessage).where(HotlineMessage.complaint_id == cid)
    return {m.stage: m.payload for m in session.exec(stmt.order_by(col(HotlineMessage.id)))}


def test_a_merged_12345_order_is_pushed_no_satisfaction_of_the_caller_who_was_visited(
    client: TestClient, staff: Staff, session: Session
) -> None:
    token = new_hotline_token(session)
    first: dict[str, Any] = post(client, token).json()
    second: dict[str, Any] = post(client, token, order_id="GD2").json()
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    cid = first["id"]
    _reply_to(client, staff, cid)
    _redo_and_reply_again(client, staff, cid)
    _close_unreachable(client, staff, cid)

    own, merged = _payloads(session, cid), _payloads(session, second["id"])
    assert (own["redone"]["satisfaction"], own["closed"]["satisfaction"]) == ("不满意", "无法联系")
    # The stage, the redo count and the result still reach the merged order: only the rating is not theirs.
    assert (merged["redone"]["redo_count"], merged["closed"]["result"]) == (1, "closed_unreachable")
    assert "satisfaction" in merged["redone"]
    assert (merged["redone"]["satisfaction"], merged["closed"]["satisfaction"]) == (None, None)
    # Nor the closing note about the visit to the other caller (here their number).
    assert own["closed"]["note"] == "138****0001 三日未接听"  # free text to 12345 goes through the filter
    assert "note" not in merged["closed"]
