"""The authority's review of a pledgor's evidence (材料核查): it holds publication, is decided and chased.

RULEBOOK (pledges §3): "Evidence handed in on time holds publication until the authority has decided; the
authority's review has its own deadline and is supervised like any other stage. A pledgor is never
published for the authority's delay." So:

- Entering ``evidence_submitted`` starts the review deadline (``pledge_evidence_review_working_days``,
  default 5); the publication sweep records ``hold_publication`` instead of publishing while it runs
  (models/publication.py), and evidence handed in late (after the deadline, before publication) follows
  ``pledge_late_evidence_rule`` (default ``wait``: the same hold).
- A rejection always leaves the pledgor the grace to hand in new evidence: the publication day becomes
  the later of the day and the N-th working day after the rejection (``pledge_rejection_grace_working_days``,
  default 3). So a rejection on or after the day, or one the authority made too close to it (a review
  that ran late), does not publish the pledge before that grace ends; the pledgor is told the reason and
  the day (``decide``).
- The review deadline climbs the same yellow → red → 催办 → 督办 → 提级 ladder as a complaint stage
  (``supervise_reviews``, run by the ``supervise_deadlines`` flow), and it is in the handlers' work queue
  (``models.pledges.review_queue.review_tasks``, which the complaint queue merges in by deadline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach, Severity
from models.breach_record import register_record
from models.calendar import WorkCalendar
from models.clock import iso_date
from models.deadlines import climb, due_steps, notify_stage, supervise_each
from models.errors import ValidationFailed
from models.lifecycle import PLEDGE, PledgeState, Role
from models.org import Department, competent_of
from models.pledge import Pledge, PledgorKind
from models.pledges.mail import enqueue_for_pledgor, mail_evidence_rejected, mail_pledge_closed
from models.publication_days import publication_day_of
from models.settings import get_settings
from models.workflow import Actor, apply_event, record_event

PS = PledgeState
# The ladder's steps (models/deadlines.py) as the pledge lifecycle names them: a pledge already has a
# ``remind`` (到期提醒 to the pledgor) and a ``warn`` (逾期预警), which are different things.
REVIEW_EVENTS = {
    "yellow": "review_warn_yellow",
    "red": "review_warn_red",
    "remind": "review_remind",
    "supervise": "review_supervise",
    "escalate": "review_escalate",
}
REVIEW_TEMPLATE = "pledge_review_notice"
STEP_LABELS = {
    "yellow": "黄牌预警",
    "red": "红牌预警",
    "remind": "催办",
    "supervise": "督办",
    "escalate": "提级办理",
}


# ---------------------------------------------------------------------------------------------------
# Submission and decision
# ---------------------------------------------------------------------------------------------------


def note_submission(*, pledge: Pledge, today: dt.date) -> dict[str, Any]:
    """Remember the day evidence was handed in (whether it was late is that day against the deadline) and
    return what the ``submit_evidence`` event records about it."""
    pledge.evidence_submitted_on = today
    return {"submitted_on": today.isoformat(), "late": today > pledge.deadline}


def decide(
    *,
    session: Session,
    pledge: Pledge,
    action: str,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    note: str | None,
    expected_version: int | None,
) -> CaseEvent | None:
    """Apply the authority's ``action`` (confirm, reject_evidence, confirm_false, cancel) to ``pledge``.

    A rejection moves the publication day to the N-th working day after today when that is later, so the
    pledgor, told the reason by mail, has those days to hand in new evidence; the event records the old
    and new day and why. A rejection early enough to leave those days keeps the day. A cancellation or a
    false-pledge finding is told to the pledgor with its reason (``mail_pledge_closed``); a false-pledge
    finding is also recorded on the register (``record_false_pledge``)."""
    data: dict[str, Any] = {}
    new_day: dt.date | None = pledge.publication_day
    rescheduled = False
    if action == "reject_evidence":
        old = pledge.publication_day
        deadline = pledge.deadline
        graced = publication_day_of(calendar, deadline=deadline, counted_from=today, registered_on=None)
        # One rule for every rejection: the pledgor is never published for the authority's delay (RULEBOOK
        # pledges §3), so however late the review ran, the grace after it is kept. A rejection on or after
        # the day always lands here (its grace ends after today). None: the grace ends in a year not
        # loaded yet, so past the day; the calendar recompute fills the day in, as it does for the deadline.
        rescheduled = old is not None and (graced is None or graced > old)
        if rescheduled:
            new_day = graced
            data["publication_day"] = {
                "old": iso_date(old),
                "new": iso_date(new_day),
                "reason": "evidence_rejected_on_or_after_publication_day"
                if old is not None and old <= today
                else "evidence_rejected_within_grace_of_publication_day",
                "grace_working_days": get_settings().pledge_rejection_grace_working_days,
            }
        else:
            data["publication_day"] = {"unchanged": iso_date(old), "reason": "publication_day_still_ahead"}
    event = apply_event(
        session=session,
        case=pledge,
        event=action,
        actor=actor,
        today=today,
        calendar=calendar,
        note=note,
        data=data,
        expected_version=expected_version,
    )
    if event is not None and action in ("cancel", "confirm_false"):
        # The reason tells the pledgor what to correct: it goes to the pledgor, not only into the audit.
        # Queued before the record's notice: the outbox delivers by id, and the publication notice rests on
        # this finding, so the pledgor reads the finding first.
        mail_pledge_closed(session=session, pledge=pledge, event=event, reason=note or "", today=today)
    if event is not None and action == "confirm_false":
        record_false_pledge(session=session, pledge=pledge, actor=actor, today=today, reason=note or "")
    if action != "reject_evidence" or event is None:
        return event
    if rescheduled:
        pledge.publication_counted_from = today
        pledge.publication_day = new_day
    mail_evidence_rejected(
        session=session,
        pledge=pledge,
        event=event,
        reason=note or "",
        publication_day=new_day,
        rescheduled=rescheduled,
        today=today,
    )
    return event


# RULEBOOK pledges §5: a false pledge is "recorded", and §2 bars a false pledgor from the pledge route
# "until repaired". So the finding is a register record like a published pledge's, of class 严重 (serious
# bad credit, as a false pledge is): objected to, repaired and expired as any record, and the bar lifts
# with it (models/register/queries.py, ``false_pledge_bars``).
FALSE_PLEDGE_BASIS = (
    "国办发〔2020〕42号：申请人作出虚假承诺的，终止办理、责令限期整改、撤销行政决定，并记入信用记录"
)


def record_false_pledge(
    *, session: Session, pledge: Pledge, actor: Actor, today: dt.date, reason: str
) -> PublishedBreach:
    """The 严重 record of ``pledge`` found false today, in the caller's transaction, with what the sweep
    writes beside a record it publishes: the record's ``create`` event, the credit platform's document
    (``register_record``) and the pledgor's notice of the record (its route to object or repair)."""
    assert pledge.id is not None
    facts = f"经核查认定为虚假承诺（承诺编号 {pledge.number}，承诺补交“{pledge.obligation}”）：{reason}"
    record = register_record(
        session=session,
        source_kind="pledge",
        pledge_id=pledge.id,
        subject_kind=PledgorKind(pledge.pledgor_kind).value,
        subject_name=pledge.pledgor_name,
        subject_credit_code=pledge.pledgor_credit_code,
        matter=pledge.matter,
        facts=facts[:2000],
        basis=FALSE_PLEDGE_BASIS,
        department_id=pledge.authority_id,
        severity=Severity.SERIOUS,
        decision_date=today,
        today=today,
    )
    record_event(
        session=session, case=record, transition=None, from_state=None, to_state=record.state, actor=actor,
        at=record.created_at, note=None, idempotency_key=None, event="create",
        data={"source": "pledge", "finding": "false_pledge", "pledge_number": pledge.number},
    )  # fmt: skip
    # Its own notice, not the sweep's pledge_published (whose text, SMS included, says "overdue").
    enqueue_for_pledgor(
        session=session,
        pledge=pledge,
        template="pledge_false_recorded",
        key=f"pledge:{pledge.id}:confirm_false:pledge_false_recorded",
        context={
            "pledge_number": pledge.number,
            "pledgor_name": pledge.pledgor_name,
            "matter": pledge.matter,
            "record_number": record.number,
            "decision_date": today.isoformat(),
            "publication_end": record.publication_end.isoformat(),
            "repair_earliest": record.repair_earliest.isoformat(),
        },
        flow_run_id=actor.flow_run_id,
    )
    return record


