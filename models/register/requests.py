"""What the subject asks of a record: an objection (异议) and credit repair (信用修复), with the access
code of the pledge behind it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlmodel import Session

from models.breach import PublishedBreach
from models.breach_record import offline_requests_only, published_class
from models.calendar import WorkCalendar
from models.clock import chinese_date, utcnow
from models.errors import NotFound, NotPermitted, ValidationFailed
from models.files import Upload, attach, check_uploads, save
from models.lifecycle import BreachState, Role
from models.pledge import Pledge, normalise_mobile
from models.pledges.access import check_access_code
from models.pledges.mail import mail_breach_request
from models.pledges.self_service import acknowledge_objection, acknowledge_repair, check_objection_allowed
from models.register.queries import breach_by_number
from models.text import checked_text
from models.workflow import Actor, apply_event

# What the subject may write, for the API's fields and the pages' forms alike (the event's note column
# holds 4,000 characters; SQLite does not enforce it).
REASON_MAX = 2000
EVIDENCE_MAX = 4000
STATEMENT_MAX = 4000
REPAIR_PLEDGE_MAX = 4000


# The one answer for a number the register does not show (unknown, expired, or of class 轻微) without its
# access code: whether such a record exists, its class and its source are its subject's business only.
UNSHOWN_REFUSAL = (
    "公示记录编号或办理码不正确，或该记录已不在公示期内；请核对告知书上的编号和办理码。"
    "由投诉认定的政府机构记录请向信用办书面提出 (wrong record number or access code)"
)


def subject_record(
    *, session: Session, number: str, access_code: str | None, address: str | None, today: dt.date
) -> PublishedBreach:
    """The record ``number`` whose subject the access code proves the caller to be. A record the register
    shows answers as its page does (a wrong code, or a record from a complaint, is refused by name); any
    other number, unknown or unpublished, gets ``UNSHOWN_REFUSAL`` alike, its wrong codes rate-limited as
    a pledge's are (models/pledges/access.py), so the forms cannot be used to learn that it exists."""
    try:
        # A 轻微 record is not published but in force: its subject, proven by the code, still acts on it.
        record: PublishedBreach | None = breach_by_number(
            session=session, number=number, today=today, with_minor=True
        )
    except NotFound:
        record = None
    if record is not None and published_class(record.severity):
        _check_subject(session, record, access_code, address)
        return record
    pledge = session.get(Pledge, record.pledge_id) if record is not None and record.pledge_id else None
    try:
        # Counted under the number typed, as for a number that names nothing: under the pledge's, a limit
        # reached on its status page would answer here 429 where an unknown number answers 403, and name
        # the pledge.
        check_access_code(
            session=session, pledge=pledge, code=access_code, address=address, now=utcnow(), counted_as=number
        )
    except NotPermitted:
        raise NotPermitted(UNSHOWN_REFUSAL) from None
    assert record is not None
    return record


def _check_subject(
    session: Session, record: PublishedBreach, access_code: str | None, address: str | None
) -> None:
    """Only the pledgor acts on the record: the credit code and the pledge number are public, so what
    proves it is the pledge's access code (models/pledges/access.py), with wrong codes rate-limited."""
    pledge = session.get(Pledge, record.pledge_id) if record.pledge_id else None
    if pledge is None:
        # Records from complaints name a government body, which has staff accounts and no access code:
        # it files an objection or repair through the credit office (督办人员), not this public form.
        raise NotPermitted(
            f"{offline_requests_only(record.number)} (only pledge records can be acted on here)"
        )
    check_access_code(session=session, pledge=pledge, code=access_code, address=address, now=utcnow())


PUBLIC_ACTOR = Actor(name="失信主体（社会公众）", role=Role.PUBLIC)


def _contact(phone: str | None) -> dict[str, str]:
    """The request's ``phone`` data: the mobile the subject gave to be texted about it (checked before
    anything changes; 422 naming the field for a landline or a mistyped number), nothing when none."""
    try:
        mobile = normalise_mobile(phone)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="phone") from None
    return {"phone": mobile} if mobile else {}


def _typed(value: str | None, *, field: str, label: str, max_length: int) -> str:
    """One text of an objection or repair request, by the rule of every typed text (models/text.py):
    control characters and overlong text refused naming the field, invisible text counted as empty."""
    return checked_text(value or "", label=label, multiline=True, max_length=max_length, field=field).strip()


# Why a repair request cannot be filed now whatever the date, in the subject's words (the lifecycle's own
# refusal names states and actions in staff terms): the record is busy with another request.
_BUSY = {
    BreachState.UNDER_OBJECTION: "该记录正在异议处理中，异议答复后方可申请信用修复 (an objection is pending)",
    BreachState.REPAIR_REQUESTED: (
        "该记录已有信用修复申请正在审查，决定结果将另行告知，无需重复申请 (a repair request is pending)"
    ),
}


def repair_busy(record: PublishedBreach) -> str | None:
    """Why the record takes no repair request now (another request pending), or None."""
    return _BUSY.get(BreachState(record.state))


