"""The public register of breach records: periods by class, the 双公示 fields, queries with keyset
pagination, the subject's objection and credit repair, the deciding department's decisions, expiry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.breach import PublishedBreach, Severity

# The record's shared helpers live in models/breach_record.py; callers import some of them from here.
from models.breach_record import (
    PLATFORM_DOCUMENTS,
    platform_document,
    publication_end,
    repair_earliest,
)
from models.breach_record import department_names as department_names
from models.breach_record import public_fields as public_fields
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import NotFound, NotPermitted, ValidationFailed
from models.id_sets import chunks, in_list
from models.lifecycle import BREACH, PLEDGE, BreachState, PledgeState, Role
from models.org import Department
from models.outbox import enqueue
from models.platform import DocumentKind, enqueue_documents
from models.pledge import Pledge, PledgorKind
from models.pledge_access import check_access_code
from models.pledge_mail import mail_breach_request
from models.pledgor_self_service import acknowledge_objection, check_objection_allowed
from models.text import clean_text
from models.uscc import validate_credit_code
from models.workflow import Actor, apply_event, apply_event_many

BS = BreachState
# Records the public sees: published, and those whose objection or repair is being decided.
SHOWN_STATES = (BS.PUBLISHED, BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED)

# ---------------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterQuery:
    name: str | None = None  # prefix of XDR_MC
    credit_code: str | None = None
    department: str | None = None  # department code
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    after: str | None = None  # keyset cursor "<JDRQ>:<id>" from the previous page
    limit: int = 20


def _cursor(record: PublishedBreach) -> str:
    return f"{record.decision_date.isoformat()}:{record.id}"


def _parse_cursor(cursor: str) -> tuple[dt.date, int]:
    try:
        day, ident = cursor.split(":", 1)
        return dt.date.fromisoformat(day), int(ident)
    except ValueError:
        raise ValidationFailed(
            f"分页游标“{cursor}”无效；请使用上一页返回的 next_cursor (invalid cursor)"
        ) from None


def list_register(*, session: Session, query: RegisterQuery) -> tuple[list[dict[str, Any]], str | None]:
    """A page of currently shown records, newest decision first; keyset on (JDRQ, id)."""
    stmt = select(PublishedBreach).where(col(PublishedBreach.state).in_(SHOWN_STATES))
    if query.name:
        # A half-open range on the indexed column, not LIKE: SQLite cannot use an index for a LIKE with an
        # ESCAPE clause, and a rare prefix then scanned the whole register. Case-sensitive, as on PostgreSQL.
        name = col(PublishedBreach.subject_name)
        prefix = (name >= query.name) & (name < query.name + "\U0010ffff")
        # Individuals are shown masked (张*三); matching their real name by prefix would let anyone unmask
        # it one character at a time, so for them only the full, exact name matches.
        individual = col(PublishedBreach.subject_kind) == PledgorKind.INDIVIDUAL.value
        stmt = stmt.where((prefix & ~individual) | (individual & (name == query.name)))
    if query.credit_code:
        stmt = stmt.where(PublishedBreach.subject_credit_code == validate_credit_code(query.credit_code))
    if query.department:
        dept = session.exec(select(Department.id).where(Department.code == query.department)).first()
        stmt = stmt.where(PublishedBreach.department_id == (dept if dept is not None else -1))
    if query.date_from:
        stmt = stmt.where(col(PublishedBreach.decision_date) >= query.date_from)
    if query.date_to:
        stmt = stmt.where(col(PublishedBreach.decision_date) <= query.date_to)
    if query.after:
        day, ident = _parse_cursor(query.after)
        # The leading `<=` is implied by the OR but is what an index can seek on: without it PostgreSQL
        # walked the decision-date index from the newest record and filtered, so page 2,000 cost ~100 ms.
        stmt = stmt.where(
            col(PublishedBreach.decision_date) <= day,
            (col(PublishedBreach.decision_date) < day) | (col(PublishedBreach.id) < ident),
        )
    limit = max(1, min(query.limit, 100))
    stmt = stmt.order_by(col(PublishedBreach.decision_date).desc(), col(PublishedBreach.id).desc())
    rows = session.exec(stmt.limit(limit + 1)).all()
    departments = department_names(session)
    page = [public_fields(r, departments) for r in rows[:limit]]
    return page, (_cursor(rows[limit - 1]) if len(rows) > limit else None)


def breach_by_number(*, session: Session, number: str, shown_only: bool = True) -> PublishedBreach:
    record = session.exec(select(PublishedBreach).where(PublishedBreach.number == number)).first()
    if record is None or (shown_only and record.state not in SHOWN_STATES):
        raise NotFound(f"公示记录 {number} 不存在或已不在公示期内；请核对编号 (no record {number})")
    return record


def get_public_record(*, session: Session, number: str) -> dict[str, Any]:
    return public_fields(breach_by_number(session=session, number=number), department_names(session))


# Pledge outcomes that are public: kept (守信, 承诺事项闭合), and published as a breach while that record
# is shown. An open or overdue-but-not-yet-published pledge is between the pledgor and the authority until
# publication day (RULEBOOK, pledges §4: a pledge fulfilled before that day is never published), and a
# withdrawn, repaired or expired record must not live on here.
def _public_pledge_clause() -> Any:
    fulfilled = col(Pledge.state) == PledgeState.FULFILLED
    shown = (col(Pledge.state) == PledgeState.PUBLISHED) & col(PublishedBreach.state).in_(SHOWN_STATES)
    return fulfilled | shown


def credit_profile(*, session: Session, credit_code: str) -> dict[str, Any]:
    """The subject's current published records and its public pledge outcomes (counts and the list)."""
    code = validate_credit_code(credit_code)
    departments = department_names(session)
    records = session.exec(
        select(PublishedBreach)
        .where(PublishedBreach.subject_credit_code == code, col(PublishedBreach.state).in_(SHOWN_STATES))
        .order_by(col(PublishedBreach.decision_date).desc())
    ).all()
    pledges = session.exec(
        select(Pledge)
        .outerjoin(PublishedBreach, col(PublishedBreach.pledge_id) == Pledge.id)
        .where(Pledge.pledgor_credit_code == code, _public_pledge_clause())
        .order_by(col(Pledge.deadline).desc())
    ).all()
    counts: dict[str, int] = {}
    for p in pledges:
        counts[str(p.state)] = counts.get(str(p.state), 0) + 1
    return {
        "credit_code": code,
        "records": [public_fields(r, departments) for r in records],
        "pledges": {
            "total": len(pledges),
            "by_state": counts,
            "items": [
                {
                    "number": p.number,
                    "matter": p.matter,
                    "deadline": p.deadline.isoformat(),
                    "state": str(p.state),
                    "state_label": PLEDGE.state(p.state).label,
                }
                for p in pledges
            ],
        },
    }


