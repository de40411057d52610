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
from tests.test_complaints_api import act, dispatched_and_signed, register

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
    # awaits review (models/pledges/review_queue.py). Nothing waits on an administrator: no statement at all.
    expected = {"admin": 0, "intake": 1}
    for who in WHO:
        assert small[who][1] == large[who][1] == expected.get(who, 2), who
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
            actions = [t.event for t in available_actions(session=session, complaint=case, actor=actor)]
            if actions:
                expected[case.id] = actions
        got = {item.id: item.actions for item in queues[who][0]}
        assert got == expected, who
    # Not vacuous: the lead's and the verifier's queues both have work (an assisting department's has none
    # in these states, which the comparison above checks too).
    assert queues["handler"][0]
    assert any("verify_true" in item.actions for item in queues["competent"][0])
