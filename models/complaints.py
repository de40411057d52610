"""Complaint use cases: registration, the staff actions, queries, public tracking, screening, supervision.

Every state change goes through ``models.workflow.apply_event``; what an action may do and who may do it
comes from the ``COMPLAINT`` table, and this module adds only what the table cannot say: the bodies the
actions take, which department may act, and the side effects (assignments, deadlines, outbox rows).
Functions never commit, except the batch services of the flows, which commit per case so one bad case
cannot undo the others.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import bindparam, func, literal, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.accounts import active_supervisors
from models.audit import CaseEvent, CaseEventPublic
from models.breach import Severity
from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaint import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CategoryRule,
    Complaint,
    ComplaintAssignment,
    ComplaintCreate,
)
from models.deadlines import due_steps, step_event, supervise_each
from models.errors import Conflict, DomainError, NotFound, NotPermitted, ValidationFailed
from models.government_credit import record_breach
from models.lifecycle import COMPLAINT, Role, Transition
from models.lifecycle import ComplaintState as CS
from models.numbering import COMPLAINT_PREFIX, reserve_numbers_apart
from models.org import Department
from models.outbox import enqueue_now
from models.ratelimit import check_tracking_allowed, record_tracking_failure
from models.settings import get_settings
from models.tracking_password import new_tracking_password, verify_tracking_password
from models.uscc import validate_credit_code
from models.workflow import Actor, apply_event, record_event, rule_days

TRACKING_PATH = "/track"

_STAFF_SEE_ALL = frozenset({Role.INTAKE, Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM})
# Timeline entries that are not table events.
EXTRA_EVENT_LABELS = {"register": "登记", "merged_in": "并入重复投诉"}
# Internal working notes the complainant does not see on the public tracking page.
_NOT_PUBLIC_EVENTS = frozenset({"suggest", "warn_yellow", "warn_red", "merged_in"})
_NOT_FOUND = "投诉编号或查询密码不正确，请核对后重试 (number or password is wrong)"


def event_label(event: str) -> str:
    if event in EXTRA_EVENT_LABELS:
        return EXTRA_EVENT_LABELS[event]
    try:
        return COMPLAINT.transition(event).label
    except DomainError:
        return event


def state_label(state: str) -> str:
    return COMPLAINT.state(state).label


# ---------------------------------------------------------------------------------------------------------
# Action bodies: one model per action; unknown fields are refused so a typo is not silently ignored.


class ActionBody(BaseModel):
    """Fields every action takes: the version the caller saw (stale → 409) and an optional note."""

    model_config = ConfigDict(extra="forbid")
    expected_version: int | None = Field(default=None, ge=1, description="调用方看到的案件版本号")
    note: str | None = Field(default=None, max_length=2000, description="备注")


class ReasonBody(ActionBody):
    reason: str = Field(min_length=2, max_length=2000, description="理由")


class RejectRoute(StrEnum):
    LITIGATION = "litigation"
    ARBITRATION = "arbitration"
    RECONSIDERATION = "reconsideration"
    DISCIPLINE = "discipline"
    PETITION = "petition"
    DISCLOSURE = "disclosure"
    OTHER = "other"


ROUTE_GUIDANCE = {
    RejectRoute.LITIGATION: "该事项属于诉讼范围，请通过人民法院依法主张权利。",
    RejectRoute.ARBITRATION: "该事项属于仲裁范围，请向约定的仲裁机构申请仲裁。",
    RejectRoute.RECONSIDERATION: "该事项属于行政复议范围，请依法向行政复议机关申请行政复议。",
    RejectRoute.DISCIPLINE: "该事项属于纪检监察范围，请向纪检监察机关反映。",
    RejectRoute.PETITION: "该事项属于信访范围，请通过信访渠道反映。",
    RejectRoute.DISCLOSURE: "该事项属于政府信息公开范围，请向有关行政机关申请政府信息公开。",
}


class RejectBody(ReasonBody):
    route: RejectRoute = Field(description="应当通过的渠道")
    route_detail: str | None = Field(default=None, max_length=500, description="其他渠道的说明")

    @model_validator(mode="after")
    def _other_needs_detail(self) -> RejectBody:
        if self.route == RejectRoute.OTHER and not (self.route_detail or "").strip():
            raise ValueError("渠道为“其他”时请在 route_detail 中写明应通过的渠道 (route_detail required)")
        return self

    def guidance(self) -> str:
        return (self.route_detail or "") if self.route == RejectRoute.OTHER else ROUTE_GUIDANCE[self.route]


class MergeBody(ActionBody):
    target_number: str = Field(min_length=1, max_length=20, description="并入的较早案件编号")


class DispatchBody(ActionBody):
    lead_department_code: str = Field(min_length=1, max_length=32, description="主办部门代码")
    assisting_department_codes: list[str] = Field(default_factory=list, max_length=10, description="协办部门")


class ExplanationBody(ActionBody):
    explanation: str = Field(min_length=2, max_length=4000, description="核实不属实的说明")


class OrderRectificationBody(ActionBody):
    deadline_days: int | None = Field(default=None, ge=1, le=120, description="整改期限（工作日）")
    requirements: str | None = Field(default=None, max_length=4000, description="整改要求")


class ReportRectificationBody(ActionBody):
    evidence: str = Field(min_length=2, max_length=4000, description="整改情况及证明")
    attachments: list[str] = Field(default_factory=list, max_length=20)


class ConfirmBreachBody(ReasonBody):
    severity: Severity = Field(default=Severity.GENERAL, description="失信程度（轻微、一般、严重）")


class ReplyBody(ActionBody):
    reply_text: str = Field(min_length=2, max_length=4000, description="答复内容")


class CloseBody(ActionBody):
    satisfaction: Literal["满意", "基本满意"] = Field(description="回访满意度")


class ExtensionRequestBody(ReasonBody):
    days: int = Field(ge=1, le=60, description="申请延长的工作日数")


class OptionalReasonBody(ActionBody):
    reason: str | None = Field(default=None, max_length=2000, description="理由")


ACTION_BODIES: dict[str, type[ActionBody]] = {
    "accept": ActionBody,
    "reject": RejectBody,
    "merge": MergeBody,
    "dispatch": DispatchBody,
    "return_order": ReasonBody,
    "sign_for": ActionBody,
    "verify_true": ActionBody,
    "verify_untrue": ExplanationBody,
    "order_rectification": OrderRectificationBody,
    "report_rectification": ReportRectificationBody,
    "accept_rectification": OptionalReasonBody,
    "send_back": ReasonBody,
    "confirm_breach": ConfirmBreachBody,
    "reply": ReplyBody,
    "close": CloseBody,
    "redo": ReasonBody,
    "await_complainant": ReasonBody,
    "resume": ActionBody,
    "reopen": ReasonBody,
    "request_extension": ExtensionRequestBody,
    "approve_extension": OptionalReasonBody,
    "refuse_extension": ReasonBody,
    "remind": ActionBody,
    "supervise": ActionBody,
    "escalate": ActionBody,
}


def body_fields(action: str) -> list[str]:
    model = ACTION_BODIES.get(action, ActionBody)
    return [name for name in model.model_fields if name not in ("expected_version", "note")]


# Which department's handler may take a handler action: the lead (主办), the verifier (the lead's 主管部门,
# the 认定部门; the lead itself when it has none), or either.
_LEAD, _VERIFIER = "lead", "verifier"
_HANDLER_PARTIES: dict[str, frozenset[str]] = {
    "return_order": frozenset({_LEAD}),
    "sign_for": frozenset({_LEAD}),
    "report_rectification": frozenset({_LEAD}),
    "request_extension": frozenset({_LEAD}),
    "verify_true": frozenset({_VERIFIER}),
    "verify_untrue": frozenset({_VERIFIER}),
    "order_rectification": frozenset({_VERIFIER}),
    "reply": frozenset({_LEAD, _VERIFIER}),
    "await_complainant": frozenset({_LEAD, _VERIFIER}),
    "resume": frozenset({_LEAD, _VERIFIER}),
}


# ---------------------------------------------------------------------------------------------------------
# Registration


class ComplaintFilter(BaseModel):
    """The list filters of GET /complaints."""

    state: CS | None = None
    department_code: str | None = None
    due_before: dt.date | None = None
    overdue: bool | None = None
    channel: str | None = None
    q: str | None = None
    after: int | None = None
    limit: int = 50


def register_complaint(
    *, session: Session, data: ComplaintCreate, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> tuple[Complaint, str]:
    """Register a complaint; returns it with the tracking password, which is stored only hashed."""
    credit_code = validate_credit_code(data.complainant_credit_code) if data.complainant_credit_code else None
    respondent = None
    if data.respondent_department_code:
        respondent = _department_for_body(
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
        stage_deadline=calendar.nth_working_day_after(today, rule_days(spec.deadline)),
        registered_by_id=actor.id,
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
        note=None,
        data={"channel": str(data.channel)},
        idempotency_key=None,
        event="register",
    )
    _mail_complainant(
        session,
        complaint,
        event,
        "complaint_received",
        channel_label=CHANNEL_LABELS[complaint.channel],
        tracking_url=f"{get_settings().public_base_url.rstrip('/')}{TRACKING_PATH}?number={number}",
        received_on=today.isoformat(),
    )
    return complaint, password


# ---------------------------------------------------------------------------------------------------------
# Visibility and lookups


def _competent_of(session: Session, department_id: int | None) -> int | None:
    if department_id is None:
        return None
    dept = session.get(Department, department_id)
    return dept.competent_id if dept else None


def handler_parties(*, session: Session, complaint: Complaint, department_id: int | None) -> set[str]:
    """How a handler's department stands to the complaint: lead, verifier, assisting (empty: not at all)."""
    parties: set[str] = set()
    if department_id is None:
        return parties
    lead = complaint.lead_department_id
    if lead is not None:
        if department_id == lead:
            parties.add(_LEAD)
        if department_id == (_competent_of(session, lead) or lead):
            parties.add(_VERIFIER)
    active = session.exec(
        select(ComplaintAssignment.id).where(
            ComplaintAssignment.complaint_id == complaint.id,
            ComplaintAssignment.department_id == department_id,
            col(ComplaintAssignment.active).is_(True),
        )
    ).first()
    if active is not None and not parties:
        parties.add("assisting")
    return parties


