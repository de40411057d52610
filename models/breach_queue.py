"""Objections and credit-repair requests in the work queue (GET /tasks and the workbench): breach records
awaiting the deciding department's decision, by decision deadline (``models.complaints.queue.work_queue``
merges them with the complaints and evidence reviews waiting on the same person)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.lifecycle import BREACH, BreachState, Role
from models.register.decisions import may_decide
from models.tasks import TaskItem
from models.workflow import Actor

_B = PublishedBreach.__table__  # type: ignore[attr-defined]
_WAITING = (BreachState.UNDER_OBJECTION, BreachState.REPAIR_REQUESTED)
_WHAT = {BreachState.UNDER_OBJECTION: "异议待答复", BreachState.REPAIR_REQUESTED: "信用修复申请待决定"}


def decision_tasks(
    *, session: Session, actor: Actor, today: dt.date, calendar: WorkCalendar, limit: int = 500
) -> list[TaskItem]:
    """Records under objection or with a repair request waiting on ``actor``, soonest deadline first: the
    deciding department's own pledge records for a handler (the lifecycle's states wait on handlers; a
    record from a complaint is the credit office's to decide, whatever department it names); for
    supervisors, who may decide them too and chase them, every one they may decide (``may_decide``: not
    the repair of a pledge's record, which its authority decides; the dashboard shows those for chasing)."""
    if actor.role == Role.HANDLER and actor.department_id is not None:
        where: list[Any] = [_B.c.department_id == actor.department_id, _B.c.complaint_id.is_(None)]
    elif actor.role == Role.SUPERVISOR:
        # ``may_decide`` in SQL, so the limit counts only records the supervisor can act on.
        where = [or_(_B.c.state != BreachState.REPAIR_REQUESTED, _B.c.complaint_id.is_not(None))]
    else:
        return []
    stmt = (
        select(
            _B.c.id,
            _B.c.number,
            _B.c.state,
            _B.c.subject_name,
            _B.c.matter,
            _B.c.stage_deadline,
            _B.c.deadline_pending,
            _B.c.complaint_id,
        )
        .where(_B.c.state.in_(_WAITING), *where)
        .order_by(_B.c.stage_deadline.is_(None), _B.c.stage_deadline, _B.c.id)
        .limit(limit)
    )
    offered = {s: [t.event for t in BREACH.available(s, actor.role) if t.event != "remind"] for s in _WAITING}

    def actions(state: str, complaint_id: int | None) -> list[str]:
        return [
            e
            for e in offered[BreachState(state)]
            if may_decide(complaint_id=complaint_id, action=e, role=actor.role)
        ]

    rows = session.execute(stmt).all()
    return [
        TaskItem(
            id=bid,
            kind="breach",
            number=number,
            state=state,
            state_label=BREACH.state(state).label,
            summary=f"{subject}：{matter}（{_WHAT[BreachState(state)]}）",
            stage_deadline=deadline,
            deadline_pending=bool(pending),
            working_days_left=calendar.working_days_left(today, deadline),
            paused=False,
            actions=actions(state, complaint_id),
        )
        for bid, number, state, subject, matter, deadline, pending, complaint_id in rows
    ]
