"""The staff actions on a complaint (``act``): the table says whether an action may be taken and by whom;
each handler here adds what the table cannot say: the body it takes, which department may act, and its
side effects (assignments, deadlines, mails). The caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from models.attachments import check_attachments
from models.calendar import WorkCalendar
from models.clock import iso_date
from models.complaint import CATEGORY_LABELS, CategoryRule, Complaint, ComplaintAssignment, merged_into
from models.complaints.assisting import give_opinion
from models.complaints.bodies import (
    ACTION_BODIES,
    ActionBody,
    ConfirmBreachBody,
    DispatchBody,
    ExplanationBody,
    ExtensionRequestBody,
    OrderRectificationBody,
    ReasonBody,
    RejectBody,
    ReportRectificationBody,
)
from models.complaints.closing import close_unreachable, close_unsatisfied, record_contact_attempt
from models.complaints.context import ActionContext as _Ctx
from models.complaints.merging import merge, reply
from models.complaints.notify import mail_complainant, mail_department
from models.complaints.preconditions import require
from models.complaints.refusal import order_explanation, record_refusal, submit_explanation
from models.complaints.return_visit import close, redo
from models.complaints.supervision import (
    after_supervision_step,
    awaited_data,
    overdue_count_complete,
    overdue_days,
)
from models.complaints.visibility import (
    ASSISTING,
    HANDLER_PARTIES,
    LEAD,
    department_by_code,
    get_complaint,
    handler_parties,
    lead_department,
    state_label,
)
from models.complaints.withdrawal import back_to_review, withdraw
from models.errors import NotPermitted, ValidationFailed
from models.files import Upload, check_uploads
from models.files import attach as attach_files
from models.files import save as save_files
from models.government_credit import record_breach
from models.lifecycle import COMPLAINT, ComplaintState, Role
from models.org import Department, competent_of
from models.settings import get_settings
from models.stage_deadline import PENDING_LABEL, apply_values, extended_values, resumed_values
from models.workflow import Actor, rule_days

# Actions that take uploaded files with their body.
FILE_ACTIONS = frozenset({"report_rectification"})


def act(
    *,
    session: Session,
    complaint_id: int,
    action: str,
    body: ActionBody,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    files: Sequence[Upload] = (),
) -> Complaint:
    """Take ``action`` on a complaint as ``actor``; the caller commits. Raises the domain errors.
    ``files``: uploaded with a rectification report (the only action that takes files)."""
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
    if files and action not in FILE_ACTIONS:
        raise ValidationFailed(
            f"操作“{COMPLAINT.transition(action).label}”不接受上传文件；文件随整改情况报告提交 "
            f"(action '{action}' takes no files)"
        )
    # Checked once, here, by the rule the pages use to leave the action out (preconditions.py).
    grounds = require(session=session, case=complaint, action=action, today=today, calendar=calendar)
    handler(_Ctx(session, complaint, actor, today, calendar, tuple(files), grounds), action, body)
    session.flush()
    return complaint


def _check_handler_party(session: Session, complaint: Complaint, actor: Actor, action: str) -> None:
    parties = handler_parties(session=session, complaint=complaint, department_id=actor.department_id)
    needed = HANDLER_PARTIES.get(action, frozenset())
    if not needed & parties:
        who = {frozenset({LEAD}): "主办部门", frozenset({ASSISTING}): "协办部门"}.get(
            needed, "认定部门（主办部门的主管部门）"
        )
        raise NotPermitted(
            f"本部门不是该投诉的{who}，不能执行“{COMPLAINT.transition(action).label}” "
            f"(your department may not '{action}' this complaint)",
            event=action,
        )


def _plain(ctx: _Ctx, action: str, body: ActionBody) -> None:
    ctx.fire(action, body)


def _reject(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, RejectBody)
    # The clerk's own wording of an "other" route is kept too: the tracking page shows the route.
    event = ctx.fire(
        action,
        body,
        note=body.reason,
        reason=body.reason,
        route=str(body.route),
        route_detail=body.route_detail,
    )
    # Complaints merged into this one (at intake, before it was reviewed) share its fate: their
    # complainants are told it is not accepted, why and where to go, under their own number, as ``_reply``
    # gives them the reply (RULEBOOK complaints §3: feedback to every complainant).
    assert ctx.case.id is not None
    for case in [ctx.case, *merged_into(ctx.session, ctx.case.id)]:
        mail_complainant(
            ctx.session, case, event, "complaint_not_accepted", reason=body.reason, route=body.guidance()
        )


def _sign_for(ctx: _Ctx, action: str, body: ActionBody) -> None:
    """Signed for: the verifier (the lead's 主管部门) must now verify, within the 核实 deadline; tell it."""
    event = ctx.fire(action, body)
    lead = lead_department(ctx.session, ctx.case)
    competent_id = competent_of(ctx.session, ctx.case.lead_department_id)
    verifier = ctx.session.get(Department, competent_id) if competent_id else None
    if lead is None or verifier is None:
        return  # no 主管部门: the lead verifies itself and knows it from the dispatch mail
    spec = COMPLAINT.state(ctx.case.state)
    mail_department(
        ctx.session,
        ctx.case,
        event,
        "complaint_verify_request",
        verifier,
        lead_department_name=lead.name,
        summary=ctx.case.summary,
        deadline=iso_date(ctx.case.stage_deadline),
        working_days=rule_days(spec.deadline) if spec.deadline else 0,
    )


def _dispatch(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, DispatchBody)
    lead = department_by_code(ctx.session, body.lead_department_code, "lead_department_code")
    assisting = [
        department_by_code(ctx.session, code, "assisting_department_codes")
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
        mail_department(
            ctx.session,
            ctx.case,
            event,
            "complaint_dispatched",
            dept,
            summary=ctx.case.summary,
            category_label=CATEGORY_LABELS[ctx.case.category],
            # The deadline of the stage the case is now in (签收), not of the whole handling (办结).
            stage_label=spec.deadline.label if spec.deadline else spec.label,
            deadline=iso_date(ctx.case.stage_deadline),
            working_days=rule_days(spec.deadline) if spec.deadline else 0,
            role_label="主办" if is_lead else "协办",
            lead_department_name=None if is_lead else lead.name,
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
    assert isinstance(body, ReasonBody)  # within the window: preconditions.return_window_open held
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
    event = ctx.fire(action, body, note=body.requirements, deadline_days=days, working_days=days)
    # The lead department rectifies: it learns what and by when from this order, as it learns each other
    # stage it owes (dispatch, redo, the breach order) by mail.
    dept = lead_department(ctx.session, ctx.case)
    if dept is not None:
        mail_department(
            ctx.session,
            ctx.case,
            event,
            "rectification_ordered",
            dept,
            summary=ctx.case.summary,
            requirements=body.requirements,
            deadline=iso_date(ctx.case.stage_deadline),  # None: 待日历确定 until the year is loaded
            working_days=days,
        )


def _report_rectification(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReportRectificationBody)
    check_attachments(existing=ctx.case.attachments, added=body.attachments)
    stored = check_uploads(ctx.files)  # all checked before the event, and before the first is written
    audit: dict[str, Any] = {"files": [f.audit() for f in stored]} if stored else {}
    event = ctx.fire(action, body, note=body.evidence, attachments=body.attachments, **audit)
    ctx.case.attachments = [*ctx.case.attachments, *body.attachments]
    if stored:
        assert ctx.case.id is not None
        save_files(ctx.files, stored)
        attach_files(session=ctx.session, case_kind="complaint", case_id=ctx.case.id, kind="rectification",
                     event_seq=event.seq, files=stored, uploaded_by=ctx.actor.name)  # fmt: skip


def _review(ctx: _Ctx, action: str, body: ActionBody) -> None:
    accepted = action == "accept_rectification"
    reason = getattr(body, "reason", None) or ""
    days = None if accepted else _rectification_days(ctx, None)
    event = ctx.fire(action, body, note=reason or None, deadline_days=days, accepted=accepted)
    dept = lead_department(ctx.session, ctx.case)
    if dept is not None:
        # Sent back: the new rectification period; accepted: the reply the lead now owes the complainant
        # (答复). Either way the stage the case is now in, with its deadline (None: 待日历确定).
        mail_department(
            ctx.session,
            ctx.case,
            event,
            "rectification_review",
            dept,
            accepted=accepted,
            reason=reason,
            **_stage_due(ctx, days),
        )


def _verify_untrue(ctx: _Ctx, action: str, body: ActionBody) -> None:
    """Found not true: the complainant is owed a reply (答复) within the stage's deadline. The lead replies
    (HANDLER_PARTIES), yet the finding may be its 主管部门's: tell the lead what is due and by when."""
    event = ctx.fire(action, body)
    dept = lead_department(ctx.session, ctx.case)
    if dept is not None:
        assert isinstance(body, ExplanationBody)
        mail_department(
            ctx.session,
            ctx.case,
            event,
            "complaint_reply_due",
            dept,
            summary=ctx.case.summary,
            finding=COMPLAINT.transition(action).label,
            explanation=body.explanation,
            **_stage_due(ctx),
        )


def _stage_due(ctx: _Ctx, days: int | None = None) -> dict[str, Any]:
    """The deadline of the stage the case is now in, for a mail: ISO date (None while pending, which the
    templates print as 待日历确定) and its working days (``days``: the period the event gave the stage)."""
    spec = COMPLAINT.state(ctx.case.state)
    return {
        "deadline": iso_date(ctx.case.stage_deadline),
        "working_days": rule_days(spec.deadline, override=days) if spec.deadline else 0,
    }


def _confirm_breach(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ConfirmBreachBody)
    record, published = record_breach(
        session=ctx.session,
        complaint=ctx.case,
        reason=body.reason,
        severity=body.severity,
        actor=ctx.actor,
        today=ctx.today,
        public_text=body.public_text,
    )
    event = ctx.fire(
        action,
        body,
        note=body.reason,
        department_id=ctx.case.lead_department_id,
        credit_record_id=record.id,
        breach_record_number=published.number if published else None,
        severity=str(body.severity),
        **ctx.grounds,
    )
    ctx.case.breach_confirmed = True
    order_explanation(ctx, event, reason=body.reason, severity=body.severity)


def _await(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    paused_from = str(ctx.case.state)
    # The reason is what the complainant must supply: kept in the event's data, as a rejection's is, for
    # the tracking page to show while the case waits (a staff note never is).
    event = ctx.fire(
        action, body, note=body.reason, keep_stage=True, paused_from=paused_from, reason=body.reason
    )
    ctx.case.paused_from_state = paused_from
    ctx.case.paused_on = ctx.today
    # Only this case's own complainant is asked: those merged into it (并单) are not, and are not told.
    mail_complainant(ctx.session, ctx.case, event, "complaint_awaiting_supplement", reason=body.reason)


def _resume(ctx: _Ctx, action: str, body: ActionBody) -> None:
    case = ctx.case
    paused_on = case.paused_on or ctx.today
    # Event data, as ``new_deadline``: the ISO day (the hotline and staff history read it), not page text.
    old = PENDING_LABEL if case.deadline_pending else iso_date(case.stage_deadline)
    moved, paused_days = resumed_values(ctx.calendar, case, paused_on=paused_on, today=ctx.today)
    new = moved["stage_deadline"]
    ctx.fire(
        action,
        body,
        keep_stage=True,
        paused_working_days=paused_days,
        old_deadline=old,
        new_deadline=iso_date(new) or (PENDING_LABEL if moved["deadline_pending"] else None),
    )
    apply_values(case, moved)
    case.paused_from_state = None
    case.paused_on = None


def _reopen(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    event = ctx.fire(action, body, note=body.reason)
    ctx.case.closed_at = None
    # The rating was the answer to the visit that ended the handling now reopened: it no longer stands
    # (the scorecard would count an open case as rated). The closing event keeps it in the history.
    ctx.case.satisfaction = None
    back_to_review(ctx, event)  # withdrawn before its initial review: owed that review, not a dispatch
    # The complainant's case had ended (they may have asked for this, after a withdrawal not their own
    # wish): they learn it is handled again. Those merged into it hear from its new reply, which reaches
    # them too; the departments from the re-dispatch.
    mail_complainant(
        ctx.session,
        ctx.case,
        event,
        "complaint_reopened",
        reason=body.reason,
        ended_label=state_label(str(event.from_state)),
        to_review=ctx.case.state == ComplaintState.REGISTERED,
    )


def _request_extension(ctx: _Ctx, action: str, body: ActionBody) -> None:
    assert isinstance(body, ExtensionRequestBody)
    limit = get_settings().extension_max_working_days
    case = ctx.case
    # Once per stage and before the deadline: preconditions.extension_may_be_requested held.
    if body.days > limit:
        raise ValidationFailed(f"延期最多 {limit} 个工作日，请减少申请天数 (at most {limit} working days)")
    ctx.fire(action, body, note=body.reason, days=body.days)
    case.extension_requested_days = body.days


def _decide_extension(ctx: _Ctx, action: str, body: ActionBody) -> None:
    case = ctx.case  # with a request pending: preconditions.extension_to_decide held
    approved = action == "approve_extension"
    days = case.extension_requested_days
    assert days is not None, "extension_to_decide found a pending request"
    reason = getattr(body, "reason", None) or ""
    # A pending deadline (待日历确定) owes the extra days on top, computed when the year is loaded.
    moved = extended_values(ctx.calendar, case, days if approved else 0)
    new_deadline = iso_date(moved["stage_deadline"]) or (PENDING_LABEL if moved["deadline_pending"] else None)
    event = ctx.fire(action, body, note=reason or None, days=days, new_deadline=new_deadline)
    case.extension_used = True
    apply_values(case, moved)
    if approved:
        # The extended deadline gets its own warning ladder (supervision keys an extended stage apart):
        # the case is within its deadline again, neither yellow nor red, nothing chased.
        case.warning_level, case.escalation_level = None, 0
    else:
        case.extension_requested_days = None
    dept = lead_department(ctx.session, case)
    if dept is not None:
        mail_department(
            ctx.session,
            case,
            event,
            "extension_decision",
            dept,
            approved=approved,
            days=days,
            new_deadline=iso_date(moved["stage_deadline"]),
            reason=reason,
        )


def _manual_supervision(ctx: _Ctx, action: str, body: ActionBody) -> None:
    overdue = overdue_days(ctx.case, ctx.today, ctx.calendar)
    # Whose move was chased, as the flow's steps record it: the scorecard blames the lead for its own only.
    awaited = awaited_data(ctx.session, ctx.case)
    event = ctx.fire(action, body, overdue_working_days=overdue, manual=True, **awaited)
    partial = not overdue_count_complete(ctx.case, ctx.today, ctx.calendar)
    after_supervision_step(
        ctx.session, ctx.case, event, action, overdue, actor=ctx.actor, overdue_at_least=partial
    )


_HANDLERS: dict[str, Callable[[_Ctx, str, ActionBody], None]] = {
    "reject": _reject,
    "merge": merge,
    "dispatch": _dispatch,
    "sign_for": _sign_for,
    "return_order": _return_order,
    "order_rectification": _order_rectification,
    "report_rectification": _report_rectification,
    "verify_untrue": _verify_untrue,
    "accept_rectification": _review,
    "send_back": _review,
    "record_refusal": record_refusal,
    "confirm_breach": _confirm_breach,
    "submit_explanation": submit_explanation,
    "reply": reply,
    "close": close,
    "redo": redo,
    "close_unsatisfied": close_unsatisfied,
    "record_contact_attempt": record_contact_attempt,
    "close_unreachable": close_unreachable,
    "withdraw": withdraw,
    "await_complainant": _await,
    "resume": _resume,
    "reopen": _reopen,
    "assist_opinion": give_opinion,
    "request_extension": _request_extension,
    "approve_extension": _decide_extension,
    "refuse_extension": _decide_extension,
    "remind": _manual_supervision,
    "supervise": _manual_supervision,
    "escalate": _manual_supervision,
}
