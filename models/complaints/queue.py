"""The work queue (GET /tasks and the workbench page): open cases waiting on the caller, soonest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Boolean, Date, Integer, and_, bindparam, func, literal, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach_queue import decision_tasks
from models.calendar import WorkCalendar
from models.complaint import Complaint, ComplaintAssignment
from models.complaints.assisting import ASSIST_OPINION
from models.complaints.preconditions import PRECONDITIONS, EventsOf, in_stage, unmet
from models.complaints.visibility import (
    LEAD,
    STAFF_SEE_ALL,
    VERIFIER,
    actions_for_parties,
    awaited_actions,
    department_visible,
    parties_from_flags,
    state_label,
)
from models.deadlines import due_steps
from models.id_sets import in_list
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
    table once per (state, part) rather than with further queries per case (the busiest read of the API),
    then narrowed per case by the actions' preconditions (``preconditions``) from the row's own columns,
    and from one more statement for all the cases when an offered action's rule reads their events. The
    statement returns only cases the actor has an action in by the table, so ``limit`` counts those; when
    the preconditions then drop some of a full answer, the queue reads on after its last row.
    """
    handler = actor.role == Role.HANDLER
    if actor.role not in STAFF_SEE_ALL and not (handler and actor.department_id is not None):
        return []  # nobody else sees complaints (``visibility._visible_clause``)
    stmt = _queue_statement(actor.role, after=False)
    if stmt is None:
        return []
    params: dict[str, Any] = {"limit": limit}
    if handler:
        params["department_id"] = actor.department_id
    reading = _QueueRows(session=session, actor=actor, today=today, calendar=calendar)
    rows = session.connection().execute(stmt, params).all()
    items = reading.items(rows)
    # The LIMIT counts cases by the table, and the preconditions drop some after it: read on past the last
    # row, in the statement's own order, until ``limit`` cases are found or none are left (the rules stay
    # in Python, once; nothing is dropped in the common case, which stays one statement).
    while len(rows) == limit and len(items) < limit:
        last = rows[-1]
        keyset = {"after_null": last[4] is None, "after_deadline": last[4], "after_id": last[0]}
        rows = session.connection().execute(_queue_statement(actor.role, after=True), params | keyset).all()
        # Each read is its own snapshot: a listed case whose deadline moved later meanwhile comes again.
        listed = {item.id for item in items}
        items += [item for item in reading.items(rows) if item.id not in listed]
    del items[limit:]
    reviews = review_tasks(session=session, actor=actor, today=today, calendar=calendar, limit=limit)
    decisions = decision_tasks(session=session, actor=actor, today=today, calendar=calendar, limit=limit)
    return merge_by_deadline(merge_by_deadline(items, reviews, limit), decisions, limit)


def warned_yellow(
    *, tasks: Sequence[TaskItem], today: dt.date, calendar: WorkCalendar
) -> set[tuple[str, int]]:
    """The (kind, id) of the ``tasks`` whose deadline the supervision flows warn yellow on ``today`` (临期):
    decided by their own rule (``deadlines.due_steps``) on the same deadline, so the queue marks what the
    department is mailed. A paused stage, a deadline still pending the year's notice or one the calendar
    cannot count to yet (``working_days_left`` None) is not warned by the flows, so not marked."""
    return {
        (t.kind, t.id)
        for t in tasks
        if t.stage_deadline is not None
        and not (t.paused or t.deadline_pending or t.working_days_left is None)
        and "yellow" in due_steps(deadline=t.stage_deadline, today=today, calendar=calendar)
    }


# Where the handler's three facts (``parties_from_flags``) start in a row.
_FLAGS = 13


class _RowFacts(NamedTuple):
    """A queue row's columns the preconditions read (``preconditions.CaseFacts``)."""

    id: int
    stage_seq: int
    stage_deadline: dt.date | None
    extension_requested_days: int | None
    extension_used: bool
    redo_count: int
    state: str
    paused_from_state: str | None
    dispatched_on: dt.date | None


