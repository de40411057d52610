"""整改中 waits on the department, but a pending extension request, or a rectification deadline passed
without one, waits on the supervisor's decision: the supervisor's work queue lists the case then (and only
then), and the case page's 待…办理 line names 督办人员 with the decision the buttons offer."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaint import Complaint
from models.complaints import who_acts_next
from tests.conftest import Staff
from tests.test_complaints_api import API, act, set_today
from tests.test_offered_actions_hold_their_preconditions import _rectifying

SUPERVISOR = "督办人员"


def _queued(client: TestClient, staff: Staff, cid: int) -> list[list[str]]:
    tasks = client.get(f"{API}/tasks", headers=staff.auth("supervisor")).json()
    return [t["actions"] for t in tasks if t["kind"] == "complaint" and t["id"] == cid]


def _line(session: Session, cid: int, today: dt.date) -> dict[str, list[str]]:
    complaint = session.get(Complaint, cid)
    assert complaint is not None
    session.refresh(complaint)
    return dict(who_acts_next(session=session, complaint=complaint, today=today))


def test_a_pending_extension_puts_the_case_in_the_supervisors_queue_and_line(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _rectifying(client, staff)
    assert _queued(client, staff, cid) == []  # nothing to decide yet: the department rectifies
    assert SUPERVISOR not in _line(session, cid, dt.date(2026, 3, 2))

    act(client, staff, "handler", cid, "request_extension", days=5, reason="需协调财政资金")
    [actions] = _queued(client, staff, cid)
    assert set(actions) == {"approve_extension", "refuse_extension"}
    assert set(_line(session, cid, dt.date(2026, 3, 2))[SUPERVISOR]) == {"批准延期", "不批准延期"}

    act(client, staff, "supervisor", cid, "refuse_extension", reason="理由不充分")
    assert _queued(client, staff, cid) == []


def test_a_passed_rectification_deadline_waits_on_the_supervisor_to_confirm_the_refusal(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _rectifying(client, staff)  # due 2026-03-09
    set_today(client, dt.date(2026, 3, 10))
    [actions] = _queued(client, staff, cid)
    assert actions == ["confirm_breach"]
    assert _line(session, cid, dt.date(2026, 3, 10))[SUPERVISOR] == ["确认违约失信（拒不整改）"]
