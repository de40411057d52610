"""Deadline supervision of complaints (flow supervise_deadlines) and the manual 催办, 督办 and 提级办理.

The steps due on a day come from models/deadlines.py; this module applies them to a complaint and says
who hears of each: the department whose move the stage awaits (the lead, or its 主管部门 in the stages
it verifies; else the supervisors), that department's own 主管部门 on escalation (in words of its own:
it handles nothing, the case was raised to it), and the supervisors on 督办 and 提级办理 (by one alert).
Each late step records whose move it awaited (``awaited_data``): the scorecard blames the lead only for its
own delays (models/scorecard.py).
A step the stage already had, from the flow or a supervisor's hand, is not sent again
(models/deadlines.py ``climb``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from models.accounts import active_supervisors
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.clock import iso_date
from models.complaint import Complaint
from models.complaints.notify import Recipient, department_recipient, enqueue_mail
from models.complaints.visibility import LEAD, STAFF_PARTY_LABEL, awaited_party, lead_department
from models.deadlines import climb, due_steps, supervise_each
from models.lifecycle import COMPLAINT, Role
from models.org import Department, competent_of
from models.settings import get_settings
from models.workflow import Actor

_LEVELS = {"remind": 1, "supervise": 2, "escalate": 3}
# ``awaited`` in a late event's data when no handler was awaited (the stage is the supervisors' own).
SUPERVISORS = "supervisors"


def supervision_ids(*, session: Session) -> list[int]:
    """Cases in a state the table lets the flow warn about, with a running deadline."""
    states = COMPLAINT.transition("warn_yellow").sources
    stmt = select(Complaint.id).where(
        col(Complaint.state).in_(states), col(Complaint.stage_deadline).is_not(None)
    )
    return [i for i in session.exec(stmt.order_by(col(Complaint.id))).all() if i is not None]


def extended_stage(case: Complaint) -> bool:
    """Whether the stage's deadline is an approved extension's (its warnings, chasing and escalation then
    count from the new deadline, keyed apart from those of the deadline it replaced)."""
    return case.extension_used and case.extension_requested_days is not None


def overdue_days(case: Complaint, today: dt.date, calendar: WorkCalendar) -> int:
    """Working days the stage is overdue. In a January before the year's notice is loaded, a supervisor
    may still press 催办 or 督办 by hand: the days of the years the calendar knows are counted (a lower
    bound, ``overdue_count_complete`` says so) rather than refusing the chase for want of a calendar."""
    if case.stage_deadline is None or today <= case.stage_deadline:
        return 0
    return calendar.working_days_at_least(case.stage_deadline, today)[0]


def overdue_count_complete(case: Complaint, today: dt.date, calendar: WorkCalendar) -> bool:
    """Whether ``overdue_days`` counted every day (each year it spans has its notice)."""
    if case.stage_deadline is None or today <= case.stage_deadline:
        return True
    return calendar.working_days_at_least(case.stage_deadline, today)[1]


def _due_steps(case: Complaint, today: dt.date, calendar: WorkCalendar) -> list[str]:
    """A complaint's stage has every step: after 催办 come 督办 and 提级办理 (models/deadlines.py)."""
    settings = get_settings()
    return due_steps(
        deadline=case.stage_deadline,
        today=today,
        calendar=calendar,
        supervise_after=settings.supervise_after_overdue_days,
        escalate_after=settings.escalate_after_overdue_days,
    )


def supervise_batch(
    *, session: Session, ids: Sequence[int], actor: Actor, today: dt.date, calendar: WorkCalendar
) -> int:
    """Apply every due warning and supervision step once; returns the number of steps applied.

    On a non-working day nothing new is due (a Sunday run adds nothing a working day would not).
    Each case commits on its own; a case another run or person changed meanwhile is left for the next run.
    """
    return supervise_each(
        session=session,
        model=Complaint,
        ids=ids,
        states=COMPLAINT.transition("warn_yellow").sources,
        today=today,
        calendar=calendar,
        supervise=lambda case: _supervise_case(session, case, actor, today, calendar),
    )


