"""The work queue (GET /tasks): one SQL statement however many cases, and the same actions per case as
``available_actions`` gives for each case on its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.deps import actor_of
from models.accounts import authenticate
from models.calendar import load_calendar
from models.complaint import Complaint
from models.complaints import available_actions, work_queue
from models.lifecycle import COMPLAINT
from tests.conftest import Staff
from tests.test_complaints_api import API, act, dispatched_and_signed, register

TODAY = dt.date(2026, 3, 2)
WHO = ("intake", "supervisor", "admin", "handler", "handler2", "competent")


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _cases(client: TestClient, staff: Staff) -> None:
    """Cases in several states and with every part a handler can have: lead (D01), verifier (D00, the
    competent department of D01), assisting (D02), and a lead without a competent department (D00)."""
    register(client, staff)
    accepted = register(client, staff)["id"]
    act(client, staff, "intake", accepted, "accept")
    for _ in range(2):
        dispatched_and_signed(client, staff)
    with_assist = register(client, staff)["id"]
    act(client, staff, "intake", with_assist, "accept")
    act(
        client,
        staff,
        "intake",
        with_assist,
        "dispatch",
        lead_department_code="D01",
        assisting_department_codes=["D02"],
    )
    verified = dispatched_and_signed(client, staff)
    act(client, staff, "competent", verified, "verify_true")
    own = register(client, staff)["id"]
    act(client, staff, "intake", own, "accept")
    act(client, staff, "intake", own, "dispatch", lead_department_code="D00")


def _queues(session: Session, staff: Staff, engine: Engine) -> dict[str, tuple[list[Any], int]]:
    calendar = load_calendar(session=session)
    result = {}
    for who in WHO:
        user = authenticate(session=session, token=staff.auth(who)["Authorization"].split()[1])
        assert user is not None
        actor = actor_of(user)
        with counting(engine) as statements:
            items = work_queue(session=session, actor=actor, today=TODAY, calendar=calendar)
        result[who] = (items, len(statements))
    return result


def test_the_queue_is_one_statement_whatever_its_length(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    _cases(client, staff)
    small = _queues(session, staff, engine)
    _cases(client, staff)
    _cases(client, staff)
    large = _queues(session, staff, engine)
    # One statement for the complaints and, for handlers and supervisors, one for the pledges whose evidence
    # awaits review (models/pledges/review_queue.py) and one for the objections and repair requests awaiting
    # decision (models/breach_queue.py). Intake staff and supervisors are offered 投诉人撤回, whose rule
    # reads the cases' verifications: one more statement for all the rows. Nothing waits on an
    # administrator: no statement at all.
    expected = {"admin": 0, "intake": 2, "supervisor": 4}
    for who in WHO:
        assert small[who][1] == large[who][1] == expected.get(who, 3), who
    assert len(large["handler"][0]) > len(small["handler"][0]) > 0
    assert len(large["intake"][0]) > len(small["intake"][0]) > 0


def test_the_queue_offers_what_each_case_offers_on_its_own(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    _cases(client, staff)
    queues = _queues(session, staff, engine)
    cases = session.exec(select(Complaint).order_by(col(Complaint.id))).all()
    for who in WHO:
        user = authenticate(session=session, token=staff.auth(who)["Authorization"].split()[1])
        assert user is not None
        actor = actor_of(user)
        expected = {}
        for case in cases:
            state = COMPLAINT.state(case.state)
            if actor.role not in state.waiting_on or state.terminal:
                continue
            actions = [
                t.event for t in available_actions(session=session, complaint=case, actor=actor, today=TODAY)
            ]
            if actions:
                expected[case.id] = actions
        got = {item.id: item.actions for item in queues[who][0]}
        assert got == expected, who
    # Not vacuous: the lead's and the verifier's queues both have work (an assisting department's has none
    # in these states, which the comparison above checks too).
    assert queues["handler"][0]
    assert any("verify_true" in item.actions for item in queues["competent"][0])


def test_an_objection_awaiting_decision_is_in_the_deciding_departments_queue_by_deadline(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    from models.breach import PublishedBreach
    from tests.test_publication import CODE
    from tests.test_register import access_code, publish
    from tests.web_support import sign_in

    late = dispatched_and_signed(client, staff)  # a complaint of D01 (住建局), 办结 deadline far off
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))  # decided by D01 too
    lodged = client.post(
        f"{API}/public/breaches/{breach.number}/objection",
        json={"access_code": access_code(session, breach), "reason": "已按期提交材料"},
    )
    assert lodged.status_code == 201, lodged.text
    session.expire_all()
    breach = session.get(PublishedBreach, breach.id)
    assert breach is not None
    assert breach.stage_deadline is not None

    tasks = client.get(f"{API}/tasks", headers=staff.auth("handler")).json()
    [task] = [t for t in tasks if t["kind"] == "breach"]
    assert (task["id"], task["number"], task["stage_deadline"]) == (
        breach.id,
        breach.number,
        breach.stage_deadline.isoformat(),
    )
    assert "异议待答复" in task["summary"]
    assert set(task["actions"]) == {"uphold_withdraw", "uphold_correct", "reject_objection"}
    deadlines = [t["stage_deadline"] for t in tasks if t["stage_deadline"]]
    assert deadlines == sorted(deadlines)
    assert any(t["id"] == late and t["kind"] == "complaint" for t in tasks)
    # Another department does not decide it; the supervisor may, and chases it.
    assert all(
        t["kind"] != "breach" for t in client.get(f"{API}/tasks", headers=staff.auth("handler2")).json()
    )
    assert any(
        t["kind"] == "breach" for t in client.get(f"{API}/tasks", headers=staff.auth("supervisor")).json()
    )
    # The workbench opens the record's page.
    sign_in(client, staff.handler)
    assert f'href="/staff/breaches/{breach.id}">{breach.number}</a>' in client.get("/staff").text
