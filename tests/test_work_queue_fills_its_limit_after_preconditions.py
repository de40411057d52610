"""The work queue's statement limits the cases the actor has an action in by the lifecycle table; the cases
whose every action a precondition then refuses are dropped after that limit. The queue reads on past them,
in its own order, so the cases the actor can act in are not hidden behind them.

No case of today's table is left with nothing once its preconditions are applied (a supervisor may always
催办), so the supervisor's other actions in a 核实属实 case are refused here by a stand-in rule: as if the
table left them only the extension decisions, which the real rule offers only while a request is pending.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

import models.complaints.queue as queue
from models.calendar import load_calendar
from models.complaint import Complaint
from models.complaints.preconditions import PRECONDITIONS, CaseFacts, EventsOf, Precondition
from models.errors import ValidationFailed
from models.lifecycle import COMPLAINT, ComplaintState, Role
from models.workflow import Actor
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import API, act, dispatched_and_signed

DECISIONS = {"approve_extension", "refuse_extension"}


def _refused(_case: CaseFacts, _events: EventsOf, _today: dt.date) -> dict[str, Any]:
    raise ValidationFailed("只能审批延期 (only extension decisions in this test)")


def _only_extension_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    for t in COMPLAINT.available(ComplaintState.VERIFIED, Role.SUPERVISOR):
        if t.event not in DECISIONS:
            monkeypatch.setitem(PRECONDITIONS, t.event, Precondition(_refused))


def _verified(client: TestClient, staff: Staff, *, extension_requested: bool) -> int:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    if extension_requested:
        act(client, staff, "handler", cid, "request_extension", days=5, reason="需协调财政资金")
    return cid


def _tasks(client: TestClient, staff: Staff, limit: int) -> list[dict[str, Any]]:
    response = client.get(f"{API}/tasks", params={"limit": limit}, headers=staff.auth("supervisor"))
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


# Which cases have no deadline (one pending on the calendar, ordered last): none, the two with a request, or
# all, so the reading on starts past a dated row into dated and undated ones, and past an undated one.
@pytest.mark.parametrize("undated", ["none", "requested", "all"])
def test_cases_with_a_pending_extension_behind_a_full_limit_of_refused_cases_are_in_the_queue(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch, undated: str
) -> None:
    # Soonest first: four cases offering the supervisor nothing yet, then two with a request to decide.
    refused = [_verified(client, staff, extension_requested=False) for _ in range(4)]
    requested = [_verified(client, staff, extension_requested=True) for _ in range(2)]
    without_deadline = {"none": [], "requested": requested, "all": refused + requested}[undated]
    if without_deadline:
        session.execute(
            update(Complaint).where(col(Complaint.id).in_(without_deadline)).values(stage_deadline=None)
        )
        session.commit()
    _only_extension_decisions(monkeypatch)

    tasks = _tasks(client, staff, limit=3)
    assert [t["id"] for t in tasks] == requested
    assert all(DECISIONS <= set(t["actions"]) for t in tasks)
    # The limit still holds when reading on finds more than it lacks.
    assert [t["id"] for t in _tasks(client, staff, limit=1)] == requested[:1]


def test_a_case_whose_deadline_moves_while_the_queue_reads_on_is_listed_once(
    client: TestClient, staff: Staff, session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read is its own snapshot: a case listed by the first read whose deadline moves later before
    the next one would come again."""
    first = dispatched_and_signed(client, staff)
    act(client, staff, "handler", first, "request_extension", days=5, reason="需协调财政资金")
    dropped = dispatched_and_signed(client, staff)  # nothing for the supervisor yet: read on past it
    tomorrow = TODAY + dt.timedelta(days=1)
    session.execute(
        update(Complaint).where(col(Complaint.id).in_([first, dropped])).values(stage_deadline=tomorrow)
    )
    session.commit()
    real = queue._QueueRows.items
    reads: list[list[int]] = []

    def items(self: Any, rows: Any) -> Any:
        found = real(self, rows)
        reads.append([row[0] for row in rows])
        if len(reads) == 1:  # between the two reads the case is verified: a new stage, a later deadline
            act(client, staff, "competent", first, "verify_true")
        return found

    monkeypatch.setattr(queue._QueueRows, "items", items)
    with Session(engine) as fresh:
        tasks = queue.work_queue(
            session=fresh, actor=Actor(name="督办员", role=Role.SUPERVISOR), today=TODAY,
            calendar=load_calendar(session=fresh), limit=2,
        )  # fmt: skip
    assert len(reads) > 1  # it did read on
    ids = [t.id for t in tasks]
    assert len(ids) == len(set(ids)), ids