def has_current_breach(*, session: Session, credit_code: str | None, name: str | None) -> str | None:
    """The number of a currently shown record of the subject, if any (by code, or exact name without)."""
    stmt = select(PublishedBreach.number).where(col(PublishedBreach.state).in_(SHOWN_STATES))
    if credit_code:
        stmt = stmt.where(PublishedBreach.subject_credit_code == credit_code)
    elif name:
        stmt = stmt.where(
            PublishedBreach.subject_name == name, col(PublishedBreach.subject_credit_code).is_(None)
        )
    else:
        return None
    # Newest first: with several shown records the refusal names the latest one, the same on every run and
    # backend (without an ORDER BY, PostgreSQL returns whichever row its heap or index scan meets first).
    return session.exec(stmt.order_by(col(PublishedBreach.id).desc()).limit(1)).first()


# ---------------------------------------------------------------------------------------------------
# Objection and repair (the subject), decisions (the deciding department)
# ---------------------------------------------------------------------------------------------------


def _check_subject(
    session: Session, record: PublishedBreach, access_code: str | None, address: str | None
) -> None:
    """Only the pledgor acts on the record: the credit code and the pledge number are public, so what
    proves it is the pledge's access code (models/pledge_access.py), with wrong codes rate-limited."""
    pledge = session.get(Pledge, record.pledge_id) if record.pledge_id else None
    if pledge is None:
        # Records from complaints name a government body, which has staff accounts and no access code:
        # it files an objection or repair through the credit office (督办人员), not this public form.
        raise NotPermitted(
            f"公示记录 {record.number} 不是由告知承诺产生的，不能在此在线提出；"
            "被认定部门请向信用办（督办人员）书面提出异议或信用修复申请 "
            "(only pledge records can be acted on here)"
        )
    check_access_code(session=session, pledge=pledge, code=access_code, address=address, now=utcnow())