def can_see(*, session: Session, complaint: Complaint, actor: Actor) -> bool:
    if actor.role in _STAFF_SEE_ALL:
        return True
    if actor.role == Role.HANDLER:
        return bool(handler_parties(session=session, complaint=complaint, department_id=actor.department_id))
    return False


def get_complaint(*, session: Session, complaint_id: int, actor: Actor) -> Complaint:
    """The complaint if the actor may see it; another department's case is "not found", not "forbidden"."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or not can_see(session=session, complaint=complaint, actor=actor):
        raise NotFound(f"投诉 {complaint_id} 不存在或无权查看 (complaint not found)", id=complaint_id)
    return complaint


def _visible_clause(actor: Actor) -> Any:
    if actor.role in _STAFF_SEE_ALL:
        return None
    if actor.role != Role.HANDLER or actor.department_id is None:
        return col(Complaint.id) == -1
    return _department_visible(actor.department_id)


def _department_visible(department_id: Any) -> Any:
    """A handler's department sees the cases it is assigned to and those of the departments it oversees;
    ``department_id`` is a value or a bound parameter."""
    assigned = select(ComplaintAssignment.complaint_id).where(
        ComplaintAssignment.department_id == department_id,
        col(ComplaintAssignment.active).is_(True),
    )
    supervised = select(Department.id).where(Department.competent_id == department_id)
    return or_(col(Complaint.id).in_(assigned), col(Complaint.lead_department_id).in_(supervised))


def list_complaints(
    *, session: Session, actor: Actor, filters: ComplaintFilter, today: dt.date
) -> tuple[list[Complaint], int | None]:
    """Newest first, ``filters.limit`` at a time; the cursor is the last id returned (None at the end)."""
    stmt = select(Complaint)
    visible = _visible_clause(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    for clause in _filter_clauses(session, filters, today):
        stmt = stmt.where(clause)
    if filters.after is not None:
        stmt = stmt.where(col(Complaint.id) < filters.after)
    rows = list(session.exec(stmt.order_by(col(Complaint.id).desc()).limit(filters.limit + 1)).all())
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return rows, (rows[-1].id if more and rows else None)


def _filter_clauses(session: Session, f: ComplaintFilter, today: dt.date) -> list[Any]:
    clauses: list[Any] = []
    if f.state is not None:
        clauses.append(col(Complaint.state) == f.state)
    if f.department_code:
        dept = _department_for_body(session, f.department_code, "department")
        involved = select(ComplaintAssignment.complaint_id).where(
            ComplaintAssignment.department_id == dept.id, col(ComplaintAssignment.active).is_(True)
        )
        clauses.append(
            or_(col(Complaint.id).in_(involved), col(Complaint.respondent_department_id) == dept.id)
        )
    if f.due_before is not None:
        clauses.append(col(Complaint.stage_deadline) <= f.due_before)
    if f.overdue is not None:
        late = (col(Complaint.stage_deadline) < today) & col(Complaint.state).in_(_clocked_states())
        clauses.append(late if f.overdue else ~late)
    if f.channel:
        clauses.append(col(Complaint.channel) == f.channel)
    if f.q:
        like = f"%{f.q.strip()}%"
        clauses.append(
            or_(
                col(Complaint.summary).like(like),
                col(Complaint.number).like(like),
                col(Complaint.complainant_name).like(like),
            )
        )
    return clauses


def _clocked_states() -> list[str]:
    """Open states whose deadline runs (a paused case is not overdue)."""
    return [s.name for s in COMPLAINT.states if not s.terminal and not s.clock_paused and s.deadline]


def timeline(*, session: Session, complaint: Complaint) -> list[CaseEventPublic]:
    rows = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == complaint.id)
        .order_by(col(CaseEvent.seq))
    ).all()
    return [CaseEventPublic.model_validate({**r.model_dump(), "label": event_label(r.event)}) for r in rows]


def available_actions(*, session: Session, complaint: Complaint, actor: Actor) -> list[Transition]:
    """What the actor may do now: the table's answer, narrowed to the handler's part in the case."""
    options = COMPLAINT.available(complaint.state, actor.role)
    if actor.role != Role.HANDLER:
        return options
    parties = handler_parties(session=session, complaint=complaint, department_id=actor.department_id)
    return [t for t in options if _HANDLER_PARTIES.get(t.event, frozenset()) & parties]


# ---------------------------------------------------------------------------------------------------------
# Actions


@dataclass
class _Ctx:
    session: Session
    case: Complaint
    actor: Actor
    today: dt.date
    calendar: WorkCalendar

    def fire(
        self, event: str, body: ActionBody, *, note: str | None = None, keep_stage: bool = False, **extra: Any
    ) -> CaseEvent:
        data = {k: v for k, v in extra.items() if k != "deadline_days"}
        result = apply_event(
            session=self.session,
            case=self.case,
            event=event,
            actor=self.actor,
            today=self.today,
            calendar=self.calendar,
            note=note or body.note,
            data=data,
            expected_version=body.expected_version,
            deadline_days=extra.get("deadline_days"),
            keep_stage=keep_stage,
        )
        assert result is not None, "human actions carry no idempotency key"
        return result


def act(
    *,
    session: Session,
    complaint_id: int,
    action: str,
    body: ActionBody,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> Complaint:
    """Take ``action`` on a complaint as ``actor``; the caller commits. Raises the domain errors."""
    complaint = get_complaint(session=session, complaint_id=complaint_id, actor=actor)
    COMPLAINT.fire(complaint.state, action, actor.role)
    if actor.role == Role.HANDLER:
        _check_handler_party(session, complaint, actor, action)
    expected = ACTION_BODIES.get(action, ActionBody)
    if not isinstance(body, expected):
        raise ValidationFailed(
            f"操作 {action} 的请求内容类型不正确 (body for '{action}' must be {expected.__name__})"
        )
    handler = _HANDLERS.get(action, _plain)
    handler(_Ctx(session, complaint, actor, today, calendar), action, body)
    session.flush()
    return complaint


def _check_handler_party(session: Session, complaint: Complaint, actor: Actor, action: str) -> None:
    parties = handler_parties(session=session, complaint=complaint, department_id=actor.department_id)
    needed = _HANDLER_PARTIES.get(action, frozenset())
    if not needed & parties:
        who = "主办部门" if needed == {_LEAD} else "认定部门（主办部门的主管部门）"
        raise NotPermitted(
            f"本部门不是该投诉的{who}，不能执行“{COMPLAINT.transition(action).label}” "
            f"(your department may not '{action}' this complaint)",
            event=action,
        )


def _plain(ctx: _Ctx, action: str, body: ActionBody) -> None:
    ctx.fire(action, body)


def _reject(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, RejectBody)
    event = ctx.fire(action, body, note=body.reason, reason=body.reason, route=str(body.route))
    _mail_complainant(
        ctx.session, ctx.case, event, "complaint_not_accepted", reason=body.reason, route=body.guidance()
    )


def _merge(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, MergeBody)
    target = ctx.session.exec(select(Complaint).where(Complaint.number == body.target_number.strip())).first()
    if target is None:
        raise ValidationFailed(f"并入的案件 {body.target_number} 不存在，请核对编号 (target not found)")
    if target.id == ctx.case.id or (target.id or 0) > (ctx.case.id or 0):
        raise ValidationFailed("只能并入更早登记的案件，请填写较早案件的编号 (merge into an earlier case)")
    if target.state in (CS.MERGED, CS.CLOSED, CS.NOT_ACCEPTED):
        raise ValidationFailed(
            f"案件 {target.number} 当前为“{state_label(target.state)}”，不能作为并单目标 (target is closed)"
        )
    ctx.fire(action, body, target_number=target.number, target_id=target.id)
    ctx.case.merged_into_id = target.id
    record_event(
        session=ctx.session,
        case=target,
        transition=None,
        from_state=target.state,
        to_state=target.state,
        actor=ctx.actor,
        at=dt.datetime.now(dt.UTC),
        note=body.note,
        data={"merged_number": ctx.case.number, "merged_id": ctx.case.id},
        idempotency_key=None,
        event="merged_in",
    )


def _dispatch(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, DispatchBody)
    lead = _department_for_body(ctx.session, body.lead_department_code, "lead_department_code")
    assisting = [
        _department_for_body(ctx.session, code, "assisting_department_codes")
        for code in dict.fromkeys(body.assisting_department_codes)
        if code != lead.code
    ]
    event = ctx.fire(action, body, lead=lead.code, assisting=[d.code for d in assisting])
    ctx.case.lead_department_id = lead.id
    ctx.case.dispatched_on = ctx.today
    _deactivate_assignments(ctx.session, ctx.case)
    for dept, is_lead in [(lead, True), *((d, False) for d in assisting)]:
        _assign(ctx.session, ctx.case, dept, lead=is_lead)
        spec = COMPLAINT.state(ctx.case.state)
        _mail_department(
            ctx.session,
            ctx.case,
            event,
            "complaint_dispatched",
            dept,
            summary=ctx.case.summary,
            category_label=CATEGORY_LABELS[ctx.case.category],
            deadline=_iso(ctx.case.stage_deadline),
            working_days=rule_days(spec.deadline) if spec.deadline else 0,
            role_label="主办" if is_lead else "协办",
        )


_ASSIGNMENTS = select(ComplaintAssignment).where(
    col(ComplaintAssignment.complaint_id) == bindparam("case_id")
)
_ASSIGNMENT = _ASSIGNMENTS.where(col(ComplaintAssignment.department_id) == bindparam("department_id"))


def _deactivate_assignments(session: Session, complaint: Complaint) -> None:
    rows = session.exec(_ASSIGNMENTS, params={"case_id": complaint.id})
    for row in rows:
        row.active = False
        session.add(row)


def _assign(session: Session, complaint: Complaint, dept: Department, *, lead: bool) -> None:
    assert complaint.id is not None
    assert dept.id is not None
    row = session.exec(_ASSIGNMENT, params={"case_id": complaint.id, "department_id": dept.id}).first()
    row = row or ComplaintAssignment(complaint_id=complaint.id, department_id=dept.id)
    row.lead, row.active = lead, True
    session.add(row)


def _return_order(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    window = get_settings().return_window_working_days
    dispatched = ctx.case.dispatched_on or ctx.today
    elapsed = ctx.calendar.working_days_between(dispatched, ctx.today)
    if elapsed > window:
        last = ctx.calendar.add_working_days(dispatched, window)
        what = f"已超过退单时限：{window} 个工作日内（截至 {last.isoformat()}）可退单"
        raise ValidationFailed(
            f"{what}，现已过 {elapsed} 个工作日；请签收办理，或联系督办人员改派 (return window has passed)",
            dispatched_on=dispatched.isoformat(),
            last_day=last.isoformat(),
        )
    lead = ctx.case.lead_department_id
    ctx.fire(action, body, note=body.reason, reason=body.reason, returned_by_department_id=lead)
    _deactivate_assignments(ctx.session, ctx.case)
    ctx.case.lead_department_id = None


def _rectification_days(ctx: _Ctx, override: int | None) -> int:
    if override is not None:
        return override
    rule = ctx.session.get(CategoryRule, ctx.case.category)
    return rule.rectification_working_days if rule else get_settings().rectification_working_days


def _order_rectification(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, OrderRectificationBody)
    days = _rectification_days(ctx, body.deadline_days)
    ctx.fire(action, body, note=body.requirements, deadline_days=days, working_days=days)


def _report_rectification(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReportRectificationBody)
    ctx.fire(action, body, note=body.evidence, attachments=body.attachments)
    ctx.case.attachments = [*ctx.case.attachments, *body.attachments]


def _review(ctx: _Ctx, action: str, body: ActionBody) -> None:
    accepted = action == "accept_rectification"
    reason = getattr(body, "reason", None) or ""
    days = None if accepted else _rectification_days(ctx, None)
    event = ctx.fire(action, body, note=reason or None, deadline_days=days, accepted=accepted)
    dept = _lead_department(ctx.session, ctx.case)
    if dept is not None:
        _mail_department(
            ctx.session, ctx.case, event, "rectification_review", dept, accepted=accepted, reason=reason
        )


def _confirm_breach(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ConfirmBreachBody)
    record = record_breach(
        session=ctx.session,
        complaint=ctx.case,
        reason=body.reason,
        severity=body.severity,
        actor=ctx.actor,
        today=ctx.today,
    )
    ctx.fire(
        action,
        body,
        note=body.reason,
        department_id=ctx.case.lead_department_id,
        credit_record_id=record.id,
        severity=str(body.severity),
    )
    ctx.case.breach_confirmed = True


def _reply(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReplyBody)
    event = ctx.fire(action, body, note=body.reply_text)
    dept = _lead_department(ctx.session, ctx.case)
    name = dept.name if dept else "守信平台"
    _mail_complainant(
        ctx.session, ctx.case, event, "complaint_replied", reply_text=body.reply_text, department_name=name
    )
    _mail_complainant(ctx.session, ctx.case, event, "complaint_return_visit")


def _close(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, CloseBody)
    ctx.fire(action, body, satisfaction=body.satisfaction)
    ctx.case.satisfaction = body.satisfaction
    ctx.case.closed_at = dt.datetime.now(dt.UTC)


def _redo(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    ctx.fire(action, body, note=body.reason, satisfaction="不满意", redo=ctx.case.redo_count + 1)
    ctx.case.redo_count += 1
    ctx.case.satisfaction = "不满意"


def _await(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    paused_from = str(ctx.case.state)
    ctx.fire(action, body, note=body.reason, keep_stage=True, paused_from=paused_from)
    ctx.case.paused_from_state = paused_from
    ctx.case.paused_on = ctx.today


def _resume(ctx: _Ctx, action: str, body: ActionBody) -> None:
    case = ctx.case
    paused_on = case.paused_on or ctx.today
    paused_days = max(ctx.calendar.working_days_between(paused_on, ctx.today), 0)
    old = case.stage_deadline
    new = ctx.calendar.add_working_days(old, paused_days) if old else None
    ctx.fire(
        action,
        body,
        keep_stage=True,
        paused_working_days=paused_days,
        old_deadline=_iso(old),
        new_deadline=_iso(new),
    )
    case.stage_deadline = new
    case.paused_from_state = None
    case.paused_on = None


def _reopen(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    ctx.fire(action, body, note=body.reason)
    ctx.case.closed_at = None


def _request_extension(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ExtensionRequestBody)
    limit = get_settings().extension_max_working_days
    case = ctx.case
    if body.days > limit:
        raise ValidationFailed(f"延期最多 {limit} 个工作日，请减少申请天数 (at most {limit} working days)")
    if case.extension_used or case.extension_requested_days is not None:
        raise ValidationFailed("本环节已申请过延期，每个环节只能申请一次 (one extension request per stage)")
    if case.stage_deadline is not None and ctx.today > case.stage_deadline:
        raise ValidationFailed(
            f"办理期限 {case.stage_deadline.isoformat()} 已过，延期须在期限届满前申请 "
            "(request before the deadline)"
        )
    ctx.fire(action, body, note=body.reason, days=body.days)
    case.extension_requested_days = body.days


def _decide_extension(ctx: _Ctx, action: str, body: ActionBody) -> None:
    case = ctx.case
    if case.extension_requested_days is None or case.extension_used:
        raise ValidationFailed("本环节没有待审批的延期申请 (no pending extension request)")
    approved = action == "approve_extension"
    days = case.extension_requested_days
    reason = getattr(body, "reason", None) or ""
    new_deadline = case.stage_deadline
    if approved and case.stage_deadline is not None:
        new_deadline = ctx.calendar.add_working_days(case.stage_deadline, days)
    event = ctx.fire(action, body, note=reason or None, days=days, new_deadline=_iso(new_deadline))
    case.extension_used = True
    case.stage_deadline = new_deadline
    dept = _lead_department(ctx.session, case)
    if dept is not None:
        _mail_department(
            ctx.session,
            case,
            event,
            "extension_decision",
            dept,
            approved=approved,
            days=days,
            new_deadline=_iso(new_deadline),
            reason=reason,
        )


def _manual_supervision(ctx: _Ctx, action: str, body: ActionBody) -> None:
    overdue = _overdue_days(ctx.case, ctx.today, ctx.calendar)
    event = ctx.fire(action, body, overdue_working_days=overdue, manual=True)
    _after_supervision_step(ctx.session, ctx.case, event, action, overdue)


_HANDLERS: dict[str, Callable[[_Ctx, str, ActionBody], None]] = {
    "reject": _reject,
    "merge": _merge,
    "dispatch": _dispatch,
    "return_order": _return_order,
    "order_rectification": _order_rectification,
    "report_rectification": _report_rectification,
    "accept_rectification": _review,
    "send_back": _review,
    "confirm_breach": _confirm_breach,
    "reply": _reply,
    "close": _close,
    "redo": _redo,
    "await_complainant": _await,
    "resume": _resume,
    "reopen": _reopen,
    "request_extension": _request_extension,
    "approve_extension": _decide_extension,
    "refuse_extension": _decide_extension,
    "remind": _manual_supervision,
    "supervise": _manual_supervision,
    "escalate": _manual_supervision,
}


# ---------------------------------------------------------------------------------------------------------
# Work queue and public tracking


class TaskItem(BaseModel):
    id: int
    number: str
    state: str
    state_label: str
    summary: str
    stage_deadline: dt.date | None
    working_days_left: int | None = Field(description="剩余工作日（负数为已超期；暂停计时为空）")
    paused: bool
    actions: list[str]


def work_queue(
    *, session: Session, actor: Actor, today: dt.date, calendar: WorkCalendar, limit: int = 500
) -> list[TaskItem]:
    """Open cases waiting on the actor's role (and, for handlers, on their department), soonest first.

    One statement, built once per role and reused with bound parameters (building and keying it cost more
    than running it): the rows come back as plain tuples with the handler's part in each case (lead,
    verifier, assisting) computed in SQL, and the available actions are worked out from the lifecycle
    table once per (state, part) rather than with further queries per case (the busiest read of the API).
    """
    handler = actor.role == Role.HANDLER
    if actor.role not in _STAFF_SEE_ALL and not (handler and actor.department_id is not None):
        return []  # nobody else sees complaints (``_visible_clause``)
    stmt = _queue_statement(actor.role)
    if stmt is None:
        return []
    params: dict[str, Any] = {"limit": limit}
    if handler:
        params["department_id"] = actor.department_id
    actions_for: dict[tuple[str, frozenset[str]], list[str]] = {}
    days_left: dict[dt.date, int] = {}
    items: list[TaskItem] = []
    for row in session.connection().execute(stmt, params).all():
        case_id, number, state, summary, deadline = row[:5]
        parties = _parties(*row[5:]) if handler else frozenset()
        key = (str(state), parties)
        if key not in actions_for:
            actions_for[key] = _queue_actions(key[0], actor.role, parties)
        actions = actions_for[key]
        if not actions:
            continue
        paused = COMPLAINT.state(state).clock_paused
        left = None
        if deadline is not None and not paused:
            if deadline not in days_left:
                days_left[deadline] = calendar.working_days_between(today, deadline)
            left = days_left[deadline]
        items.append(
            TaskItem(
                id=case_id,
                number=number,
                state=state,
                state_label=state_label(state),
                summary=summary,
                stage_deadline=deadline,
                working_days_left=left,
                paused=paused,
                actions=actions,
            )
        )
    return items


@cache
def _queue_statement(role: Role) -> Any:
    """The work-queue query of ``role`` with bound ``limit`` (and ``department_id`` for handlers); None
    when no open state waits on the role."""
    states = [s.name for s in COMPLAINT.states if role in s.waiting_on and not s.terminal]
    if not states:
        return None
    columns: list[Any] = [
        col(Complaint.id),
        col(Complaint.number),
        col(Complaint.state),
        col(Complaint.summary),
        col(Complaint.stage_deadline),
    ]
    # The states as ordinary bound values: a plain list is an "expanding" parameter, re-rendered into the
    # SQL string on every execution, a twentieth of a queue read's CPU.
    state_column: Any = col(Complaint.state)
    stmt_where: list[Any] = [state_column.in_([literal(s, state_column.type) for s in states])]
    lead_department = aliased(Department)
    if role == Role.HANDLER:
        department_id: Any = bindparam("department_id")
        lead = col(Complaint.lead_department_id)
        assigned = (
            select(ComplaintAssignment.id)
            .where(
                ComplaintAssignment.complaint_id == Complaint.id,
                ComplaintAssignment.department_id == department_id,
                col(ComplaintAssignment.active).is_(True),
            )
            .exists()
        )
        columns += [
            lead == department_id,
            lead.is_not(None) & (func.coalesce(lead_department.competent_id, lead) == department_id),
            assigned,
        ]
        stmt_where.append(_department_visible(department_id))
    stmt = select(*columns).where(*stmt_where)
    if role == Role.HANDLER:
        stmt = stmt.outerjoin(lead_department, lead_department.id == Complaint.lead_department_id)
    return stmt.order_by(
        col(Complaint.stage_deadline).is_(None), col(Complaint.stage_deadline), col(Complaint.id)
    ).limit(bindparam("limit"))


def _parties(is_lead: bool, is_verifier: bool, is_assigned: bool) -> frozenset[str]:
    """``handler_parties`` from the flags the work-queue query computed."""
    parties = {name for name, flag in ((_LEAD, is_lead), (_VERIFIER, is_verifier)) if flag}
    if is_assigned and not parties:
        parties.add("assisting")
    return frozenset(parties)


def _queue_actions(state: str, role: Role, parties: frozenset[str]) -> list[str]:
    """``available_actions`` for a case in ``state`` where a handler's department has ``parties``."""
    options = COMPLAINT.available(state, role)
    if role == Role.HANDLER:
        options = [t for t in options if _HANDLER_PARTIES.get(t.event, frozenset()) & parties]
    return [t.event for t in options]


