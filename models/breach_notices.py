"""How the subject of a breach record is told that its objection or repair request was received and
decided: by e-mail, by SMS or both, as the pledgor of the pledge behind the record is (issue 17); a
department with a record from a complaint, by e-mail to the address on file for it.

The subject of a pledge's record is its pledgor. It may give a mobile number with the request (the public
objection and repair forms' optional 手机号码), stored in the request's audit event as ``phone``; the
notices about that request are texted there, else to the pledge's phone. Not inside ``models.pledges`` or
``models.register``: both packages use it, and each imports the other at package level.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.government_credit_record import GovernmentCreditRecord
from models.lifecycle import BREACH
from models.org import Department
from models.outbox import enqueue
from models.pledge import Pledge
from models.workflow import rule_days


def enqueue_for_subject(
    *,
    session: Session,
    record: PublishedBreach,
    template: str,
    key: str,
    context: dict[str, Any],
    phone: str | None = None,
    flow_run_id: str | None = None,
) -> int:
    """Queue ``template`` for the subject of ``record`` (its objection or repair request received or
    decided) in the caller's transaction. A pledge's record names its pledgor, reached as
    ``enqueue_for_pledgor`` reaches it: e-mail to the pledge's address, SMS to ``phone`` (the mobile the
    subject gave with the request) or else to the pledge's phone, both when both are known. A record from a
    complaint names the department found in breach, mailed at its address (``subject_department``): it
    applied through the credit office, but the outcome is its own to act on."""
    pledge = session.get(Pledge, record.pledge_id) if record.pledge_id else None
    if pledge is not None:
        email, phone = pledge.pledgor_email, phone or pledge.pledgor_phone
    else:
        department = subject_department(session=session, record=record)
        email = department.email if department is not None else None
    return enqueue(
        session=session,
        template=template,
        recipient_kind="subject",
        recipient_name=record.subject_name,
        recipient_email=email,
        recipient_phone=phone,
        key=key,
        context=context,
        case_kind="breach",
        case_id=record.id,
        case_number=record.number,
        flow_run_id=flow_run_id,
    )


def subject_department(*, session: Session, record: PublishedBreach) -> Department | None:
    """The department a record from a complaint names: the one whose credit record holds the finding (the
    register row names it only by name, and its ``department_id`` is the 认定部门). None for a pledge's."""
    if record.complaint_id is None or record.id is None:
        return None
    row = session.exec(
        select(GovernmentCreditRecord).where(GovernmentCreditRecord.breach_id == record.id)
    ).first()
    return session.get(Department, row.department_id) if row is not None else None


def request_phone(*, session: Session, record: PublishedBreach, event: str) -> str | None:
    """The mobile the subject gave with its latest ``event`` ("object" or "request_repair") on ``record``,
    stored in that event's data as ``phone`` (None when none was given)."""
    stmt = (
        select(CaseEvent)
        .where(CaseEvent.case_kind == "breach", CaseEvent.case_id == record.id, CaseEvent.event == event)
        .order_by(col(CaseEvent.seq).desc())
        .limit(1)
    )
    latest = session.exec(stmt).first()
    phone = (latest.data or {}).get("phone") if latest is not None else None
    return phone if isinstance(phone, str) and phone else None


def acknowledge_request(
    *,
    session: Session,
    record: PublishedBreach,
    template: str,
    answered_by: str,
    phone: str | None = None,
    **due: str | None,
) -> None:
    """Tell the subject its objection or repair request was filed (objection_received, repair_received):
    by when (``due``: the reply or decision day) and by whom (``answered_by``) it is answered, and in how many
    working days, the deadline of the state the request put ``record`` in. One message per record version."""
    rule = BREACH.state(record.state).deadline
    assert rule is not None, f"breach state {record.state} has no deadline"
    enqueue_for_subject(
        session=session,
        record=record,
        template=template,
        key=f"breach:{record.id}:{record.version}:{template}",
        context={
            "record_number": record.number,
            "subject_name": record.subject_name,
            "department_name": answered_by,
            **due,
            "working_days": rule_days(rule),
        },
        phone=phone,
    )