# ---------------------------------------------------------------------------------------------------
# Supervision of the review deadline
# ---------------------------------------------------------------------------------------------------


def supervision_ids(*, session: Session) -> list[int]:
    """Pledges under review with a running review deadline, in id order."""
    stmt = select(Pledge.id).where(
        col(Pledge.state) == PS.EVIDENCE_SUBMITTED, col(Pledge.stage_deadline).is_not(None)
    )
    return [i for i in session.exec(stmt.order_by(col(Pledge.id))).all() if i is not None]


def supervise_reviews(
    *, session: Session, ids: Sequence[int], actor: Actor, today: dt.date, calendar: WorkCalendar
) -> int:
    """Apply every due step of the review ladder once; returns how many were applied. Each pledge commits
    on its own; one that a decision changed meanwhile is left for the next run."""
    return supervise_each(
        session=session,
        model=Pledge,
        ids=ids,
        states={PS.EVIDENCE_SUBMITTED},
        today=today,
        calendar=calendar,
        supervise=lambda pledge: _supervise(session, pledge, actor, today, calendar),
    )


def _supervise(session: Session, pledge: Pledge, actor: Actor, today: dt.date, calendar: WorkCalendar) -> int:
    settings = get_settings()
    deadline = pledge.stage_deadline
    if deadline is None:
        return 0
    left = calendar.working_days_between(today, deadline)
    return climb(
        session=session,
        case=pledge,
        steps=due_steps(
            deadline=deadline,
            today=today,
            calendar=calendar,
            supervise_after=settings.supervise_after_overdue_days,
            escalate_after=settings.escalate_after_overdue_days,
        ),
        key=f"pledge:{pledge.id}:stage{pledge.stage_seq}:review",
        events=REVIEW_EVENTS,
        actor=actor,
        today=today,
        data={"deadline": deadline.isoformat(), "working_days_left": left},
        notify=lambda event, step: _notify(session, pledge, event, step, left),
    )