class TrackingStep(BaseModel):
    label: str
    date: dt.date


class TrackingResult(BaseModel):
    number: str
    state_label: str
    registered_on: dt.date
    stage_deadline: dt.date | None
    steps: list[TrackingStep]


def track(
    *, session: Session, number: str, password: str, clock: Clock, address: str | None = None
) -> TrackingResult:
    """Stages and dates of a case for its complainant; names and contacts are never part of it.

    Wrong passwords are counted per case number and per client ``address`` (models/ratelimit.py)."""
    now = clock.now()
    check_tracking_allowed(session=session, number=number, address=address, now=now)
    complaint = session.exec(select(Complaint).where(Complaint.number == number.strip().upper())).first()
    stored = complaint.tracking_password_hash if complaint else None
    if complaint is None or not verify_tracking_password(password, stored):
        record_tracking_failure(session=session, number=number, address=address, now=now)
        session.commit()
        raise NotFound(_NOT_FOUND)
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == complaint.id)
        .order_by(col(CaseEvent.seq))
    ).all()
    steps = [
        TrackingStep(label=event_label(e.event), date=clock.local_date(e.at))
        for e in events
        if e.event not in _NOT_PUBLIC_EVENTS
    ]
    # A paused stage's deadline moves when the case resumes, and a finished case has none: show neither.
    spec = COMPLAINT.state(complaint.state)
    return TrackingResult(
        number=complaint.number,
        state_label=state_label(complaint.state),
        registered_on=clock.local_date(complaint.created_at),
        stage_deadline=None if spec.terminal or spec.clock_paused else complaint.stage_deadline,
        steps=steps,
    )


