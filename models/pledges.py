"""Informed pledges: registration with the credit check (逢办必查), evidence, the authority's decisions
and queries. Bulk import from CSV / XLSX: models/pledge_import.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models.accounts import department_by_code
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.clock import iso_date, utcnow
from models.errors import InvalidCreditCode, NotFound, NotPermitted, ValidationFailed
from models.lifecycle import PLEDGE, PledgeState, Role
from models.numbering import PLEDGE_PREFIX, reserve_numbers
from models.org import Department
from models.outbox import enqueue
from models.pledge import (
    Pledge,
    PledgeCreate,
    PledgeEvidence,
    PledgorKind,
    check_deadline,
    registration_publication_day,
)
from models.pledge_access import new_access_code
from models.pledge_mail import mail_evidence_accepted, mail_evidence_received
from models.pledge_review import decide, note_submission
from models.register import false_pledge_of, has_current_breach
from models.settings import get_settings
from models.uscc import validate_credit_code
from models.workflow import Actor, apply_event, record_event

PLEDGE_ACTIONS = ("confirm", "reject_evidence", "confirm_false", "cancel")


def publication_status(pledge: Pledge, calendar: WorkCalendar) -> dict[str, Any]:
    """``computed`` with the day, or ``pending_calendar`` with a message naming the missing year."""
    if pledge.publication_day is not None:
        return {"publication_day_status": "computed", "publication_day_message": None}
    # The first year from the deadline on that the calendar lacks is the one the count stopped at.
    covered = set(calendar.covered_years())
    year = pledge.deadline.year
    while year in covered:
        year += 1
    return {
        "publication_day_status": "pending_calendar",
        "publication_day_message": (
            f"公示日落在 {year} 年，该年节假日安排尚未载入，暂无法计算；"
            f"载入 {year} 年国务院放假通知后自动计算 "
            f"(publication day pending: calendar {year} not loaded)"
        ),
    }


def pledge_view(
    pledge: Pledge, calendar: WorkCalendar, authority: Department | None = None
) -> dict[str, Any]:
    data = pledge.model_dump(exclude={"import_key", "year", "seq", "access_code_digest"})
    data["state_label"] = PLEDGE.state(pledge.state).label
    data["authority_code"] = authority.code if authority else None
    data["authority_name"] = authority.name if authority else None
    data.update(publication_status(pledge, calendar))
    return data


# ---------------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------------


def normalise_pledgor(kind: PledgorKind, credit_code: str | None) -> str | None:
    """The validated code; required for enterprises (an individual may have none)."""
    if credit_code and credit_code.strip():
        return validate_credit_code(credit_code)
    if kind == PledgorKind.ENTERPRISE:
        raise InvalidCreditCode(
            "企业承诺人必须填写统一社会信用代码（18 位）(credit code is required for enterprises)"
        )
    return None


def credit_check(*, session: Session, credit_code: str | None, name: str) -> None:
    """逢办必查: refuse the pledge route to a subject with a current breach or a past false pledge."""
    if not get_settings().credit_check_enabled:
        return
    record = has_current_breach(session=session, credit_code=credit_code, name=name)
    if record:
        raise ValidationFailed(
            f"信用核查未通过：承诺人“{name}”有正在公示的失信记录 {record}，不适用告知承诺方式；"
            "请按一般程序提交完整材料，或在信用修复后再申请 (subject has a current breach record)",
            reason="current_breach",
            record_number=record,
        )
    false = false_pledge_of(session=session, credit_code=credit_code, name=name)
    if false:
        raise ValidationFailed(
            f"信用核查未通过：承诺人“{name}”曾有虚假承诺（承诺编号 {false}），不适用告知承诺方式；"
            "请按一般程序提交完整材料 (subject made a false pledge before)",
            reason="false_pledge",
            pledge_number=false,
        )


def _authority_for(session: Session, code: str, actor: Actor) -> Department:
    authority = department_by_code(session=session, code=code)
    if actor.role == Role.HANDLER and authority.id != actor.department_id:
        raise NotPermitted(
            f"经办人只能登记本部门受理的承诺；部门 {code} 不是您所在的部门 "
            "(handlers register for their own department)"
        )
    return authority


def register_pledge(
    *, session: Session, data: PledgeCreate, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> Pledge:
    """Register one pledge (flushed, not committed); the access code goes to the pledgor by mail only."""
    pledge, _code = register_pledge_with_code(
        session=session, data=data, actor=actor, today=today, calendar=calendar
    )
    return pledge


def register_pledge_with_code(
    *, session: Session, data: PledgeCreate, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> tuple[Pledge, str]:
    """Register one pledge (flushed; the caller commits); returns it with the pledgor's access code
    (办理码), shown once: only its keyed hash is stored. The deadline must be plausible
    (``check_deadline``); a past one is a back-registration, published no earlier than N working days
    after today (``registration_publication_day``)."""
    check_deadline(deadline=data.deadline, today=today)
    code = normalise_pledgor(data.pledgor_kind, data.pledgor_credit_code)
    authority = _authority_for(session, data.authority_code, actor)
    assert authority.id is not None
    credit_check(session=session, credit_code=code, name=data.pledgor_name.strip())
    [(seq, number)] = reserve_numbers(session=session, prefix=PLEDGE_PREFIX, year=today.year, count=1)
    day = registration_publication_day(calendar, deadline=data.deadline, registered_on=today)
    access_code, access_digest = new_access_code()
    pledge = Pledge(
        **data.model_dump(exclude={"authority_code", "pledgor_credit_code", "pledgor_email"}),
        pledgor_credit_code=code,
        pledgor_email=str(data.pledgor_email) if data.pledgor_email else None,
        number=number,
        year=today.year,
        seq=seq,
        authority_id=authority.id,
        publication_day=day,
        calendar_version=calendar.version if day else None,
        registered_by_id=actor.id,
        access_code_digest=access_digest,
    )
    session.add(pledge)
    session.flush()
    record_event(
        session=session,
        case=pledge,
        transition=None,
        from_state=None,
        to_state=pledge.state,
        actor=actor,
        at=utcnow(),
        note=None,
        data={"publication_day": iso_date(day)},
        idempotency_key=None,
        event="register",
    )
    enqueue(
        session=session,
        template="pledge_registered",
        recipient_kind="pledgor",
        recipient_name=pledge.pledgor_name,
        recipient_email=pledge.pledgor_email,
        key=f"pledge:{pledge.id}:register:pledge_registered",
        context={**_registered_context(pledge, authority), "access_code": access_code},
        case_kind="pledge",
        case_id=pledge.id,
        case_number=pledge.number,
    )
    return pledge, access_code


def _registered_context(pledge: Any, authority: Department) -> dict[str, Any]:
    return {
        "pledge_number": pledge.number,
        "pledgor_name": pledge.pledgor_name,
        "matter": pledge.matter,
        "obligation": pledge.obligation,
        "deadline": pledge.deadline.isoformat(),
        "publication_day": iso_date(pledge.publication_day),
        "authority_name": authority.name,
    }


def get_pledge(*, session: Session, pledge_id: int, actor: Actor | None = None) -> Pledge:
    """The pledge; a handler of another department gets "not found", as for complaints."""
    pledge = session.get(Pledge, pledge_id)
    if pledge is None or (
        actor is not None and actor.role == Role.HANDLER and actor.department_id != pledge.authority_id
    ):
        raise NotFound(f"承诺 #{pledge_id} 不存在；请核对编号 (no pledge {pledge_id})")
    return pledge


def pledge_action(
    *,
    session: Session,
    pledge_id: int,
    action: str,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    expected_version: int | None,
    reason: str | None = None,
) -> Pledge:
    """The authority's decisions: confirm (fulfilled), reject_evidence (back to registered, same deadline),
    confirm_false, cancel. Handlers act only on their own department's pledges (others: not found)."""
    if action not in PLEDGE_ACTIONS:
        raise ValidationFailed(f"不支持的操作 {action}；可用：{', '.join(PLEDGE_ACTIONS)} (unknown action)")
    # Another department's handler gets "not found", as on reads: a 403 would confirm the pledge exists.
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    if action in ("reject_evidence", "confirm_false", "cancel") and not (reason or "").strip():
        raise ValidationFailed("请填写理由，告知承诺人需要如何补正 (a reason is required)")
    # A rejection may move the publication day and tells the pledgor why (models/pledge_review.py).
    event = decide(
        session=session,
        pledge=pledge,
        action=action,
        actor=actor,
        today=today,
        calendar=calendar,
        note=(reason or "").strip() or None,
        expected_version=expected_version,
    )
    if action == "confirm" and event is not None:
        mail_evidence_accepted(session=session, pledge=pledge, event=event, today=today)
    return pledge