def chase_review(
    *,
    session: Session,
    pledge: Pledge,
    action: str,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    note: str | None,
    expected_version: int | None,
) -> CaseEvent | None:
    """A supervisor chases an evidence review by hand (``review_remind`` 催办, ``review_supervise`` 督办,
    ``review_escalate`` 提级办理), as a complaint stage can be chased: the event, and the mail the ladder's
    step sends, to the authority and (督办, 提级办理) the other supervisors."""
    step = next(step for step, event in REVIEW_EVENTS.items() if event == action)
    # The lifecycle table first: a pledge not under review, or a role that may not chase, is refused as
    # every other action is (409, 403), not for a deadline it has no reason to have.
    PLEDGE.fire(str(pledge.state), action, actor.role)
    left = calendar.working_days_left(today, pledge.stage_deadline)
    if left is None:
        # The mail names the deadline and the working days left, which the calendar cannot give yet.
        raise ValidationFailed(
            "核查期限待日历确定（该年度节假日安排尚未载入），暂不能催办；请管理员先载入节假日安排 "
            "(the review deadline waits for the calendar)"
        )
    event = apply_event(
        session=session,
        case=pledge,
        event=action,
        actor=actor,
        today=today,
        calendar=calendar,
        note=note,
        data={"deadline": iso_date(pledge.stage_deadline), "working_days_left": left, "manual": True},
        expected_version=expected_version,
    )
    if event is not None:
        _notify(session, pledge, event, step, left, pressed_by=actor.id)
    return event


def _notify(
    session: Session,
    pledge: Pledge,
    event: CaseEvent,
    step: str,
    left: int,
    pressed_by: int | None = None,
) -> None:
    """Tell the authority's department of the step and, from 催办 on, the supervisors (they follow it up:
    their copy is addressed to them, not to the authority); a 提级办理 also the authority's 主管部门, as the
    superior the review was raised to, as a complaint stage's escalation tells the lead department's.

    What the complaint chases carry (models/complaints/supervision.py ``after_supervision_step``) goes with
    it: a supervisor's note on a step pressed by hand (``note``; ``by_hand`` says who pressed it), the
    flow's account of steps skipped while the calendar was missing (``explanation``), and on 提级办理 whom
    it was raised to (``escalated_to``, None when no 主管部门 is on record: the supervisors take it). The
    notice asks for the written explanation only on 督办 and 提级办理, to the office that signs it."""
    department = session.get(Department, pledge.authority_id)
    assert pledge.stage_deadline is not None
    context: dict[str, Any] = {
        "pledge_number": pledge.number,
        "department_name": department.name if department else "审批部门",
        "pledgor_name": pledge.pledgor_name,
        "matter": pledge.matter,
        "step_label": STEP_LABELS[step],
        "deadline": pledge.stage_deadline.isoformat(),
        "working_days_left": left,
    }
    if event.note and event.actor_role != Role.SYSTEM:
        # A supervisor's own words (a time to answer by, whom to call) are the point of pressing by hand.
        context["note"] = event.note
    elif event.note:
        context["explanation"] = event.note  # told, but not as a supervisor's 督办意见
    if pressed_by is not None:
        context["by_hand"] = True
        # Named, so the written explanation has an addressee where no issuing office is configured.
        context["pressed_by_name"] = event.actor_name
    competent_id = competent_of(session, pledge.authority_id) if step == "escalate" else None
    competent = (
        session.get(Department, competent_id) if competent_id not in (None, pledge.authority_id) else None
    )
    if step == "escalate":
        context["escalated_to"] = competent.name if competent is not None else None

    def tell(to: Department | None, supervisors: bool, told: dict[str, Any], by: int | None = None) -> None:
        notify_stage(session=session, kind="pledge", case=pledge, event=event, template=REVIEW_TEMPLATE,
                     department=to, supervisors=supervisors, context=told, pressed_by=by)  # fmt: skip

    tell(department, False, context)
    if step not in ("yellow", "red"):
        tell(None, True, {**context, "to_supervisors": True}, pressed_by)
    if competent is not None:
        tell(competent, False, {**context, "department_name": competent.name,
                                "late_department_name": context["department_name"]})  # fmt: skip