# ---------------------------------------------------------------------------------------------------------
# Screening (flow screen_intake)

SIMILAR_SUMMARY_RATIO = 0.6


def unscreened_ids(*, session: Session) -> list[int]:
    sources = COMPLAINT.transition("suggest").sources
    stmt = select(Complaint.id).where(col(Complaint.screened).is_(False), col(Complaint.state).in_(sources))
    return [i for i in session.exec(stmt.order_by(col(Complaint.id))).all() if i is not None]


def _duplicates(session: Session, case: Complaint) -> list[dict[str, Any]]:
    same_person = [
        clause
        for value, column in (
            (case.complainant_phone, Complaint.complainant_phone),
            (case.complainant_email, Complaint.complainant_email),
            (case.complainant_credit_code, Complaint.complainant_credit_code),
        )
        if value
        for clause in [col(column) == value]
    ]
    same_respondent = [
        col(c) == v
        for v, c in ((case.respondent_department_id, Complaint.respondent_department_id),)
        if v is not None
    ]
    if case.respondent_name:
        same_respondent.append(col(Complaint.respondent_name) == case.respondent_name)
    if not same_person and not same_respondent:
        return []
    open_states = COMPLAINT.open_states()
    stmt = select(Complaint).where(
        col(Complaint.id) != case.id,
        col(Complaint.state).in_(open_states),
        or_(*same_person, *same_respondent),
    )
    found: list[dict[str, Any]] = []
    for other in session.exec(stmt.order_by(col(Complaint.id))).all():
        ratio = round(difflib.SequenceMatcher(None, case.summary, other.summary).ratio(), 2)
        person = _same_person(case, other)
        if person or ratio >= SIMILAR_SUMMARY_RATIO:
            reason = "同一投诉人" if person else "同一被投诉单位且诉求相似"
            found.append({"id": other.id, "number": other.number, "reason": reason, "similarity": ratio})
    return found


