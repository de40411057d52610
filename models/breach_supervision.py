"""Supervision of the register's own stages: objections (异议答复) and repair requests (信用修复决定).

RULEBOOK (publication §2–3, issue 4): these decisions have deadlines in working days "with supervision like
any other stage". The deciding department (none for a record from a complaint: its supervisors decide it,
whatever department it names) and the supervisors get a yellow warning from the last working
day before the deadline, then a red warning and a 催办 on the first working day after it. Each step is an
audit event keyed by record, stage and step, so a repeated or concurrent run adds nothing and a run after
an outage catches up (the steps: models/deadlines.py, as for complaints, without 督办 and 提级办理).
Called by the ``supervise_deadlines`` flow as its own task per batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.breach_record import CREDIT_OFFICE
from models.calendar import WorkCalendar
from models.deadlines import climb, due_steps, notify_stage, supervise_each
from models.lifecycle import BREACH
from models.org import Department
from models.workflow import Actor


def _states() -> frozenset[str]:
    return BREACH.transition("warn_yellow").sources


def supervision_ids(*, session: Session) -> list[int]:
    """Records under objection or repair with a running decision deadline."""
    stmt = select(PublishedBreach.id).where(
        col(PublishedBreach.state).in_(_states()), col(PublishedBreach.stage_deadline).is_not(None)
    )
    return [i for i in session.exec(stmt.order_by(col(PublishedBreach.id))).all() if i is not None]


def supervise_breaches(
    *, session: Session, ids: Sequence[int], actor: Actor, today: dt.date, calendar: WorkCalendar
) -> int:
    """Apply every due step once; returns how many were applied. Each record commits on its own; one that
    another run or a decision changed meanwhile is left for the next run."""
    return supervise_each(
        session=session,
        model=PublishedBreach,
        ids=ids,
        states=_states(),
        today=today,
        calendar=calendar,
        supervise=lambda record: _supervise(session, record, actor, today, calendar),
    )


def _supervise(
    session: Session, record: PublishedBreach, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> int:
    deadline = record.stage_deadline
    if deadline is None:
        return 0
    left = calendar.working_days_between(today, deadline)

    def notify(event: CaseEvent, step: str) -> None:
        spec = BREACH.state(record.state)
        # A record from a complaint is decided by the supervisors alone (``may_decide``): the department it
        # names is not the one late, and the one in breach must not be pressed to decide on itself.
        if record.complaint_id is not None:
            department, name = None, CREDIT_OFFICE
        else:
            department = session.get(Department, record.department_id)
            name = department.name if department else "认定部门"
        context: dict[str, Any] = {
            "record_number": record.number,
            "department_name": name,
            "subject_name": record.subject_name,
            "stage_label": spec.deadline.label if spec.deadline else spec.label,
            "deadline": deadline.isoformat(),
            "step": step,
            "working_days_left": left,
        }
        notify_stage(
            session=session,
            kind="breach",
            case=record,
            event=event,
            template="breach_stage_notice",
            department=department,
            supervisors=True,
            context=context,
        )

    return climb(
        session=session,
        case=record,
        steps=due_steps(deadline=deadline, today=today, calendar=calendar),
        key=f"breach:{record.id}:stage{record.stage_seq}",
        actor=actor,
        today=today,
        data={"deadline": deadline.isoformat(), "working_days_left": left},
        notify=notify,
    )
