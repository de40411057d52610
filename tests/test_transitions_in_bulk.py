"""A batch of cases moved by ``apply_event_many`` ends exactly as the same events applied by ``apply_event``
one case at a time: the same case rows, byte for byte, and the same audit rows with the same hash chain.

The seed is committed once; each way then runs in a transaction of its own, is read back raw from the
driver and rolled back. The audit rows are compared in id order without the id itself, which PostgreSQL's
sequence does not give back on a rollback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from models.audit_verify import verify_audit
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.lifecycle import LIFECYCLES, Role
from models.pledge import Pledge
from models.workflow import Actor, Fired, apply_event, apply_event_many
from tests.conftest import Staff
from tests.test_publication import SYSTEM, new_pledge
from tests.test_workflow import INTAKE, _complaint

NOW = dt.datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=dt.UTC)
HANDLER = Actor(name="住建经办人", role=Role.HANDLER, id=5, department_id=2)

# (kind, event, actor, data, idempotency key, ids to move): in order, each on the cases the previous left.
Step = tuple[str, str, Actor, Callable[[Fired], dict[str, Any]] | None, Callable[[int], str] | None]
STEPS: list[Step] = [
    ("pledge", "mark_overdue", SYSTEM, lambda f: {"number": f.number}, None),
    ("pledge", "warn", SYSTEM, lambda _: {"day": 1, "浮点": 1.5}, lambda i: f"pledge:{i}:warn:1"),
    ("pledge", "warn", SYSTEM, None, lambda i: f"pledge:{i}:warn:1"),  # a re-run: nothing moves
    ("pledge", "submit_evidence", HANDLER, None, None),  # starts the evidence review's deadline
    ("complaint", "accept", INTAKE, None, None),  # a complaint's stage clock, warnings and deadline
    ("complaint", "await_complainant", INTAKE, lambda _: {"reason": "补充材料"}, None),  # a paused clock
]
MODELS = {"pledge": Pledge, "complaint": Complaint}


def _raw(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Each table's rows as the driver returns them, in id order (without the audit rows' own id)."""
    run = session.connection().exec_driver_sql
    tables = {name: run(f"SELECT * FROM {name} ORDER BY id").mappings().all() for name in MODELS}
    events = run("SELECT * FROM case_event ORDER BY id").mappings().all()
    return {
        **{name: [dict(row) for row in rows] for name, rows in tables.items()},
        "case_event": [{k: v for k, v in row.items() if k != "id"} for row in events],
    }


def _one_by_one(session: Session, ids: dict[str, list[int]], today: dt.date, calendar: WorkCalendar) -> None:
    for kind, event, actor, data, key in STEPS:
        cases = [session.get(MODELS[kind], i) for i in ids[kind]]
        # apply_event_many's order: by source state, then id; cases not in a source state are not moved.
        movable = [c for c in cases if c is not None and c.state in _sources(kind, event)]
        for case in sorted(movable, key=lambda c: (str(c.state), c.id)):
            assert case.id is not None
            fired = Fired(case.id, case.number, str(case.state), "")
            apply_event(
                session=session, case=case, event=event, actor=actor, today=today, calendar=calendar,
                now=NOW, data=data(fired) if data else None, idempotency_key=key(case.id) if key else None,
            )  # fmt: skip
    session.flush()


def _in_batches(session: Session, ids: dict[str, list[int]], today: dt.date, calendar: WorkCalendar) -> None:
    for kind, event, actor, data, key in STEPS:
        apply_event_many(
            session=session, kind=kind, ids=ids[kind], event=event, actor=actor, now=NOW, today=today,
            calendar=calendar, data=data, idempotency_key=key,
        )  # fmt: skip
    session.flush()


def _sources(kind: str, event: str) -> frozenset[str]:
    return LIFECYCLES[kind].transition(event).sources


@pytest.mark.usefixtures("staff")
def test_a_batch_of_events_stores_what_the_same_events_one_by_one_store(
    session: Session, today: dt.date, calendar: WorkCalendar
) -> None:
    pledges = [new_pledge(session, dt.date(2026, 2, 12), name=f"示范建设有限公司{k}") for k in range(5)]
    complaints = [_complaint(session) for _ in range(3)]
    session.commit()
    ids = {"pledge": [p.id for p in pledges], "complaint": [c.id for c in complaints]}
    stored: dict[str, Any] = {}
    for name, way in (("one by one", _one_by_one), ("in batches", _in_batches)):
        session.expire_all()
        way(session, ids, today, calendar)  # type: ignore[operator]
        stored[name] = _raw(session)
        assert verify_audit(session=session).ok
        session.rollback()

    assert stored["in batches"] == stored["one by one"]
    events = [row["event"] for row in stored["in batches"]["case_event"]]
    assert events.count("mark_overdue") == events.count("warn") == events.count("submit_evidence") == 5
    assert events.count("accept") == events.count("await_complainant") == 3


def test_a_case_another_transaction_moved_first_is_skipped(
    session: Session, staff: Staff, today: dt.date, calendar: WorkCalendar
) -> None:
    del staff
    first, second = (new_pledge(session, dt.date(2026, 2, 12), name=f"公司{k}") for k in range(2))
    session.commit()
    apply_event(session=session, case=first, event="mark_overdue", actor=SYSTEM, today=today, now=NOW)

    moved = apply_event_many(
        session=session, kind="pledge", ids=[first.id, second.id], event="mark_overdue",  # type: ignore[list-item]
        actor=SYSTEM, now=NOW,
    )  # fmt: skip

    assert [f.id for f in moved] == [second.id]
    assert moved[0].version == 2