def _same_person(a: Complaint, b: Complaint) -> bool:
    pairs = (
        (a.complainant_phone, b.complainant_phone),
        (a.complainant_email, b.complainant_email),
        (a.complainant_credit_code, b.complainant_credit_code),
    )
    return any(x is not None and x == y for x, y in pairs)


def _suggested_department(session: Session, case: Complaint) -> dict[str, Any] | None:
    rule = session.get(CategoryRule, case.category)
    text = f"{case.summary}\n{case.description}"
    if rule is not None and rule.department_id is not None:
        hits = [k for k in rule.keywords if k and k in text]
        if hits or not rule.keywords:
            dept = session.get(Department, rule.department_id)
            if dept is not None:
                why = f"派单目录：{CATEGORY_LABELS[case.category]}" + (
                    f"，关键词 {'、'.join(hits)}" if hits else ""
                )
                return {"code": dept.code, "name": dept.name, "reason": why}
    if case.respondent_department_id is not None:
        dept = session.get(Department, case.respondent_department_id)
        if dept is not None:
            return {"code": dept.code, "name": dept.name, "reason": "被投诉单位"}
    return None


def screen_batch(*, session: Session, ids: Sequence[int], actor: Actor, today: dt.date) -> int:
    """Record duplicate and department suggestions on each unscreened case; returns how many were screened.

    Suggestions only: nothing is merged or dispatched. Each case commits on its own.
    """
    done = 0
    for complaint_id in ids:
        case = session.get(Complaint, complaint_id)
        if case is None or case.screened or case.state not in COMPLAINT.transition("suggest").sources:
            continue
        suggestions = {
            "duplicates": _duplicates(session, case),
            "department": _suggested_department(session, case),
        }
        try:
            apply_event(
                session=session,
                case=case,
                event="suggest",
                actor=actor,
                today=today,
                data=suggestions,
                idempotency_key=f"complaint:{complaint_id}:suggest",
            )
            case.suggestions = suggestions
            case.screened = True
            session.commit()
            done += 1
        except (Conflict, IntegrityError):
            # Someone acted on the case meanwhile; the next run screens it again.
            session.rollback()
    return done