def _supervise_case(
    session: Session, case: Complaint, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> int:
    overdue = overdue_days(case, today, calendar)
    deadline = iso_date(case.stage_deadline)

    def notify(event: CaseEvent, step: str) -> None:
        if step not in ("yellow", "red"):
            after_supervision_step(session, case, event, step, overdue)
            return
        case.warning_level = step
        left = calendar.working_days_between(today, case.stage_deadline) if case.stage_deadline else 0
        for to in _responsible(session, case):
            enqueue_mail(
                session,
                case,
                event,
                "deadline_warning",
                to,
                department_name=to.name if to.kind == "department" else _responsible_label(session, case),
                stage_label=_stage_label(case),
                deadline=deadline,
                level=step,
                working_days_left=left,
            )

    steps = _due_steps(case, today, calendar)
    if not steps:  # most cases of a run: nothing due, so nobody's move need be read
        return 0
    return climb(
        session=session,
        case=case,
        steps=steps,
        key=f"complaint:{case.id}:stage{case.stage_seq}" + (":extended" if extended_stage(case) else ""),
        actor=actor,
        today=today,
        data={"deadline": deadline, "overdue_working_days": overdue, **awaited_data(session, case)},
        notify=notify,
        # An approved extension starts the ladder afresh (keyed ":extended"): its 催办 before it is spent.
        restarts=("approve_extension",),
    )


def after_supervision_step(
    session: Session,
    case: Complaint,
    event: CaseEvent,
    step: str,
    overdue: int,
    *,
    actor: Actor | None = None,
    overdue_at_least: bool = False,
) -> None:
    """Mail the step to whoever must act on the stage, on 提级办理 also to the department the case is raised
    to, and alert the supervisors of 督办 and 提级办理 (the alert is all they get of those: a stage they
    hold is not also sent them as a notice).

    ``actor`` is the supervisor who pressed 催办/督办: they know already, so they are never mailed.
    """
    case.escalation_level = max(case.escalation_level, _LEVELS[step])
    context: dict[str, Any] = {
        "stage_label": _stage_label(case),
        "deadline": iso_date(case.stage_deadline),
        "overdue_working_days": overdue,
        "step": step,
    }
    if overdue_at_least:
        # Pressed by hand before the year's notice is loaded: the days of that year are not counted yet.
        context["overdue_at_least"] = True
    if event.note and event.actor_role != Role.SYSTEM:
        # A supervisor's own words (a deadline to sign by, whom to call) are the point of pressing by hand.
        context["note"] = event.note
    elif event.note:
        # The flow's own account (a step skipped while the calendar was missing): told, but not as a
        # supervisor's 督办意见.
        context["explanation"] = event.note
    pressed_by = actor.id if actor is not None else None  # a flow's actor has no id: nobody is left out
    alerted = step in ("supervise", "escalate")
    awaited = _awaited_department(session, case)
    # The supervisors hear of 督办 and 提级办理 by the alert below: one message per event, not two.
    recipients = [
        to
        for to in ([department_recipient(awaited)] if awaited is not None else _supervisors(session))
        if to.key != f"user{pressed_by}" and not (alerted and to.kind == "supervisor")
    ]
    superior = _escalate(session, case, awaited) if step == "escalate" else None
    if step == "escalate" and awaited is not None:
        # Told either way: a late department without a 主管部门 must not read that someone above it now
        # holds the case (None: the supervisors take the escalation themselves).
        context["escalated_to"] = superior.name if superior is not None else None
    for to in recipients:
        enqueue_mail(session, case, event, "supervision_notice", to, department_name=to.name, **context)
    if superior is not None and awaited is not None:
        # The superior handles nothing of the case: it is asked to make its department act and report.
        enqueue_mail(
            session,
            case,
            event,
            "escalation_superior_notice",
            department_recipient(superior),
            department_name=superior.name,
            late_department_name=awaited.name,
            **{k: v for k, v in context.items() if k not in ("step", "escalated_to")},
        )
    if alerted:
        label = awaited.name if awaited is not None else STAFF_PARTY_LABEL
        alert = {k: v for k, v in context.items() if k not in ("deadline", "note")}
        for to in _supervisors(session):
            if to.key != f"user{pressed_by}":
                enqueue_mail(session, case, event, "escalation_alert", to, department_name=label, **alert)


def _escalate(session: Session, case: Complaint, awaited: Department | None) -> Department | None:
    """The department the case is raised to (提级办理), recorded on the case for its page: the late
    department's own 主管部门 (a verifier late with its 核实 answers to its superior, not to itself). None
    when there is none on record, and for a stage the supervisors themselves hold (整改审核, 回访), whose
    delay is their own: the supervisors take the escalation. Set on every escalation, so a target of an
    earlier stage is not shown for this one."""
    competent = competent_of(session, awaited.id) if awaited is not None else None
    superior = session.get(Department, competent) if competent is not None else None
    case.escalated_to_department_id = superior.id if superior is not None else None
    return superior


def awaited_data(session: Session, case: Complaint) -> dict[str, Any]:
    """Whose move the current stage awaits, for the data of a late event (a warning or a supervision step):
    ``awaited`` the party (``LEAD``, ``VERIFIER`` or ``SUPERVISORS``) and ``awaited_department_id`` the
    department (None for the supervisors). The scorecard reads them to count a case late for its lead only
    on the lead's own delays."""
    dept = _awaited_department(session, case)
    return {
        "awaited": awaited_party(str(case.state)) or SUPERVISORS,
        "awaited_department_id": dept.id if dept is not None else None,
    }


def _stage_label(case: Complaint) -> str:
    spec = COMPLAINT.state(case.state)
    return spec.deadline.label if spec.deadline else spec.label


def _awaited_department(session: Session, case: Complaint) -> Department | None:
    """The department whose move the current stage waits on: the lead, or the verifier (its 主管部门, the
    lead itself when it has none) in the stages only the verifier can move on (核实, 责令整改); None when
    handlers are not awaited (the supervisors must act)."""
    party = awaited_party(str(case.state))
    if party is None:
        return None
    lead = lead_department(session, case)
    if lead is None or party == LEAD:
        return lead
    return session.get(Department, competent_of(session, lead.id) or lead.id)


def _responsible(session: Session, case: Complaint) -> list[Recipient]:
    """Who must act on the current stage: the lead department when handlers are awaited, else supervisors."""
    dept = _awaited_department(session, case)
    return [department_recipient(dept)] if dept is not None else _supervisors(session)


def _responsible_label(session: Session, case: Complaint) -> str:
    dept = _awaited_department(session, case)
    return dept.name if dept is not None else STAFF_PARTY_LABEL


def _supervisors(session: Session) -> list[Recipient]:
    return [
        Recipient("supervisor", u.name, u.email, f"user{u.id}") for u in active_supervisors(session=session)
    ]
