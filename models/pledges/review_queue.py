"""Evidence reviews in the work queue (GET /tasks and the workbench): pledges whose evidence awaits the
authority's decision, by review deadline, merged with the complaints waiting on the same person
(``models.complaints.queue.work_queue`` calls ``review_tasks``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from models.calendar import WorkCalendar
from models.lifecycle import PLEDGE, PledgeState, Role
from models.pledge import Pledge
from models.tasks import TaskItem
from models.workflow import Actor

PS = PledgeState
_T = Pledge.__table__  # type: ignore[attr-defined]


def review_tasks(
    *, session: Session, actor: Actor, today: dt.date, calendar: WorkCalendar, limit: int = 500
) -> list[TaskItem]:
    """Evidence reviews waiting on ``actor``, soonest review deadline first: a handler's own department's
    (the lifecycle's ``evidence_submitted`` waits on handlers), and every one for supervisors, who may
    decide them too and chase them."""
    if actor.role == Role.HANDLER and actor.department_id is not None:
        where: list[Any] = [_T.c.authority_id == actor.department_id]
    elif actor.role == Role.SUPERVISOR:
        where = []
    else:
        return []
    stmt = (
        select(
            _T.c.id,
            _T.c.number,
            _T.c.state,
            _T.c.pledgor_name,
            _T.c.matter,
            _T.c.stage_deadline,
            _T.c.deadline_pending,
        )
        .where(_T.c.state == PS.EVIDENCE_SUBMITTED, *where)
        .order_by(_T.c.stage_deadline.is_(None), _T.c.stage_deadline, _T.c.id)
        .limit(limit)
    )
    actions = [t.event for t in PLEDGE.available(PS.EVIDENCE_SUBMITTED, actor.role) if t.event in _DECISIONS]
    items = []
    for pid, number, state, pledgor, matter, deadline, pending in session.execute(stmt).all():
        items.append(
            TaskItem(
                id=pid,
                kind="pledge",
                number=number,
                state=state,
                state_label=PLEDGE.state(state).label,
                summary=f"{pledgor}：{matter}（告知承诺履约材料核查）",
                stage_deadline=deadline,
                # Evidence handed in late in December, the review deadline in a year not yet loaded.
                deadline_pending=bool(pending),
                working_days_left=calendar.working_days_left(today, deadline),
                paused=False,
                actions=actions,
            )
        )
    return items


_DECISIONS = ("confirm", "reject_evidence", "confirm_false", "cancel")