# ---------------------------------------------------------------------------------------------------------
# Supervision (flow supervise_deadlines)

_LEVELS = {"remind": 1, "supervise": 2, "escalate": 3}


def supervision_ids(*, session: Session) -> list[int]:
    """Cases in a state the table lets the flow warn about, with a running deadline."""
    states = COMPLAINT.transition("warn_yellow").sources
    stmt = select(Complaint.id).where(
        col(Complaint.state).in_(states), col(Complaint.stage_deadline).is_not(None)
    )
    return [i for i in session.exec(stmt.order_by(col(Complaint.id))).all() if i is not None]


def _overdue_days(case: Complaint, today: dt.date, calendar: WorkCalendar) -> int:
    if case.stage_deadline is None or today <= case.stage_deadline:
        return 0
    return calendar.working_days_between(case.stage_deadline, today)


def _due_steps(case: Complaint, today: dt.date, calendar: WorkCalendar) -> list[str]:
    """A complaint's stage has every step: after 催办 come 督办 and 提级办理 (models/deadlines.py)."""
    settings = get_settings()
    return due_steps(
        deadline=case.stage_deadline,
        today=today,
        calendar=calendar,
        supervise_after=settings.supervise_after_overdue_days,
        escalate_after=settings.escalate_after_overdue_days,
    )


