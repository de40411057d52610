"""The mails a complaint's events send, as outbox rows written in the same transaction as the event.

Each row's key names the case, the event, the template and the recipient, so a repeated step queues
nothing twice; the notification flow delivers them (notifications/).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlmodel import Session

from models.audit import CaseEvent
from models.complaint import Complaint
from models.org import Department
from models.outbox import enqueue


class Recipient(NamedTuple):
    """Who a mail goes to; ``key`` tells the recipients of one event apart in the outbox key."""

    kind: str  # complainant, department, supervisor
    name: str
    email: str | None
    key: str
    phone: str | None = None  # texted as well when it is a mobile (models/outbox.py, outbox_rows)


def department_recipient(dept: Department) -> Recipient:
    return Recipient("department", dept.name, dept.email, f"dept{dept.id}")


def notice_key_prefix(case_id: int | None, seq: int) -> str:
    """What the key of every notice of a case's event begins with (complaint:<case id>:<event seq>:), so
    the notices of one event can be found again (the case page's undelivered notices)."""
    return f"complaint:{case_id}:{seq}:"


def enqueue_mail(
    session: Session, case: Complaint, event: CaseEvent, template: str, to: Recipient, **context: Any
) -> None:
    """Queue ``template`` for one recipient of ``event``; the context always carries the case number."""
    enqueue(
        session=session,
        template=template,
        recipient_kind=to.kind,
        recipient_name=to.name,
        recipient_email=to.email,
        recipient_phone=to.phone,
        key=f"{notice_key_prefix(case.id, event.seq)}{template}:{to.key}",
        context={"case_number": case.number, **context},
        case_kind="complaint",
        case_id=case.id,
        case_number=case.number,
        flow_run_id=event.flow_run_id,
    )


def mail_complainant(
    session: Session,
    case: Complaint,
    event: CaseEvent,
    template: str,
    *,
    addressed_as: str | None = None,
    **context: Any,
) -> None:
    """``template`` to the complainant, greeted (and addressed) by name, or as ``addressed_as`` when the
    name is not one anybody checked yet."""
    name = addressed_as or case.complainant_name
    to = Recipient("complainant", name, case.complainant_email, "complainant", case.complainant_phone)
    enqueue_mail(session, case, event, template, to, complainant_name=name, **context)


def mail_department(
    session: Session, case: Complaint, event: CaseEvent, template: str, dept: Department, **context: Any
) -> None:
    to = department_recipient(dept)
    enqueue_mail(session, case, event, template, to, department_name=dept.name, **context)