# ---------------------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------------------

# Allowed types, recognised by their first bytes (a renamed .exe is refused whatever its name).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"PK\x03\x04", "application/ofd", ".ofd"),  # OFD is a ZIP container
)


def sniff(content: bytes) -> str:
    for magic, content_type, _ in _SIGNATURES:
        if content.startswith(magic):
            return content_type
    raise ValidationFailed(
        "文件类型不受支持：仅接受 PDF、PNG、JPEG、OFD 文件（按文件内容识别，与扩展名无关）；请转换后重新上传 "
        "(unsupported file type)"
    )


def sanitise_filename(name: str) -> str:
    """The last path component, control and path characters removed, at most 120 characters."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", base).strip(" .")
    return base[:120] or "evidence"


def store_evidence(
    *,
    session: Session,
    pledge_id: int,
    filename: str,
    content: bytes,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> PledgeEvidence:
    """Store the file under its SHA-256 outside the database and fire ``submit_evidence``."""
    settings = get_settings()
    if len(content) > settings.upload_max_bytes:
        raise ValidationFailed(
            f"文件过大：{len(content)} 字节，上限 {settings.upload_max_bytes} 字节；请压缩或拆分后上传 "
            "(file too large)"
        )
    if not content:
        raise ValidationFailed("文件为空；请选择要上传的材料 (empty file)")
    content_type = sniff(content)
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)  # hidden from other departments
    PLEDGE.fire(pledge.state, "submit_evidence", actor.role)
    digest = hashlib.sha256(content).hexdigest()
    path = Path(settings.upload_dir) / digest[:2] / digest[2:4] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)  # atomic: a crash never leaves half a file under the final name
    row = PledgeEvidence(
        pledge_id=pledge_id,
        filename=sanitise_filename(filename),
        content_type=content_type,
        size=len(content),
        sha256=digest,
        uploaded_by=actor.name,
    )
    session.add(row)
    session.flush()
    event = apply_event(
        session=session,
        case=pledge,
        event="submit_evidence",
        actor=actor,
        today=today,
        calendar=calendar,
        data={
            "evidence_id": row.id,
            "sha256": digest,
            "filename": row.filename,
            **note_submission(pledge=pledge, today=today),
        },
    )
    if event is not None:
        mail_evidence_received(session=session, pledge=pledge, filename=row.filename, event=event)
    return row


# ---------------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PledgeQuery:
    state: PledgeState | None = None
    authority: str | None = None
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None
    publication_from: dt.date | None = None  # publication day on or after (pending days never match)
    publication_to: dt.date | None = None
    q: str | None = None  # number, pledgor name or credit code (contains)
    after: int | None = None  # keyset: the last id of the previous page
    limit: int = 50


def list_pledges(*, session: Session, query: PledgeQuery, actor: Actor) -> tuple[list[Pledge], int | None]:
    stmt = select(Pledge)
    if actor.role == Role.HANDLER:
        stmt = stmt.where(Pledge.authority_id == actor.department_id)
    if query.state:
        stmt = stmt.where(Pledge.state == query.state)
    if query.authority:
        stmt = stmt.where(Pledge.authority_id == department_by_code(session=session, code=query.authority).id)
    if query.deadline_from:
        stmt = stmt.where(col(Pledge.deadline) >= query.deadline_from)
    if query.deadline_to:
        stmt = stmt.where(col(Pledge.deadline) <= query.deadline_to)
    if query.publication_from:
        stmt = stmt.where(col(Pledge.publication_day) >= query.publication_from)
    if query.publication_to:
        stmt = stmt.where(col(Pledge.publication_day) <= query.publication_to)
    if query.q:
        like = f"%{query.q.strip()}%"
        stmt = stmt.where(
            col(Pledge.number).like(like)
            | col(Pledge.pledgor_name).like(like)
            | col(Pledge.pledgor_credit_code).like(like)
        )
    if query.after:
        stmt = stmt.where(col(Pledge.id) < query.after)
    limit = max(1, min(query.limit, 200))
    rows = list(session.exec(stmt.order_by(col(Pledge.id).desc()).limit(limit + 1)).all())
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def pledge_events(*, session: Session, pledge_id: int, actor: Actor | None = None) -> list[CaseEvent]:
    get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    stmt = select(CaseEvent).where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pledge_id)
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())