PUBLIC_ACTOR = Actor(name="失信主体（社会公众）", role=Role.PUBLIC)


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
) -> PublishedBreach:
    """The subject objects: the record shows "异议处理中" and the department has 5 working days.
    ``address`` (the client's) counts wrong access codes per address as well as per pledge."""
    record = breach_by_number(session=session, number=number)
    _check_subject(session, record, access_code, address)
    if not reason.strip():
        raise ValidationFailed("请填写异议理由 (reason is required)")
    check_objection_allowed(session=session, record=record, reason=reason, evidence=evidence)
    event = apply_event(
        session=session,
        case=record,
        event="object",
        actor=PUBLIC_ACTOR,
        today=today,
        calendar=calendar,
        note=reason.strip(),
        data={"evidence": evidence or ""},
    )
    acknowledge_objection(session=session, record=record, reply_due=record.stage_deadline)
    if event is not None:
        mail_breach_request(
            session=session,
            record=record,
            kind="objection",
            reason=reason.strip(),
            detail=(evidence or "").strip(),
            event=event,
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
) -> PublishedBreach:
    """Credit repair, allowed from the class's minimum period on; the department decides in 3 WD."""
    record = breach_by_number(session=session, number=number)
    _check_subject(session, record, access_code, address)
    if today < record.repair_earliest:
        raise ValidationFailed(
            f"该记录最早可于 {record.repair_earliest.isoformat()} 申请信用修复（最短公示期未满）；"
            f"请届时再申请 (repair not before {record.repair_earliest.isoformat()})",
            repair_earliest=record.repair_earliest.isoformat(),
        )
    if not statement.strip() or not repair_pledge.strip():
        raise ValidationFailed(
            "请填写纠正失信行为的说明和信用修复承诺 (statement and repair pledge are required)"
        )
    event = apply_event(
        session=session,
        case=record,
        event="request_repair",
        actor=PUBLIC_ACTOR,
        today=today,
        calendar=calendar,
        note=statement.strip(),
        data={"repair_pledge": repair_pledge.strip()},
    )
    if event is not None:
        mail_breach_request(
            session=session,
            record=record,
            kind="repair",
            reason=statement.strip(),
            detail=repair_pledge.strip(),
            event=event,
        )
    return record


BREACH_DECISIONS = (
    "uphold_withdraw",
    "uphold_correct",
    "reject_objection",
    "approve_repair",
    "reject_repair",
)
CORRECTABLE = ("matter", "facts", "basis", "severity")
CORRECTION_LABELS = {"matter": "事项", "facts": "失信行为", "basis": "依据", "severity": "严重程度"}


def _cleaned(multiline: bool) -> BeforeValidator:
    return BeforeValidator(lambda v: clean_text(v, multiline=multiline) if isinstance(v, str) else v)


# The limit sits before the cleaning validator, so pydantic checks it as a string ("string_too_long",
# said as too long a text), not as a generic length after validation ("too_long": too many items).
_Matter = Annotated[str, StringConstraints(max_length=200), _cleaned(False)]
_Facts = Annotated[str, StringConstraints(max_length=2000), _cleaned(True)]
_Basis = Annotated[str, StringConstraints(max_length=500), _cleaned(True)]


class BreachCorrection(BaseModel):
    """What "异议成立，更正记录" may change: each field optional, typed and capped at its column's length
    (SQLite does not enforce it), and no other field (422 naming it). A free dict let a nested object
    become the public text and stored a 100,000-character ``facts``."""

    model_config = ConfigDict(extra="forbid")

    matter: _Matter | None = Field(default=None, description="事项（单行，≤200 字）")
    facts: _Facts | None = Field(default=None, description="失信行为（≤2000 字）")
    basis: _Basis | None = Field(default=None, description="依据（≤500 字）")
    severity: Severity | None = Field(default=None, description="失信程度")