def supervise_batch(
    *, session: Session, ids: Sequence[int], actor: Actor, today: dt.date, calendar: WorkCalendar
) -> int:
    """Apply every due warning and supervision step once; returns the number of steps applied.

    On a non-working day nothing new is due (a Sunday run adds nothing a working day would not).
    Each case commits on its own; a case another run or person changed meanwhile is left for the next run.
    """
    return supervise_each(
        session=session,
        model=Complaint,
        ids=ids,
        states=COMPLAINT.transition("warn_yellow").sources,
        today=today,
        calendar=calendar,
        supervise=lambda case: _supervise_case(session, case, actor, today, calendar),
    )


def _supervise_case(
    session: Session, case: Complaint, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> int:
    applied = 0
    overdue = _overdue_days(case, today, calendar)
    for step in _due_steps(case, today, calendar):
        event_name = step_event(step)
        deadline = _iso(case.stage_deadline)
        event = apply_event(
            session=session,
            case=case,
            event=event_name,
            actor=actor,
            today=today,
            data={"deadline": deadline, "overdue_working_days": overdue},
            idempotency_key=f"complaint:{case.id}:stage{case.stage_seq}:{step}",
        )
        if event is None:
            continue
        applied += 1
        if step in ("yellow", "red"):
            case.warning_level = step
            left = calendar.working_days_between(today, case.stage_deadline) if case.stage_deadline else 0
            for kind, name, email, key in _responsible(session, case):
                _enqueue(
                    session,
                    case,
                    event,
                    "deadline_warning",
                    kind,
                    name,
                    email,
                    key,
                    department_name=name if kind == "department" else _responsible_label(session, case),
                    stage_label=_stage_label(case),
                    deadline=deadline,
                    level=step,
                    working_days_left=left,
                )
        else:
            _after_supervision_step(session, case, event, step, overdue)
    return applied


def _after_supervision_step(
    session: Session, case: Complaint, event: CaseEvent, step: str, overdue: int
) -> None:
    case.escalation_level = max(case.escalation_level, _LEVELS[step])
    context = {
        "stage_label": _stage_label(case),
        "deadline": _iso(case.stage_deadline),
        "overdue_working_days": overdue,
        "step": step,
    }
    recipients = _responsible(session, case)
    if step == "escalate":
        competent = _competent_of(session, case.lead_department_id)
        if competent is not None:
            case.escalated_to_department_id = competent
            dept = session.get(Department, competent)
            if dept is not None:
                recipients = [*recipients, ("department", dept.name, dept.email, f"dept{dept.id}")]
    for kind, name, email, key in recipients:
        _enqueue(
            session,
            case,
            event,
            "supervision_notice",
            kind,
            name,
            email,
            key,
            department_name=name,
            **context,
        )
    if step in ("supervise", "escalate"):
        label = _responsible_label(session, case)
        for kind, name, email, key in _supervisors(session):
            alert = {k: v for k, v in context.items() if k != "deadline"}
            _enqueue(
                session,
                case,
                event,
                "escalation_alert",
                kind,
                name,
                email,
                key,
                department_name=label,
                **alert,
            )


def _stage_label(case: Complaint) -> str:
    spec = COMPLAINT.state(case.state)
    return spec.deadline.label if spec.deadline else spec.label


def _responsible(session: Session, case: Complaint) -> list[tuple[str, str, str | None, str]]:
    """Who must act on the current stage: the lead department when handlers are awaited, else supervisors."""
    spec = COMPLAINT.state(case.state)
    dept = _lead_department(session, case)
    if Role.HANDLER in spec.waiting_on and dept is not None:
        return [("department", dept.name, dept.email, f"dept{dept.id}")]
    return _supervisors(session)


def _responsible_label(session: Session, case: Complaint) -> str:
    spec = COMPLAINT.state(case.state)
    dept = _lead_department(session, case)
    if Role.HANDLER in spec.waiting_on and dept is not None:
        return dept.name
    return "受理及督办人员"


def _supervisors(session: Session) -> list[tuple[str, str, str | None, str]]:
    return [("supervisor", u.name, u.email, f"user{u.id}") for u in active_supervisors(session=session)]


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# Registrations and dispatches look departments up by code: the statement is built once.
_DEPARTMENT_BY_CODE = select(Department).where(col(Department.code) == bindparam("code"))


def _department_for_body(session: Session, code: str, field: str) -> Department:
    dept = session.exec(_DEPARTMENT_BY_CODE, params={"code": code.strip()}).first()
    if dept is None or not dept.active:
        raise ValidationFailed(
            f"部门代码 {code} 不存在或已停用，请核对部门代码 (unknown department '{code}')", field=field
        )
    return dept


def _lead_department(session: Session, case: Complaint) -> Department | None:
    return session.get(Department, case.lead_department_id) if case.lead_department_id else None


def _enqueue(
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


def _mail_complainant(
    session: Session, case: Complaint, event: CaseEvent, template: str, **context: Any
) -> None:
    _enqueue(
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


def _mail_department(
    session: Session, case: Complaint, event: CaseEvent, template: str, dept: Department, **context: Any
) -> None:
    _enqueue(
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
