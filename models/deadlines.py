"""Which deadline-warning steps (黄牌/红牌预警, 催办, 督办, 提级办理) are due for a stage on a given day.

One rule for every supervised stage, whether a complaint's (models/complaints/) or a register record's
objection or repair decision (models/breach_supervision.py). RULEBOOK (complaints §6–7): a yellow warning
one working day before a deadline, a red one on the first working day after it, then chasing (催办),
formal supervision (督办) and escalation (提级办理). ``due_steps`` is pure (no session, no clock);
``supervise_each`` is the batch loop both supervision services share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.calendar import WorkCalendar
from models.errors import Conflict

Case = TypeVar("Case")

# The lifecycle event each step fires; the other steps (remind, supervise, escalate) are events by name.
STEP_EVENTS = {"yellow": "warn_yellow", "red": "warn_red"}


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

    ``yellow`` from the last working day before the deadline through the deadline itself (a run catches
    up a missed day, but never warns yellow once red is due); once overdue by n working days (counted
    strictly after the deadline): ``red`` and ``remind`` at n >= 1, ``supervise`` at n >=
    ``supervise_after`` and ``escalate`` at n >= ``escalate_after`` where the stage has those steps
    (None: it has not). Steps already taken are filtered out by the callers' idempotency keys, so "due"
    may include old ones.
    """
    if deadline is None:
        return []
    if today <= deadline:
        return ["yellow"] if calendar.working_days_between(today, deadline) <= 1 else []
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
    if not calendar.is_workday(today):
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
