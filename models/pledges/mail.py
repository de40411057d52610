"""Mails about a pledgor's evidence and a subject's requests on a breach record.

- Evidence received: the pledgor is told which file arrived, who reviews it, by when, and whether
  publication waits for the review (``pledge_evidence_received``).
- Evidence accepted: the pledgor is told the pledge is fulfilled and will not be published
  (``pledge_evidence_accepted``).
- Evidence rejected: the pledgor is told the reason, that the deadline still binds while it has not
  passed, and the publication day, moved or not (``pledge_evidence_rejected``; models/pledges/review.py
  decides the day).
- Pledge cancelled or found false: the pledgor is told the reason, what to correct and, for a false
  pledge, what follows from it (``pledge_cancelled``, ``pledge_found_false``).
- An objection or a repair request: whoever decides is told what it must decide, the subject's reason and
  by when, with the link to its page (``breach_request_received``): a pledge's record's 认定部门, the
  credit office's supervisors for a record from a complaint.

Each is queued in the caller's transaction, keyed by the case event that caused it, so it goes out exactly
once and only if that event is committed. ``enqueue_for_pledgor`` is the one place that says how a pledgor
is reached; registration and the access-code re-issue queue their messages through it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlmodel import Session

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.breach_record import CREDIT_OFFICE
from models.clock import iso_date
from models.deadlines import notify_stage
from models.lifecycle import BREACH, PLEDGE, Lifecycle
from models.org import Department
from models.outbox import enqueue
from models.pledge import Pledge
from models.settings import get_settings
from models.workflow import rule_days


def _state_days(lifecycle: Lifecycle, state: str) -> int:
    rule = lifecycle.state(state).deadline
    assert rule is not None, f"{lifecycle.kind} state {state} has no deadline"
    return rule_days(rule)


def _department_name(session: Session, department_id: int | None, fallback: str) -> str:
    department = session.get(Department, department_id) if department_id is not None else None
    return department.name if department is not None else fallback


def enqueue_for_pledgor(
    *,
    session: Session,
    pledge: Pledge,
    template: str,
    key: str,
    context: dict[str, Any],
    flow_run_id: str | None = None,
) -> int:
    """Queue ``template`` for the pledge's pledgor in the caller's transaction (``enqueue``'s answer): by
    e-mail, by SMS to a mobile when the pledgor has only a phone, by both when both are given (the rules are
    ``models.outbox.outbox_rows``'s).

    The access code (registration notice, re-issue) may go by SMS because the phone is the one the authority
    entered at registration (form, API or import): no pledgor-facing path changes it, so a code is never
    texted to a number someone else supplied."""
    return enqueue(
        session=session,
        template=template,
        recipient_kind="pledgor",
        recipient_name=pledge.pledgor_name,
        recipient_email=pledge.pledgor_email,
        recipient_phone=pledge.pledgor_phone,
        key=key,
        context=context,
        case_kind="pledge",
        case_id=pledge.id,
        case_number=pledge.number,
        flow_run_id=flow_run_id,
    )


def _evidence_mail(
    session: Session, pledge: Pledge, event: CaseEvent, template: str, facts: dict[str, Any]
) -> None:
    """``template`` to the pledgor about ``event``, keyed by it; ``facts`` follow the pledge's own."""
    enqueue_for_pledgor(
        session=session,
        pledge=pledge,
        template=template,
        key=f"pledge:{pledge.id}:{event.seq}:{template}",
        context={
            "pledge_number": pledge.number,
            "pledgor_name": pledge.pledgor_name,
            "matter": pledge.matter,
            **facts,
        },
        flow_run_id=event.flow_run_id,
    )


def mail_evidence_received(
    *, session: Session, pledge: Pledge, filenames: Sequence[str], event: CaseEvent
) -> None:
    """After ``submit_evidence``: the pledgor learns what arrived (every file of the submission), the
    review's deadline (the pledge's stage deadline, None while the calendar does not cover it) and whether
    publication waits for it."""
    late = bool(event.data.get("late"))
    _evidence_mail(
        session,
        pledge,
        event,
        "pledge_evidence_received",
        {
            # ``filename`` stays the first file's: a mail queued before several files were possible has
            # only it, and the templates fall back to it.
            "filename": filenames[0],
            "filenames": list(filenames),
            "submitted_on": str(event.data.get("submitted_on") or iso_date(pledge.evidence_submitted_on)),
            "deadline": pledge.deadline.isoformat(),
            "authority_name": _department_name(session, pledge.authority_id, "审批部门"),
            "review_due": iso_date(pledge.stage_deadline),
            "working_days": _state_days(PLEDGE, pledge.state),
            # Evidence on time always holds publication; late evidence only under the "wait" rule.
            "held": not late or late_evidence_holds(),
        },
    )


def mail_evidence_accepted(*, session: Session, pledge: Pledge, event: CaseEvent, today: dt.date) -> None:
    """After ``confirm``: the pledgor learns the evidence was accepted and nothing will be published."""
    _evidence_mail(
        session,
        pledge,
        event,
        "pledge_evidence_accepted",
        {
            "obligation": pledge.obligation,
            "authority_name": _department_name(session, pledge.authority_id, "审批部门"),
            "decided_on": today.isoformat(),
        },
    )


def late_evidence_holds() -> bool:
    """Whether evidence handed in after the deadline, before the publication day, holds publication until
    it is decided (``pledge_late_evidence_rule`` "wait"), as evidence on time always does."""
    return get_settings().pledge_late_evidence_rule == "wait"


def resubmit_by(publication_day: str | None, *, deadline: str | None = None) -> str:
    """By when a pledgor whose evidence was returned hands in new evidence, as the rejection SMS says it:
    one parameter, since a provider's approved text cannot branch (the mail does). ``deadline`` (ISO) when
    the pledge's own deadline has not passed yet: it still binds (due by 24:00 of its day, RULEBOOK), and
    the publication day is only the last chance of an overdue pledge. Migration 0025 fills rows queued
    before this parameter existed from the publication day alone."""
    if deadline:
        # The template goes on "…补正提交，逾期将依法公示": late evidence still counts until the publication
        # day (the mail says so), so the parameter names that day as the last chance.
        last = f"{publication_day}零时前" if publication_day else "公示日零时前"
        return f"于{deadline} 24时前（最迟{last}）"
    return f"于{publication_day}零时前" if publication_day else "在另行告知的公示日零时前"


def resubmission(*, pledge: Pledge, today: dt.date) -> dict[str, Any]:
    """By when a pledgor whose evidence was returned on ``today`` hands in new evidence, as the rejection
    notice and the status page both tell it: the pledge's own deadline while it has not passed (due by
    24:00 of its day: a send-back does not move it, and the pledge falls overdue after it); after it, the
    publication day (``resubmit_by`` None while the calendar does not give it). Evidence handed in after
    the deadline, before the publication day, still counts: ``late_evidence_held`` says whether it holds
    publication while it is reviewed."""
    passed = today > pledge.deadline
    return {
        "resubmit_by": pledge.publication_day if passed else pledge.deadline,
        "deadline_passed": passed,
        "late_evidence_held": late_evidence_holds(),
    }


def mail_evidence_rejected(
    *,
    session: Session,
    pledge: Pledge,
    event: CaseEvent,
    reason: str,
    publication_day: dt.date | None,
    rescheduled: bool,
    today: dt.date,
) -> None:
    """After ``reject_evidence``: the pledgor learns the reason and by when to hand in new evidence, the
    story the status page tells (``resubmission``): the deadline while it has not passed
    (``deadline_passed`` False), else the publication day (``rescheduled`` when the rejection moved it,
    giving the pledgor working days to hand in new evidence), and what evidence handed in after the
    deadline does (``late_evidence_held``). Rows queued before those two keys lack them."""
    told = resubmission(pledge=pledge, today=today)
    passed = told["deadline_passed"]
    _evidence_mail(
        session,
        pledge,
        event,
        "pledge_evidence_rejected",
        {
            "obligation": pledge.obligation,
            "deadline": pledge.deadline.isoformat(),
            "reason": reason,
            "publication_day": iso_date(publication_day),
            "rescheduled": rescheduled,
            "resubmit_by": resubmit_by(
                iso_date(publication_day), deadline=None if passed else pledge.deadline.isoformat()
            ),
            "deadline_passed": passed,
            "late_evidence_held": told["late_evidence_held"],
        },
    )


def mail_pledge_closed(
    *, session: Session, pledge: Pledge, event: CaseEvent, reason: str, today: dt.date
) -> None:
    """After ``cancel`` or ``confirm_false``: the pledgor learns the pledge was cancelled
    (``pledge_cancelled``) or found false (``pledge_found_false``, with what follows: RULEBOOK pledges §5),
    with the reason the authority gave, which says what the pledgor must correct."""
    template = {"cancel": "pledge_cancelled", "confirm_false": "pledge_found_false"}[event.event]
    _evidence_mail(
        session,
        pledge,
        event,
        template,
        {
            "obligation": pledge.obligation,
            "authority_name": _department_name(session, pledge.authority_id, "审批部门"),
            "reason": reason,
            "decided_on": today.isoformat(),
        },
    )


def mail_breach_request(
    *,
    session: Session,
    record: PublishedBreach,
    kind: Literal["objection", "repair"],
    reason: str,
    detail: str,
    event: CaseEvent,
) -> None:
    """After ``object`` or ``request_repair``: whoever decides learns what it must decide, the subject's
    reason and the decision deadline, with the link to the record's page. A pledge's record is decided by
    its 认定部门 (the record's department); a record from a complaint by the credit office's supervisors
    (``may_decide``), whatever department it names, so they are told, all but the one who filed it."""
    base = get_settings().public_base_url.rstrip("/")
    context: dict[str, Any] = {
        "record_number": record.number,
        "subject_name": record.subject_name,
        "kind": kind,
        "reason": reason,
        "detail": detail,
        "decision_due": iso_date(record.stage_deadline),
        "working_days": _state_days(BREACH, record.state),
        "url": f"{base}/staff/breaches/{record.id}",
    }
    if record.complaint_id is not None:
        # The named department (a 主管部门, or the one in breach) would get a page it cannot open, and the
        # one in breach would be asked to decide on itself.
        notify_stage(
            session=session,
            kind="breach",
            case=record,
            event=event,
            template="breach_request_received",
            department=None,
            supervisors=True,
            context={**context, "department_name": CREDIT_OFFICE},
            pressed_by=event.actor_id,
        )
        return
    department = session.get(Department, record.department_id)
    name = department.name if department is not None else "认定部门"
    enqueue(
        session=session,
        template="breach_request_received",
        recipient_kind="department",
        recipient_name=name,
        recipient_email=department.email if department is not None else None,
        key=f"breach:{record.id}:{event.seq}:breach_request_received",
        context={**context, "department_name": name},
        case_kind="breach",
        case_id=record.id,
        case_number=record.number,
        flow_run_id=event.flow_run_id,
    )