def decide(
    *,
    session: Session,
    breach_id: int,
    action: str,
    actor: Actor,
    reason: str,
    today: dt.date,
    calendar: WorkCalendar,
    expected_version: int | None = None,
    corrected: BreachCorrection | Mapping[str, Any] | None = None,
) -> PublishedBreach:
    """The deciding department (谁认定、谁修复) or a supervisor decides an objection or a repair.
    ``corrected`` (uphold_correct only) is checked as a ``BreachCorrection`` whichever form it comes in."""
    record = session.get(PublishedBreach, breach_id)
    # Another department's record is answered as one that does not exist, as for every case: a 403 would
    # confirm that it exists (docs/security.md).
    if record is None or (actor.role == Role.HANDLER and actor.department_id != record.department_id):
        raise NotFound(f"公示记录 #{breach_id} 不存在 (no breach record {breach_id})")
    if action not in BREACH_DECISIONS:
        raise ValidationFailed(f"不支持的操作 {action}；可用：{', '.join(BREACH_DECISIONS)} (unknown action)")
    if not reason.strip():
        raise ValidationFailed("请填写决定理由 (reason is required)")
    changes: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if action == "uphold_correct":
        changes = _corrections(corrected)
        data = {"before": {k: str(getattr(record, k)) for k in changes}, "after": changes}
    apply_event(
        session=session,
        case=record,
        event=action,
        actor=actor,
        today=today,
        calendar=calendar,
        note=reason.strip(),
        data=data,
        expected_version=expected_version,
    )
    # Only once the lifecycle allowed the decision: a refused one must leave the record untouched.
    _apply_corrections(record, changes)
    _after_decision(session, record, action, reason.strip(), actor, today, data)
    return record


