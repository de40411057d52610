"""Registering a complaint (登记): its number, its first deadline, its tracking password, its receipt mail."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.attachments import check_attachments
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.complaint import CHANNEL_LABELS, Channel, Complaint, ComplaintCreate, ExternalOrder
from models.complaints.notify import mail_complainant
from models.complaints.visibility import respondent_by_code
from models.lifecycle import COMPLAINT, Role
from models.lifecycle import ComplaintState as CS
from models.numbering import COMPLAINT_PREFIX, reserve_numbers_apart
from models.org import Department
from models.ratelimit import check_submission_allowed, record_submission
from models.stage_deadline import deadline_values
from models.tracking_password import new_tracking_password
from models.uscc import validate_credit_code
from models.workflow import Actor, record_event, rule_days

# Who registers a complaint the complainant submitted online (信用网站专栏): no account, like a pledgor's own
# evidence (PLEDGOR_ACTOR); the register event names the complainant's channel, not a staff member.
WEBSITE_ACTOR = Actor(name="投诉人（信用网站在线提交）", role=Role.PUBLIC)
ONLINE_GREETING = "投诉人"


def register_complaint(
    *,
    session: Session,
    data: ComplaintCreate,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    external: ExternalOrder | None = None,
) -> tuple[Complaint, str]:
    """Register a complaint; returns it with the tracking password, which is stored only hashed.

    ``external`` names the other system's order a case is handed in from (12345): kept on the case, and
    a second case for the same order fails at the flush on ``uq_complaint_external``."""
    return _register(session, data, actor, today, calendar, external, event_key=None)


def register_complaint_once(
    *,
    session: Session,
    data: ComplaintCreate,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    idempotency_key: str,
) -> tuple[Complaint, str | None]:
    """Register a complaint once per ``idempotency_key`` (the client's, fresh per drawn form or intended
    registration) and account: a repeat (a reloaded result page, a double-click) answers the case the
    first submission registered, without a password (None): only its hash is kept, and a second password
    would be a second case or a void first one. The register event carries the key, so of two submissions
    at once the unique key decides and the loser answers as a repeat. Flushed, not committed."""
    key = _register_key(actor, idempotency_key)
    found = _registered_with(session, key)
    if found is not None:
        return found, None
    try:
        # In a savepoint: a lost race undoes this registration only, not the caller's transaction.
        with session.begin_nested():
            return _register(session, data, actor, today, calendar, None, event_key=key)
    except IntegrityError:
        found = _registered_with(session, key)
        if found is None:
            raise
        return found, None


def _register_key(actor: Actor, key: str) -> str:
    # Scoped to the account: another user's key (guessed or copied) never answers this user's case. Hashed
    # to the column's size whatever the client sent.
    digest = hashlib.sha256(f"{actor.id}:{key}".encode()).hexdigest()
    return f"complaint:register:{digest}"


def _registered_with(session: Session, key: str) -> Complaint | None:
    stmt = select(CaseEvent.case_id).where(col(CaseEvent.idempotency_key) == key)
    case_id = session.exec(stmt).first()
    return session.get(Complaint, case_id) if case_id is not None else None


def _register(
    session: Session,
    data: ComplaintCreate,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    external: ExternalOrder | None,
    *,
    event_key: str | None,
) -> tuple[Complaint, str]:
    credit_code = validate_credit_code(data.complainant_credit_code) if data.complainant_credit_code else None
    check_attachments(existing=(), added=data.attachments)
    respondent = None
    if data.respondent_department_code:
        respondent = respondent_by_code(
            session, data.respondent_department_code, "respondent_department_code"
        )
    # A keyed fast hash of a system-generated secret (models/tracking_password.py), not argon2.
    password, password_hash = new_tracking_password()
    # Committed apart on PostgreSQL, so registrations do not queue on the counter row (gaps after a
    # rollback are accepted: models/numbering.py).
    [(seq, number)] = reserve_numbers_apart(session=session, prefix=COMPLAINT_PREFIX, year=today.year)
    spec = COMPLAINT.state(COMPLAINT.initial)
    assert spec.deadline is not None
    fields = data.model_dump(exclude={"respondent_department_code", "attachments", "complainant_credit_code"})
    complaint = Complaint(
        **fields,
        complainant_credit_code=credit_code,
        attachments=list(data.attachments),
        number=number,
        year=today.year,
        seq=seq,
        state=CS.REGISTERED,
        respondent_department_id=respondent.id if respondent else None,
        tracking_password_hash=password_hash,
        stage_seq=1,
        stage_started_on=today,
        # Pending (待日历确定) when it lands in a year whose holiday notice is not loaded yet.
        **deadline_values(calendar, start=today, days=rule_days(spec.deadline)),
        registered_by_id=actor.id,
        **(external._asdict() if external else {}),
    )
    if respondent is not None and not complaint.respondent_name:
        complaint.respondent_name = respondent.name
    session.add(complaint)
    session.flush()
    event = record_event(
        session=session,
        case=complaint,
        transition=None,
        from_state=None,
        to_state=CS.REGISTERED,
        actor=actor,
        at=dt.datetime.now(dt.UTC),
        note=_succession_note(data.respondent_department_code, respondent),
        data={"channel": str(data.channel), **_origin(external), **_respondent(data, respondent)},
        idempotency_key=event_key,
        event="register",
    )
    mail_complainant(
        session,
        complaint,
        event,
        "complaint_received",
        # Anyone can submit online, naming any address: the platform's first mail must not open with text
        # nobody checked (a name such as "请点击 … 领取退款"). Staff registrations greet by name.
        addressed_as=ONLINE_GREETING if actor.role == Role.PUBLIC else None,
        channel_label=CHANNEL_LABELS[complaint.channel],
        received_on=today.isoformat(),
    )
    return complaint, password


def _respondent(data: ComplaintCreate, respondent: Department | None) -> dict[str, str]:
    """The respondent's code as given and the one registered, when a retired department's successor was
    taken for it (``respondent_by_code``)."""
    given = (data.respondent_department_code or "").strip()
    if respondent is None or respondent.code == given:
        return {}
    return {"respondent_department_code_given": given, "respondent_department_code": respondent.code}


def _succession_note(given: str | None, respondent: Department | None) -> str | None:
    if respondent is None or not given or respondent.code == given.strip():
        return None
    return (
        f"被投诉部门代码 {given.strip()} 的部门已撤并（机构改革），按承接部门 {respondent.code} "
        f"{respondent.name} 登记"
    )


def _origin(external: ExternalOrder | None) -> dict[str, str]:
    """What the register event records of an order handed in by another system."""
    if external is None:
        return {}
    return {"source_system": external.source_system, "external_id": external.external_id}


def register_online(
    *, session: Session, data: ComplaintCreate, address: str | None, today: dt.date, calendar: WorkCalendar
) -> tuple[Complaint, str]:
    """A complaint the complainant submitted through the credit website column (page or API): registered
    on channel website by ``WEBSITE_ACTOR`` whatever ``data`` says, within ``address``'s hourly limit, which
    is checked and counted in the caller's transaction (``models.ratelimit``: the address's turn lasts until
    the caller commits)."""
    now = utcnow()
    check_submission_allowed(session=session, address=address, now=now)
    online = data.model_copy(update={"channel": Channel.WEBSITE})
    complaint, password = register_complaint(
        session=session, data=online, actor=WEBSITE_ACTOR, today=today, calendar=calendar
    )
    record_submission(session=session, address=address, now=now)
    return complaint, password
