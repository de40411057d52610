"""The mails a complaint's events send, as outbox rows written in the same transaction as the event.

Each row's key names the case, the event, the template and the recipient, so a repeated step queues
nothing twice; the notification flow delivers them (notifications/).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from models.audit import CaseEvent
from models.complaint import Complaint
from models.org import Department
from models.outbox import enqueue_now


def enqueue_mail(
    session: Session,
    case: Complaint,
    event: CaseEvent,
    template: str,
    kind: str,
    name: str,
    email: str | None,
    recipient_key: str,
    **context: Any,
) -> None:
    """Queue ``template`` for one recipient of ``event``; the context always carries the case number."""
    enqueue_now(
        session=session,
        template=template,
        recipient_kind=kind,
        recipient_name=name,
        recipient_email=email,
        key=f"complaint:{case.id}:{event.seq}:{template}:{recipient_key}",
        context={"case_number": case.number, **context},
        case_kind="complaint",
        case_id=case.id,
        case_number=case.number,
        flow_run_id=event.flow_run_id,
    )


def mail_complainant(
    session: Session, case: Complaint, event: CaseEvent, template: str, **context: Any
) -> None:
    enqueue_mail(
        session,
        case,
        event,
        template,
        "complainant",
        case.complainant_name,
        case.complainant_email,
        "complainant",
        complainant_name=case.complainant_name,
        **context,
    )


def mail_department(
    session: Session, case: Complaint, event: CaseEvent, template: str, dept: Department, **context: Any
) -> None:
    enqueue_mail(
        session,
        case,
        event,
        template,
        "department",
        dept.name,
        dept.email,
        f"dept{dept.id}",
        department_name=dept.name,
        **context,
    )
