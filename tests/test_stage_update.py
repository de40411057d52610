"""apply_event writes the new stage in its compare-and-set UPDATE: one UPDATE of the case row, the same
stored and in-memory values as the two writes before it, and nothing left for the next flush."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, text
from sqlmodel import Session

from models.calendar import WorkCalendar
from models.workflow import apply_event
from tests.test_workflow import INTAKE, _complaint


def _row(session: Session, case_id: int) -> dict[str, Any]:
    columns = "version, state, stage_seq, stage_started_on, stage_deadline, warning_level, escalation_level, "
    columns += "extension_requested_days, extension_used"
    row = session.connection().execute(
        text(f"SELECT {columns} FROM complaint WHERE id = :id"), {"id": case_id}
    )
    return dict(row.mappings().one())


def test_a_state_change_is_one_update_of_the_case(
    session: Session, today: dt.date, calendar: WorkCalendar
) -> None:
    c = _complaint(session)
    assert c.id is not None
    c.warning_level = "red"  # a stage's warning, extension and escalation are reset by the next stage
    c.escalation_level = 2
    c.extension_requested_days = 5
    c.extension_used = True
    session.flush()
    before = c.stage_seq
    updates: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE COMPLAINT "):
            updates.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        apply_event(session=session, case=c, event="accept", actor=INTAKE, today=today, calendar=calendar)
        session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(updates) == 1
    assert not session.dirty
    expected = {
        "version": 2,
        "state": "ACCEPTED",
        "stage_seq": before + 1,
        "stage_started_on": today,
        "stage_deadline": c.stage_deadline,  # the accept stage's, as the lifecycle tests check
        "warning_level": None,
        "escalation_level": 0,
        "extension_requested_days": None,
        "extension_used": False,
    }
    assert c.stage_deadline is not None
    assert c.stage_deadline > today
    stored = _row(session, c.id)
    stored["state"] = str(stored["state"]).upper()
    for day in ("stage_started_on", "stage_deadline"):
        stored[day] = dt.date.fromisoformat(str(stored[day]))
    stored["extension_used"] = bool(stored["extension_used"])
    assert stored == expected
    in_memory = {name: getattr(c, name) for name in expected}
    in_memory["state"] = str(in_memory["state"]).upper()
    assert in_memory == expected
    session.expire_all()
    assert c.stage_seq == before + 1
    assert c.version == 2