class _QueueRows:
    """Rows of the queue statement made task items, with what one read works out once kept for the next
    (when the preconditions dropped cases and the queue reads on)."""

    def __init__(self, *, session: Session, actor: Actor, today: dt.date, calendar: WorkCalendar) -> None:
        self.session, self.actor, self.today, self.calendar = session, actor, today, calendar
        self.actions_for: dict[tuple[str, frozenset[str]], list[str]] = {}
        self.days_left: dict[dt.date, int | None] = {}

    def _opinions_given(self, rows: Sequence[Any], offered: list[list[str]]) -> set[int]:
        """Of the rows offered 协办意见, the cases the actor's department has given one on (one query)."""
        ids = [row[0] for row, actions in zip(rows, offered, strict=True) if ASSIST_OPINION in actions]
        if not ids or self.actor.department_id is None:
            return set()
        found = self.session.execute(
            select(col(CaseEvent.case_id), col(CaseEvent.data)).where(
                col(CaseEvent.case_kind) == "complaint",
                col(CaseEvent.event) == ASSIST_OPINION,
                in_list(self.session, CaseEvent.__table__.c.case_id, ids),  # type: ignore[attr-defined]
            )
        ).all()
        return {cid for cid, data in found if (data or {}).get("department_id") == self.actor.department_id}

    def items(self, rows: Sequence[Any]) -> list[TaskItem]:
        """The rows' cases with what the actor may do in each today; one left with nothing is dropped."""
        offered = [self._table_actions(row) for row in rows]
        events = _stage_events(self.session, rows, offered)
        given = self._opinions_given(rows, offered)
        items: list[TaskItem] = []
        for row, table_actions in zip(rows, offered, strict=True):
            case_id, number, state, summary, deadline, pending, channel = row[:7]
            facts = _RowFacts(case_id, row[7], deadline, row[8], row[9], row[10], state, row[11], row[12])
            # As ``available_actions``: what the case's preconditions refuse today is not offered.
            actions = [
                a
                for a in table_actions
                if (
                    a not in PRECONDITIONS
                    or unmet(
                        session=self.session,
                        case=facts,
                        action=a,
                        today=self.today,
                        events=events.of(facts),
                        calendar=self.calendar,
                    )
                    is None
                )
                # An assisting department that gave its opinion may add to it on the case page, but the
                # case is no longer work waiting on it (its queue would list every case until the reply).
                and not (a == ASSIST_OPINION and case_id in given)
            ]
            if not actions:
                continue
            paused = COMPLAINT.state(state).clock_paused
            items.append(
                TaskItem(
                    id=case_id,
                    number=number,
                    state=state,
                    state_label=state_label(state),
                    summary=summary,
                    stage_deadline=deadline,
                    deadline_pending=bool(pending),
                    working_days_left=None if deadline is None or paused else self._days_left(deadline),
                    paused=paused,
                    actions=actions,
                    channel=str(channel),
                )
            )
        return items

    def _table_actions(self, row: Any) -> list[str]:
        handler = self.actor.role == Role.HANDLER
        parties = parties_from_flags(*row[_FLAGS:]) if handler else frozenset()
        key = (str(row[2]), parties)
        if key not in self.actions_for:
            options = awaited_actions(key[0], self.actor.role)
            self.actions_for[key] = [t.event for t in actions_for_parties(options, self.actor.role, parties)]
        return self.actions_for[key]

    def _days_left(self, deadline: dt.date) -> int | None:
        if deadline not in self.days_left:
            # None in a January before the notice is loaded: the date alone is shown.
            self.days_left[deadline] = self.calendar.working_days_left(self.today, deadline)
        return self.days_left[deadline]


class _LoadedEvents:
    """The stage events the preconditions of a queue's cases read, loaded in one statement for all of them
    (none when no offered action reads any): a read per case would multiply the busiest read of the API."""

    def __init__(self, rows: list[CaseEvent]) -> None:
        self._by_case: dict[tuple[int, str], list[CaseEvent]] = {}
        for e in rows:
            self._by_case.setdefault((e.case_id, e.event), []).append(e)

    def of(self, case: _RowFacts) -> EventsOf:
        def events(event: str) -> list[CaseEvent]:
            return in_stage(case, self._by_case.get((case.id, event), []))

        return events


def _stage_events(session: Session, rows: Sequence[Any], offered: list[list[str]]) -> _LoadedEvents:
    reads = {
        name for actions in offered for a in actions if a in PRECONDITIONS for name in PRECONDITIONS[a].reads
    }
    ids = [
        row[0]
        for row, actions in zip(rows, offered, strict=True)
        if any(PRECONDITIONS[a].reads for a in actions if a in PRECONDITIONS)
    ]
    if not reads or not ids:
        return _LoadedEvents([])
    stmt = select(CaseEvent).where(
        CaseEvent.case_kind == "complaint",
        in_list(session, CaseEvent.__table__.c.case_id, ids),  # type: ignore[attr-defined]
        col(CaseEvent.event).in_(sorted(reads)),
    )
    return _LoadedEvents(list(session.exec(stmt.order_by(col(CaseEvent.seq))).all()))


@cache
def _queue_statement(role: Role, *, after: bool) -> Any:
    """The work-queue query of ``role`` with bound ``limit`` (and ``department_id`` for handlers): the open
    cases in which the role (for a handler, their department's part in the case) has an action, as the
    lifecycle table and ``visibility.actions_for_parties`` say; None when no open state waits on the role.
    ``after``: only the rows past a given one in the query's order, by its bound ``after_null``,
    ``after_deadline`` and ``after_id`` (a keyset: OFFSET would re-read the skipped rows and shift under
    cases that changed in between)."""
    # Also the states where the role has only an awaited action (a supervisor's extension decision in
    # 整改中): the preconditions then keep the cases where it holds.
    states = [s.name for s in COMPLAINT.states if not s.terminal and awaited_actions(s.name, role)]
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
        # What the preconditions of the actions read besides the deadline (``_RowFacts``), in its order.
        col(Complaint.stage_seq),
        col(Complaint.extension_requested_days),
        col(Complaint.extension_used),
        col(Complaint.redo_count),
        col(Complaint.paused_from_state),
        col(Complaint.dispatched_on),
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
    if after:
        stmt = stmt.where(_past_keyset())
    return stmt.order_by(
        col(Complaint.stage_deadline).is_(None), col(Complaint.stage_deadline), col(Complaint.id)
    ).limit(bindparam("limit"))


def _past_keyset() -> Any:
    """The rows after (``after_null``, ``after_deadline``, ``after_id``) in the queue's order: dated cases by
    deadline then id, then the undated ones by id."""
    deadline: Any = col(Complaint.stage_deadline)
    case_id: Any = col(Complaint.id)
    after_null: Any = bindparam("after_null", type_=Boolean)
    after_deadline: Any = bindparam("after_deadline", type_=Date)
    after_id: Any = bindparam("after_id", type_=Integer)
    past_dated = or_(
        deadline.is_(None), deadline > after_deadline, and_(deadline == after_deadline, case_id > after_id)
    )
    return or_(and_(~after_null, past_dated), and_(after_null, deadline.is_(None), case_id > after_id))


def _states_with_actions(states: list[str], role: Role, party: str) -> list[str]:
    """The ``states`` in which a handler whose department has ``party`` in the case has an action."""
    return [s for s in states if actions_for_parties(COMPLAINT.available(s, role), role, frozenset({party}))]
