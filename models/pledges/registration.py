"""Registering a pledge (one by one; the bulk import is models/pledges/importing.py) and the
authority's decisions on it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from models.accounts import active_department_by_code
from models.calendar import WorkCalendar
from models.clock import iso_date, utcnow
from models.errors import InvalidCreditCode, NotPermitted, ValidationFailed
from models.lifecycle import Role
from models.numbering import PLEDGE_PREFIX, reserve_numbers
from models.org import Department
from models.pledge import (
    Pledge,
    PledgeCreate,
    PledgorKind,
    check_deadline,
    registration_publication_day,
)
from models.pledges.access import new_access_code
from models.pledges.mail import enqueue_for_pledgor, mail_evidence_accepted
from models.pledges.queries import PLEDGE_ACTIONS, get_pledge
from models.pledges.review import chase_review, decide
from models.register import false_pledge_of, has_current_breach
from models.settings import get_settings
from models.uscc import validate_credit_code
from models.workflow import Actor, record_event


def normalise_pledgor(kind: PledgorKind, credit_code: str | None) -> str | None:
    """The validated code; required for enterprises (an individual may have none)."""
    if credit_code and credit_code.strip():
        return validate_credit_code(credit_code)
    if kind == PledgorKind.ENTERPRISE:
        raise InvalidCreditCode(
            "企业承诺人必须填写统一社会信用代码（18 位）(credit code is required for enterprises)"
        )
    return None


def credit_check(*, session: Session, credit_code: str | None, name: str, today: dt.date) -> None:
    """逢办必查: refuse the pledge route to a subject with a serious record shown or a false pledge not yet
    repaired (RULEBOOK pledges §2; the conditions are models/register/queries.py's, the import's too).

    The false pledge is asked first: its finding is itself a shown 严重 record, and the pledge it came from
    is the more telling reason (the import's check gives the same one)."""
    if not get_settings().credit_check_enabled:
        return
    false = false_pledge_of(session=session, credit_code=credit_code, name=name, today=today)
    if false:
        raise ValidationFailed(
            f"信用核查未通过：承诺人“{name}”曾有虚假承诺（承诺编号 {false}），不适用告知承诺方式；"
            "请按一般程序提交完整材料，或在信用修复后再申请 (subject made a false pledge before)",
            reason="false_pledge",
            pledge_number=false,
        )
    record = has_current_breach(session=session, credit_code=credit_code, name=name, today=today)
    if record:
        raise ValidationFailed(
            f"信用核查未通过：承诺人“{name}”有正在公示的严重失信记录 {record}，不适用告知承诺方式；"
            "请按一般程序提交完整材料，或在信用修复后再申请 (subject has a current serious breach record)",
            reason="current_breach",
            record_number=record,
        )


def _authority_for(session: Session, code: str, actor: Actor) -> Department:
    authority = active_department_by_code(session=session, code=code, field="authority_code")
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
    credit_check(session=session, credit_code=code, name=data.pledgor_name.strip(), today=today)
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
        registered_on=today,
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
    enqueue_for_pledgor(
        session=session,
        pledge=pledge,
        template="pledge_registered",
        key=f"pledge:{pledge.id}:register:pledge_registered",
        context={**_registered_context(pledge, authority), "access_code": access_code},
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
    confirm_false, cancel; and a supervisor's chasing of the evidence review (review_remind, review_supervise,
    review_escalate, ``chase_review``). Handlers act only on their own department's pledges (others: not
    found); the lifecycle table says who may do which."""
    if action not in PLEDGE_ACTIONS:
        raise ValidationFailed(f"不支持的操作 {action}；可用：{', '.join(PLEDGE_ACTIONS)} (unknown action)")
    # Another department's handler gets "not found", as on reads: a 403 would confirm the pledge exists.
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    if action in ("reject_evidence", "confirm_false", "cancel") and not (reason or "").strip():
        raise ValidationFailed("请填写理由，告知承诺人需要如何补正 (a reason is required)")
    if action.startswith("review_"):
        chase_review(
            session=session, pledge=pledge, action=action, actor=actor, today=today, calendar=calendar,
            note=(reason or "").strip() or None, expected_version=expected_version,
        )  # fmt: skip
        return pledge
    # A rejection may move the publication day and tells the pledgor why (models/pledges/review.py).
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
