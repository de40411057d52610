"""apply_event: the one way a case changes state, its new stage written in the compare-and-set UPDATE
itself (one UPDATE of the case row, nothing left for the next flush)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlmodel import Session, select

from models.audit import CaseEvent, event_hash, hashed_fields
from models.calendar import WorkCalendar
from models.complaint import Category, Channel, Complaint
from models.errors import Conflict, NotPermitted, TransitionNotAllowed
from models.lifecycle import ComplaintState, Role
from models.numbering import reserve_numbers
from models.workflow import Actor, apply_event, record_event

INTAKE = Actor(name="受理员", role=Role.INTAKE, id=1)
HANDLER = Actor(name="经办人", role=Role.HANDLER, id=2, department_id=1)


def _complaint(session: Session) -> Complaint:
    [(seq, number)] = reserve_numbers(session=session, prefix="TS", year=2026)
    c = Complaint(
        number=number,
        year=2026,
        seq=seq,
        channel=Channel.HOTLINE,
        complainant_name="某公司",
        complainant_phone="13800000000",
        category=Category.SME_ARREARS,
        summary="拖欠工程款",
        tracking_password_hash="x",
    )
    session.add(c)
    session.flush()
    record_event(
        session=session,
        case=c,
        transition=None,
        from_state=None,
        to_state=c.state,
        actor=INTAKE,
        at=dt.datetime.now(dt.UTC),
        note=None,
        data={},
        idempotency_key=None,
        event="register",
    )
    return c


def test_event_moves_state_bumps_version_and_starts_the_deadline(
    session: Session, today: dt.date, calendar: WorkCalendar
) -> None:
    c = _complaint(session)
    ev = apply_event(session=session, case=c, event="accept", actor=INTAKE, today=today, calendar=calendar)
    assert ev is not None
    assert (ev.from_state, ev.to_state, ev.seq) == ("registered", "accepted", 2)
    session.commit()
    session.refresh(c)
    assert c.state == ComplaintState.ACCEPTED
    assert c.version == 2
    # `accepted` starts the 1-working-day dispatch rule: Monday 2026-03-02 → Tuesday 2026-03-03
    assert c.stage_deadline == dt.date(2026, 3, 3)


def test_refusals_come_from_the_table(session: Session, today: dt.date, calendar: WorkCalendar) -> None:
    c = _complaint(session)
    with pytest.raises(NotPermitted):
        apply_event(session=session, case=c, event="accept", actor=HANDLER, today=today, calendar=calendar)
    with pytest.raises(TransitionNotAllowed):
        apply_event(session=session, case=c, event="close", actor=INTAKE, today=today, calendar=calendar)
    assert c.version == 1


def test_stale_version_is_a_conflict(session: Session, today: dt.date, calendar: WorkCalendar) -> None:
    c = _complaint(session)
    with pytest.raises(Conflict):
        apply_event(
            session=session,
            case=c,
            event="accept",
            actor=INTAKE,
            today=today,
            calendar=calendar,
            expected_version=7,
        )


def test_a_concurrent_change_is_detected(engine, today: dt.date, calendar: WorkCalendar) -> None:  # noqa: ANN001
    with Session(engine) as s:
        case_id = _complaint(s).id
        s.commit()
    with Session(engine) as first, Session(engine) as second:
        a = first.get(Complaint, case_id)
        b = second.get(Complaint, case_id)
        assert a is not None
        assert b is not None
        apply_event(session=first, case=a, event="accept", actor=INTAKE, today=today, calendar=calendar)
        first.commit()
        with pytest.raises(Conflict):
            apply_event(session=second, case=b, event="reject", actor=INTAKE, today=today, calendar=calendar)


def test_idempotency_key_applies_once(session: Session, today: dt.date, calendar: WorkCalendar) -> None:
    c = _complaint(session)
    system = Actor.system("run-1")
    first = apply_event(
        session=session,
        case=c,
        event="remind",
        actor=system,
        today=today,
        calendar=calendar,
        idempotency_key="k1",
    )
    again = apply_event(
        session=session,
        case=c,
        event="remind",
        actor=system,
        today=today,
        calendar=calendar,
        idempotency_key="k1",
    )
    assert first is not None
    assert first.flow_run_id == "run-1"
    assert again is None
    assert c.state == ComplaintState.REGISTERED  # a supervision event does not move the case
    moved = apply_event(
        session=session,
        case=c,
        event="accept",
        actor=INTAKE,
        today=today,
        calendar=calendar,
        idempotency_key="k2",
    )
    replay = apply_event(
        session=session,
        case=c,
        event="accept",
        actor=INTAKE,
        today=today,
        calendar=calendar,
        idempotency_key="k2",
    )
    assert moved is not None
    assert replay is None  # already applied: not "accept is not allowed in state accepted"


def test_events_form_a_hash_chain(session: Session, today: dt.date, calendar: WorkCalendar) -> None:
    c = _complaint(session)
    for event in ("accept", "merge"):
        apply_event(session=session, case=c, event=event, actor=INTAKE, today=today, calendar=calendar)
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == c.id).order_by(CaseEvent.seq)).all()
    prev = ""
    for e in events:
        assert e.prev_hash == prev
        assert e.hash == event_hash(prev, hashed_fields(e))
        prev = e.hash
    assert [e.event for e in events] == ["register", "accept", "merge"]


def test_case_numbers_are_unique_per_year(session: Session) -> None:
    a = reserve_numbers(session=session, prefix="TS", year=2026, count=2)
    b = reserve_numbers(session=session, prefix="TS", year=2026)
    c = reserve_numbers(session=session, prefix="TS", year=2027)
    numbers = [n for _, n in a + b + c]
    assert numbers == ["TS-2026-000001", "TS-2026-000002", "TS-2026-000003", "TS-2027-000001"]


def _row(session: Session, case_id: int) -> dict[str, Any]:
    columns = "version, state, stage_seq, stage_started_on, stage_deadline, warning_level, escalation_level, "
    columns += "extension_requested_days, extension_used"
    row = session.connection().execute(
        text(f"SELECT {columns} FROM complaint WHERE id = :id"), {"id": case_id}
    )
    return dict(row.mappings().one())


def test_a_state_change_writes_the_new_stage_in_one_update_of_the_case(
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
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        apply_event(session=session, case=c, event="accept", actor=INTAKE, today=today, calendar=calendar)
        session.flush()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
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
