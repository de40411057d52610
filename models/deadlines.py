"""Which deadline-warning steps (黄牌/红牌预警, 催办, 督办, 提级办理) are due for a stage on a given day.

One rule for every supervised stage, whether a complaint's (models/complaints/) or a register record's
objection or repair decision (models/breach_supervision.py). RULEBOOK (complaints §6–7): a yellow warning
one working day before a deadline, a red one on the first working day after it, then chasing (催办),
formal supervision (督办) and escalation (提级办理). ``due_steps`` is pure (no session, no clock);
``supervise_each`` is the batch loop the supervision services share, ``climb`` fires a case's due steps
as its lifecycle events, and ``notify_stage`` tells a stage's department and the supervisors of a step.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.accounts import active_supervisors
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.errors import Conflict
from models.org import Department
from models.outbox import enqueue
from models.settings import get_settings
from models.workflow import Actor, apply_event, lifecycle_of

log = logging.getLogger(__name__)

Case = TypeVar("Case")

# The lifecycle event each step fires; the other steps (remind, supervise, escalate) are events by name.
STEP_EVENTS = {"yellow": "warn_yellow", "red": "warn_red"}


# The supervision steps, lowest first (催办 < 督办 < 提级办理): a stage that had one, by the flow or by a
# supervisor's hand, is not sent it or a lower one again.
LADDER = ("remind", "supervise", "escalate")


def step_event(step: str) -> str:
    return STEP_EVENTS.get(step, step)


def due_steps(
    *,
    deadline: dt.date | None,
    today: dt.date,
    calendar: WorkCalendar,
    supervise_after: int | None = None,
    escalate_after: int | None = None,
) -> list[str]:
    """The steps due on ``today`` (a working day) for a stage due on ``deadline``, in order.

    ``yellow`` from ``SHOUXIN_YELLOW_WARNING_WORKING_DAYS`` working days before the deadline (the last
    working day before it, by default) through the deadline itself (a run catches up a missed day, but
    never warns yellow once red is due); once overdue by n working days (counted
    strictly after the deadline): ``red`` and ``remind`` at n >= 1, ``supervise`` at n >=
    ``supervise_after`` and ``escalate`` at n >= ``escalate_after`` where the stage has those steps
    (None: it has not). Steps already taken are filtered out by the callers' idempotency keys, so "due"
    may include old ones.
    """
    if deadline is None:
        return []
    if today <= deadline:
        lead = get_settings().yellow_warning_working_days
        return ["yellow"] if calendar.working_days_between(today, deadline) <= lead else []
    overdue = calendar.working_days_between(deadline, today)
    steps = ["red", "remind"] if overdue >= 1 else []
    if supervise_after is not None and overdue >= supervise_after:
        steps.append("supervise")
    if escalate_after is not None and overdue >= escalate_after:
        steps.append("escalate")
    return steps


def supervise_each(
    *,
    session: Session,
    model: type[Case],
    ids: Sequence[int],
    states: Collection[str],
    today: dt.date,
    calendar: WorkCalendar,
    supervise: Callable[[Case], int],
) -> int:
    """Run ``supervise`` (which returns how many steps it applied) on each case still in one of ``states``.

    On a non-working day nothing new is due (a Sunday run adds nothing a working day would not). Each
    case is applied in a savepoint of the caller's transaction (the flow task commits the batch); one
    that another run or person changed meanwhile (a stale version, or a step's idempotency key taken
    first) is rolled back to its savepoint and left for the next run.
    """
    workday = calendar.is_workday_if_known(today)
    if workday is None:
        # Which days are working days is not known before the year's notice is loaded: warnings, chasing
        # and escalation are counted in working days, so they wait for it (administrators are warned from
        # December, models/pending_deadlines.py ``calendar_warning``).
        log.warning(
            "%s 年节假日安排尚未载入工作日历，期限督办暂停，载入后恢复 (no %s notice: supervision waits)",
            today.year,
            today.year,
        )
        return 0
    if not workday:
        return 0
    applied = 0
    for case_id in ids:
        case: Any = session.get(model, case_id)
        if case is None or case.state not in states:
            continue
        try:
            with session.begin_nested():  # flushed when the savepoint is released
                steps = supervise(case)
        except (Conflict, IntegrityError):
            continue  # the savepoint is rolled back: this case wrote nothing
        applied += steps  # only once its savepoint is released: a rolled-back case applied nothing
    return applied


def climb(
    *,
    session: Session,
    case: Any,
    steps: Sequence[str],
    key: str,
    actor: Actor,
    today: dt.date,
    data: Mapping[str, Any],
    notify: Callable[[CaseEvent, str], None],
    events: Mapping[str, str] = STEP_EVENTS,
    restarts: Collection[str] = (),
) -> int:
    """Fire each of ``steps`` (``due_steps``'s answer) on ``case`` as the lifecycle event ``events`` names
    it (a step not named there is an event by its own name), recording ``data``; returns how many were
    applied.

    Each step's idempotency key is ``{key}:{step}`` (``key`` names the case and its stage), so a step
    already taken is skipped; ``notify(event, step)`` runs after each step that was applied. A supervision
    step (``LADDER``) is skipped too when the stage already had it or a higher one from a supervisor's
    hand, which writes no key: the department is not sent a second 督办 for one stage (``taken_rank``;
    ``restarts``: the events that start the stage's ladder afresh without a new stage)."""
    applied = 0
    taken: int | None = None  # looked up once, and only when a supervision step is due
    for step in steps:
        rank = LADDER.index(step) + 1 if step in LADDER else 0
        if rank:
            if taken is None:
                taken = taken_rank(session=session, case=case, events=events, restarts=restarts)
            if rank <= taken:
                continue
        event = apply_event(
            session=session,
            case=case,
            event=events.get(step, step),
            actor=actor,
            today=today,
            data=dict(data),
            idempotency_key=f"{key}:{step}",
        )
        if event is None:
            continue
        applied += 1
        if rank:
            taken = rank
        notify(event, step)
    return applied


def taken_rank(
    *, session: Session, case: Any, events: Mapping[str, str] = STEP_EVENTS, restarts: Collection[str] = ()
) -> int:
    """The highest supervision step (1 催办, 2 督办, 3 提级办理; 0 none) the case's current stage had.

    The stage is the one its key names (``stage_seq``): its events are those after the last one that
    started a stage — the case's creation or a move to another state — other than pausing and resuming,
    which keep the stage (the paused clock resumes it, ``keep_stage``), or after the last of ``restarts``
    (an approved extension: the extended deadline's ladder is keyed apart, ``:extended``)."""
    ranks = {events.get(step, step): i for i, step in enumerate(LADDER, start=1)}
    lifecycle = lifecycle_of(case)
    paused = {s.name for s in lifecycle.states if s.clock_paused}
    rows = session.exec(
        select(CaseEvent.event, CaseEvent.from_state, CaseEvent.to_state)
        .where(CaseEvent.case_kind == lifecycle.kind, CaseEvent.case_id == case.id)
        .order_by(col(CaseEvent.seq).desc())
    )
    best = 0
    for name, from_state, to_state in rows:
        best = max(best, ranks.get(name, 0))
        moved = from_state != to_state and from_state not in paused and to_state not in paused
        if from_state is None or moved or name in restarts:
            break
    return best


def notify_stage(
    *,
    session: Session,
    kind: str,
    case: Any,
    event: CaseEvent,
    template: str,
    department: Department | None,
    supervisors: bool,
    context: dict[str, Any],
    pressed_by: int | None = None,
) -> None:
    """Queue ``template`` about a step (``event``) for the stage's ``department`` and, with ``supervisors``,
    every active supervisor but the one who pressed it by hand (``pressed_by``: they know already); each
    row is keyed by the case, the event and the recipient."""
    recipients: list[tuple[str, str, str | None, str]] = []
    if department is not None:
        recipients.append(("department", department.name, department.email, f"dept{department.id}"))
    if supervisors:
        recipients += [
            ("supervisor", u.name, u.email, f"user{u.id}")
            for u in active_supervisors(session=session)
            if pressed_by is None or u.id != pressed_by
        ]
    for recipient_kind, name, email, recipient_key in recipients:
        enqueue(
            session=session,
            template=template,
            recipient_kind=recipient_kind,
            recipient_name=name,
            recipient_email=email,
            key=f"{kind}:{case.id}:{event.seq}:{template}:{recipient_key}",
            context=context,
            case_kind=kind,
            case_id=case.id,
            case_number=case.number,
            flow_run_id=event.flow_run_id,
        )
