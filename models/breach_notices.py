"""How the subject of a breach record is told that its objection or repair request was received and
decided: by e-mail, by SMS or both, as the pledgor of the pledge behind the record is (issue 17).

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
from models.outbox import enqueue
from models.pledge import Pledge


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
    complaint names a government body, which has neither here: undeliverable, for the credit office to
    forward (it filed the request for it)."""
    pledge = session.get(Pledge, record.pledge_id) if record.pledge_id else None
    return enqueue(
        session=session,
        template=template,
        recipient_kind="subject",
        recipient_name=record.subject_name,
        recipient_email=pledge.pledgor_email if pledge else None,
        recipient_phone=phone or (pledge.pledgor_phone if pledge else None),
        key=key,
        context=context,
        case_kind="breach",
        case_id=record.id,
        case_number=record.number,
        flow_run_id=flow_run_id,
    )


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