def check_repair_open(record: PublishedBreach, today: dt.date) -> None:
    """Credit repair opens at the class's minimum publication period (repair_earliest), on a record not
    busy with another request (``repair_busy``)."""
    busy = repair_busy(record)
    if busy is not None:
        raise ValidationFailed(busy, state=str(record.state))
    if today < record.repair_earliest:
        raise ValidationFailed(
            f"该记录最早可于{chinese_date(record.repair_earliest)}申请信用修复（最短公示期未满）；"
            f"请届时再申请 (repair not before {record.repair_earliest.isoformat()})",
            repair_earliest=record.repair_earliest.isoformat(),
        )


def file_request(
    *,
    session: Session,
    record: PublishedBreach,
    kind: Literal["objection", "repair"],
    actor: Actor,
    reason: str,
    detail: str,
    data: dict[str, Any],
    today: dt.date,
    calendar: WorkCalendar,
    files: Sequence[Upload] = (),
) -> bool:
    """File an objection (``kind`` "objection") or a repair request ("repair") on ``record`` for whoever
    ``actor`` acts for, with its ``files`` (checked before anything changes, stored with the event), and
    mail the deciding department; the one path behind the pledgor's public forms and the credit office's
    filing for a government department. False when it was already filed."""
    stored = check_uploads(files)
    if stored:
        data = {**data, "files": [f.audit() for f in stored]}
    event = apply_event(
        session=session,
        case=record,
        event="object" if kind == "objection" else "request_repair",
        actor=actor,
        today=today,
        calendar=calendar,
        note=reason,
        data=data,
    )
    if event is None:
        return False
    if stored:
        assert record.id is not None
        save(files, stored)
        attach(session=session, case_kind="breach", case_id=record.id, kind=kind, event_seq=event.seq,
               files=stored, uploaded_by=actor.name)  # fmt: skip
    mail_breach_request(session=session, record=record, kind=kind, reason=reason, detail=detail, event=event)
    return True


def submit_objection(
    *,
    session: Session,
    number: str,
    access_code: str | None,
    reason: str,
    evidence: str | None,
    today: dt.date,
    calendar: WorkCalendar,
    address: str | None = None,
    files: Sequence[Upload] = (),
    phone: str | None = None,
) -> PublishedBreach:
    """The subject objects: the record shows "异议处理中" and the department has 5 working days.
    ``address`` (the client's) counts wrong access codes per address as well as per pledge; ``files``
    are its evidence files (only the deciding department reads them); ``phone`` an optional mobile to
    text the acknowledgement and the decision to (models/breach_notices.py)."""
    reason = _typed(reason, field="reason", label="异议理由", max_length=REASON_MAX)
    evidence = _typed(evidence, field="evidence", label="证明材料说明", max_length=EVIDENCE_MAX)
    record = subject_record(
        session=session, number=number, access_code=access_code, address=address, today=today
    )
    if not reason:
        raise ValidationFailed("请填写异议理由 (reason is required)", field="reason")
    check_objection_allowed(session=session, record=record, reason=reason, evidence=evidence or None)
    contact = _contact(phone)
    file_request(
        session=session, record=record, kind="objection", actor=PUBLIC_ACTOR, reason=reason,
        detail=evidence, data={"evidence": evidence, **contact}, today=today, calendar=calendar,
        files=files,
    )  # fmt: skip
    acknowledge_objection(
        session=session, record=record, reply_due=record.stage_deadline, phone=contact.get("phone")
    )
    return record


def request_repair(
    *,
    session: Session,
    number: str,
    access_code: str | None,
    statement: str,
    repair_pledge: str,
    today: dt.date,
    calendar: WorkCalendar,
    address: str | None = None,
    files: Sequence[Upload] = (),
    phone: str | None = None,
) -> PublishedBreach:
    """Credit repair, allowed from the class's minimum period on; the department decides in 3 WD.
    ``files``: proof of the correction (only the deciding department reads them); ``phone`` as for an
    objection."""
    statement = _typed(statement, field="statement", label="纠正失信行为的说明", max_length=STATEMENT_MAX)
    repair_pledge = _typed(
        repair_pledge, field="repair_pledge", label="信用修复承诺", max_length=REPAIR_PLEDGE_MAX
    )
    record = subject_record(
        session=session, number=number, access_code=access_code, address=address, today=today
    )
    check_repair_open(record, today)
    if not statement or not repair_pledge:
        raise ValidationFailed(
            "请填写纠正失信行为的说明和信用修复承诺 (statement and repair pledge are required)"
        )
    contact = _contact(phone)
    filed = file_request(
        session=session, record=record, kind="repair", actor=PUBLIC_ACTOR, reason=statement,
        detail=repair_pledge, data={"repair_pledge": repair_pledge, **contact}, today=today,
        calendar=calendar, files=files,
    )  # fmt: skip
    if filed:
        acknowledge_repair(
            session=session, record=record, decision_due=record.stage_deadline, phone=contact.get("phone")
        )
    return record