def _corrections(corrected: BreachCorrection | Mapping[str, Any] | None) -> dict[str, str]:
    """The given fields as stored text; a service caller's mapping is held to the same typed rules as
    the API's body (the domain checks, whoever calls)."""
    if corrected is None:
        correction = BreachCorrection()
    elif isinstance(corrected, BreachCorrection):
        correction = corrected
    else:
        try:
            correction = BreachCorrection.model_validate(dict(corrected))
        except PydanticValidationError as exc:
            # The same shape as the API's 422 (api/errors.py): each field named, with its reason.
            fields = [
                {
                    "field": "corrected." + ".".join(str(p) for p in e["loc"]),
                    "message": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors()
            ]
            names = "、".join(
                f"{CORRECTION_LABELS.get(str(e['loc'][0]), '不可更正的字段')} {f['field']}"
                for e, f in zip(exc.errors(), fields, strict=True)
            )
            raise ValidationFailed(
                f"更正内容有误：{names}；只能更正事项、失信行为、依据、严重程度，且不得超过字段长度，"
                f"严重程度可用：{', '.join(s.value for s in Severity)} (invalid corrected fields)",
                field="corrected",
                fields=fields,
            ) from None
    values = correction.model_dump(exclude_none=True)
    changes = {k: str(v) for k, v in values.items() if str(v) != ""}
    if not changes:
        raise ValidationFailed(
            f"“异议成立，更正记录”需要提供更正后的字段（{', '.join(CORRECTABLE)} 之一）"
            "(corrected fields required)"
        )
    return changes


def _apply_corrections(record: PublishedBreach, changes: Mapping[str, str]) -> None:
    for k, v in changes.items():
        setattr(record, k, Severity(v) if k == "severity" else v)
    if "severity" in changes:
        record.publication_end = publication_end(record.severity, record.decision_date)
        record.repair_earliest = repair_earliest(record.severity, record.decision_date)


_OUTCOME = {"uphold_withdraw": "withdrawn", "uphold_correct": "corrected", "reject_objection": "rejected"}


def _after_decision(
    session: Session,
    record: PublishedBreach,
    action: str,
    reason: str,
    actor: Actor,
    today: dt.date,
    data: dict[str, Any],
) -> None:
    pledge = session.get(Pledge, record.pledge_id) if record.pledge_id else None
    email = pledge.pledgor_email if pledge else None
    key = f"breach:{record.id}:{record.version}:{action}"
    if action in _OUTCOME:
        template = "objection_decision"
        context: dict[str, Any] = {
            "record_number": record.number,
            "subject_name": record.subject_name,
            "outcome": _OUTCOME[action],
            "reason": reason,
        }
    else:
        template = "repair_decision"
        context = {
            "record_number": record.number,
            "subject_name": record.subject_name,
            "approved": action == "approve_repair",
            "reason": reason,
        }
    enqueue(
        session=session,
        template=template,
        recipient_kind="subject",
        recipient_name=record.subject_name,
        recipient_email=email,
        key=f"{key}:{template}",
        context=context,
        case_kind="breach",
        case_id=record.id,
        case_number=record.number,
        flow_run_id=actor.flow_run_id,
    )
    kind = PLATFORM_DOCUMENTS.get(action)
    if kind is not None:
        assert record.id is not None
        row = platform_document(
            kind=kind,
            record=record,
            departments=department_names(session),
            effective=today,
            now=utcnow(),
            # A record can be corrected more than once; each correction is its own document.
            revision=record.version if kind == DocumentKind.CORRECT else None,
        )
        if data:
            row["payload"]["record"]["corrections"] = data
        enqueue_documents(session=session, rows=[row])


# ---------------------------------------------------------------------------------------------------
# Expiry
# ---------------------------------------------------------------------------------------------------


# The publication period ends whatever review is pending: an objection or repair request filed on the
# last day must not keep a record public past its end date (GSJZQ).
_EXPIRABLE = sorted(BREACH.transition("expire").sources)


def expiry_candidates(*, session: Session, today: dt.date) -> list[int]:
    stmt = select(PublishedBreach.id).where(
        col(PublishedBreach.state).in_(_EXPIRABLE), col(PublishedBreach.publication_end) < today
    )
    return [i for i in session.exec(stmt.order_by(col(PublishedBreach.id))).all() if i is not None]


def expire_records(*, session: Session, ids: Sequence[int], today: dt.date, actor: Actor) -> int:
    """Records past their end date stop showing (``expire``) and the platform is told (one EXPIRE
    document each); set-based and idempotent by state."""
    now = utcnow()
    table = PublishedBreach.__table__  # type: ignore[attr-defined]
    # Each audit event records the state the record really left (apply_event_many moves each source
    # state in a statement of its own).
    expired = apply_event_many(
        session=session,
        kind="breach",
        ids=ids,
        event="expire",
        actor=actor,
        now=now,
        where=[table.c.publication_end < today],
        data={"as_of": today.isoformat()},
    )
    if not expired:
        return 0
    # The documents carry the records as they now stand, in the order the records left their states.
    rows: dict[int, Any] = {}
    for part in chunks([f.id for f in expired]):
        found = session.execute(core_select(table).where(in_list(session, table.c.id, part)))
        rows.update((r.id, r._mapping) for r in found)
    departments = department_names(session)
    kind = PLATFORM_DOCUMENTS["expire"]
    documents = [
        platform_document(kind=kind, record=rows[f.id], departments=departments, effective=today, now=now)
        for f in expired
    ]
    enqueue_documents(session=session, rows=documents)
    return len(expired)


def false_pledge_of(*, session: Session, credit_code: str | None, name: str | None) -> str | None:
    """The number of the subject's newest false pledge, if any."""
    stmt = select(Pledge.id, Pledge.number).where(Pledge.state == PledgeState.FALSE_PLEDGE)
    if credit_code:
        stmt = stmt.where(Pledge.pledgor_credit_code == credit_code)
    elif name:
        stmt = stmt.where(Pledge.pledgor_name == name, col(Pledge.pledgor_credit_code).is_(None))
    else:
        return None
    # The newest, as has_current_breach, so the same pledge is named on every run and backend; picked here
    # rather than by ORDER BY id LIMIT 1, with which SQLite walks every pledge without a credit code (the
    # id-ordered credit-code index) instead of the few false pledges. A subject has only a handful of these.
    found = session.exec(stmt).all()
    return max(found)[1] if found else None


def count_shown(*, session: Session) -> int:
    stmt = (
        select(func.count()).select_from(PublishedBreach).where(col(PublishedBreach.state).in_(SHOWN_STATES))
    )
    return int(session.exec(stmt).one())
