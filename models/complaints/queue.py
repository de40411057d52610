"""The work queue (GET /tasks and the workbench page): open cases waiting on the caller, soonest first."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, literal, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.breach_queue import decision_tasks
from models.calendar import WorkCalendar
from models.complaint import Complaint, ComplaintAssignment
from models.complaints.visibility import (
    LEAD,
    STAFF_SEE_ALL,
    VERIFIER,
    actions_for_parties,
    department_visible,
    parties_from_flags,
    state_label,
)
from models.lifecycle import COMPLAINT, Role
from models.org import Department
from models.pledges.review_queue import review_tasks
from models.tasks import TaskItem, merge_by_deadline
from models.workflow import Actor


def work_queue(
    *, session: Session, actor: Actor, today: dt.date, calendar: WorkCalendar, limit: int = 500
) -> list[TaskItem]:
    """Open cases waiting on the actor's role (and, for handlers, on their department), soonest first.

    One statement, built once per role and reused with bound parameters (building and keying it cost more
    than running it): the rows come back as plain tuples with the handler's part in each case (lead,
    verifier, assisting) computed in SQL, and the available actions are worked out from the lifecycle
    table once per (state, part) rather than with further queries per case (the busiest read of the API).
    The statement returns only cases the actor has an action in, so ``limit`` counts those.
    """
    handler = actor.role == Role.HANDLER
    if actor.role not in STAFF_SEE_ALL and not (handler and actor.department_id is not None):
        return []  # nobody else sees complaints (``visibility._visible_clause``)
    stmt = _queue_statement(actor.role)
    if stmt is None:
        return []
    params: dict[str, Any] = {"limit": limit}
    if handler:
        params["department_id"] = actor.department_id
    actions_for: dict[tuple[str, frozenset[str]], list[str]] = {}
    days_left: dict[dt.date, int | None] = {}
    items: list[TaskItem] = []
    for row in session.connection().execute(stmt, params).all():
        case_id, number, state, summary, deadline, pending, channel = row[:7]
        parties = parties_from_flags(*row[7:]) if handler else frozenset()
        key = (str(state), parties)
        if key not in actions_for:
            options = COMPLAINT.available(key[0], actor.role)
            actions_for[key] = [t.event for t in actions_for_parties(options, actor.role, parties)]
        actions = actions_for[key]
        paused = COMPLAINT.state(state).clock_paused
        left = None
        if deadline is not None and not paused:
            if deadline not in days_left:
                # None in a January before the notice is loaded: the date alone is shown.
                days_left[deadline] = calendar.working_days_left(today, deadline)
            left = days_left[deadline]
        items.append(
            TaskItem(
                id=case_id,
                number=number,
                state=state,
                state_label=state_label(state),
                summary=summary,
                stage_deadline=deadline,
                deadline_pending=bool(pending),
                working_days_left=left,
                paused=paused,
                actions=actions,
                channel=str(channel),
            )
        )
    reviews = review_tasks(session=session, actor=actor, today=today, calendar=calendar, limit=limit)
    decisions = decision_tasks(session=session, actor=actor, today=today, calendar=calendar, limit=limit)
    return merge_by_deadline(merge_by_deadline(items, reviews, limit), decisions, limit)


@cache
def _queue_statement(role: Role) -> Any:
    """The work-queue query of ``role`` with bound ``limit`` (and ``department_id`` for handlers): the open
    cases in which the role (for a handler, their department's part in the case) has an action, as the
    lifecycle table and ``visibility.actions_for_parties`` say; None when no open state waits on the role."""
    states = [
        s.name
        for s in COMPLAINT.states
        if role in s.waiting_on and not s.terminal and COMPLAINT.available(s.name, role)
    ]
    if not states:
        return None
    columns: list[Any] = [
        col(Complaint.id),
        col(Complaint.number),
        col(Complaint.state),
        col(Complaint.summary),
        col(Complaint.stage_deadline),
        col(Complaint.deadline_pending),
        col(Complaint.channel),
    ]
    # The states as ordinary bound values: a plain list is an "expanding" parameter, re-rendered into the
    # SQL string on every execution, a twentieth of a queue read's CPU.
    state_column: Any = col(Complaint.state)

    def in_states(names: list[str]) -> Any:
        return state_column.in_([literal(s, state_column.type) for s in names])

    stmt_where: list[Any] = [in_states(states)]
    lead_department = aliased(Department)
    if role == Role.HANDLER:
        department_id: Any = bindparam("department_id")
        lead = col(Complaint.lead_department_id)
        assigned = (
            select(ComplaintAssignment.id)
            .where(
                ComplaintAssignment.complaint_id == Complaint.id,
                ComplaintAssignment.department_id == department_id,
                col(ComplaintAssignment.active).is_(True),
            )
            .exists()
        )
        is_lead = lead == department_id
        is_verifier = lead.is_not(None) & (func.coalesce(lead_department.competent_id, lead) == department_id)
        # The three facts of ``visibility.parties_from_flags``, in the order it takes them.
        columns += [is_lead, is_verifier, assigned]
        stmt_where.append(department_visible(department_id))
        # A 主管部门 sees every case of the departments under it and an assisting department its cases, yet
        # acts in few of them: keeping only the cases where the department's part has an action (in SQL,
        # before the limit) keeps those few from falling behind ``limit`` rows it cannot act on.
        assisting = assigned & (lead.is_(None) | ~(is_lead | is_verifier))
        acting = [
            in_states(party_states) & flag
            for party, flag in ((LEAD, is_lead), (VERIFIER, is_verifier), ("assisting", assisting))
            if (party_states := _states_with_actions(states, role, party))
        ]
        stmt_where.append(or_(*acting) if acting else literal(False))
    stmt = select(*columns).where(*stmt_where)
    if role == Role.HANDLER:
        stmt = stmt.outerjoin(lead_department, lead_department.id == Complaint.lead_department_id)
    return stmt.order_by(
        col(Complaint.stage_deadline).is_(None), col(Complaint.stage_deadline), col(Complaint.id)
    ).limit(bindparam("limit"))


def _states_with_actions(states: list[str], role: Role, party: str) -> list[str]:
    """The ``states`` in which a handler whose department has ``party`` in the case has an action."""
    return [s for s in states if actions_for_parties(COMPLAINT.available(s, role), role, frozenset({party}))]
