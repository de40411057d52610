"""投诉人撤回 (``withdraw``): the complainant drops their complaint before it is verified, e.g. the arrears
were paid after they complained: intake staff or a supervisor record their call or written request, or the
complainant withdraws online (``withdraw_online``), proven as on the tracking page by the case number and
the tracking password, under the same limit on wrong passwords. Both are the one event with the one set of
checks; online the actor is the complainant (the public role: its only complaint event), the event keeps
the client address, and the mail says they withdrew it online themselves. A caller may also withdraw
through 12345, which forwards it as the order's 撤单 (``withdraw_for_order``), as the platform's account;
a refusal is then said for the caller (``order_withdrawal_refused``), not in the clerk's words.

The lifecycle table says from which stages (not once verified: the breach of a promise is then the credit
office's matter), and ``preconditions.withdrawal_allowed`` which pauses, and that a case verified before
(then redone or reopened) stays refused. The case ends 撤回办结: closed, no deadline running, no rating.
The complainant is told; the departments holding the case (dispatched to them, or signed for and being
verified) are told to stop; a 12345 order gets its closing (models/hotline.py). A case other complaints
were merged into is refused (``nothing_merged_in``): the withdrawal speaks for one complainant only. A
complaint merged into another (并单) leaves it, while that case is open and not verified
(``handling_case_open``): it no longer gets that case's reply and closing, which follow
``merged_into_id``, and the withdrawal holds that case's version so an action on it racing this one is
refused (409) rather than reaching the complainant after the ending.

Reopened (``reopen``, a supervisor), a complaint withdrawn before its initial review goes back to it
(``back_to_review``): nobody had accepted it, so 重启 owes it 受理/不予受理/并单, not a dispatch.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaint import Complaint, ComplaintAssignment
from models.complaints.bodies import ActionBody, WithdrawBody
from models.complaints.context import ActionContext
from models.complaints.merging import hold_unchanged
from models.complaints.notify import mail_complainant, mail_department
from models.complaints.preconditions import VERIFICATIONS, handling_case_open, nothing_merged_in, require
from models.complaints.tracking import WITHDRAWAL_CONFIRMATION as CONFIRMATION
from models.complaints.tracking import authenticate, online_withdrawal_refused
from models.errors import DomainError, TransitionNotAllowed, ValidationFailed
from models.lifecycle import COMPLAINT, ComplaintState, Role
from models.org import Department, competent_of
from models.text import Paragraph
from models.workflow import Actor, record_event

# The stages in which departments hold the case and must be told to stop: dispatched to them (签收 due),
# or signed for and being verified. Returned or reopened, nobody holds it.
_HELD = frozenset({ComplaintState.DISPATCHED, ComplaintState.SIGNED})

# Who withdraws online: the complainant, without an account, as WEBSITE_ACTOR registers online complaints.
ONLINE_ACTOR = Actor(name="投诉人（在线撤回）", role=Role.PUBLIC)


def _reason_field() -> Any:
    # The staff body's own field (its length bounds and text checks), so the two cannot drift apart; only
    # the description speaks to the complainant instead of the clerk.
    field = copy.copy(WithdrawBody.model_fields["reason"])
    field.description = "撤回理由（如欠款已支付），2 至 2000 字"
    return field


class OnlineWithdrawBody(BaseModel):
    """What the complainant sends to withdraw online: the reason, checked as the staff form checks it
    (trimmed first), and their explicit confirmation, since the case ends on it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Paragraph = _reason_field()
    confirmed: bool = Field(default=False, description=f"须为 true：{CONFIRMATION}")


def withdraw_online(
    *,
    session: Session,
    number: str,
    password: str,
    body: OnlineWithdrawBody,
    clock: Clock,
    calendar: WorkCalendar,
    address: str | None,
) -> Complaint:
    """The complainant withdraws their complaint: proven by ``authenticate`` (a wrong password counted and
    committed, as on /track), refused with the sentence /track shows (``online_withdrawal_refused``), else
    the staff withdrawal's every step, as ``ONLINE_ACTOR``. Flushed, not committed."""
    if not body.confirmed:
        # Before the password is checked: an unconfirmed request is no attempt at the password.
        raise ValidationFailed(f"请勾选“{CONFIRMATION}”后再提交 (confirm the withdrawal)", field="confirmed")
    complaint = authenticate(session=session, number=number, password=password, clock=clock, address=address)
    today = clock.today()
    refused = online_withdrawal_refused(session=session, complaint=complaint, today=today)
    if refused is not None:
        raise TransitionNotAllowed(refused, state=str(complaint.state))
    grounds = require(session=session, case=complaint, action="withdraw", today=today)
    ctx = ActionContext(session, complaint, ONLINE_ACTOR, today, calendar, grounds=grounds)
    _withdraw(ctx, "withdraw", WithdrawBody(reason=body.reason), address=address)
    session.flush()
    return complaint


def withdraw_for_order(
    *, session: Session, case: Complaint, reason: str, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> None:
    """The complainant withdraws through the 12345 platform (撤单, models/hotline_followups.py): the staff
    withdrawal's every check and step, as the platform's account (the table's ``withdraw`` row lists its
    role). Refused as the table and ``withdrawal_allowed`` refuse a clerk, with their reasons. Flushed, not
    committed."""
    COMPLAINT.fire(case.state, "withdraw", actor.role)
    grounds = require(session=session, case=case, action="withdraw", today=today, calendar=calendar)
    ctx = ActionContext(session, case, actor, today, calendar, grounds=grounds)
    _withdraw(ctx, "withdraw", WithdrawBody(reason=reason))
    session.flush()


# What the 12345 platform may do with the wish of a caller whose case may not be withdrawn: the case goes
# on, and a supplement reaches whoever it awaits, to be answered in the reply or at the return visit.
WITHDRAWAL_BY_SUPPLEMENT = (
    "来电人仍希望撤回的，可将其撤回意愿及理由作为补充材料（kind=supplement）推送至本工单，记入案件，"
    "由办理人员在答复或回访中一并回应"
)


def order_withdrawal_refused(
    *, session: Session, case: Complaint, handling: Complaint, refusal: DomainError
) -> str:
    """Why 12345's 撤单 of ``case`` (handled by ``handling``: itself, or the case it was merged into) was
    refused, in one sentence the platform's operator reads to the caller: why not now and what happens
    next. ``refusal`` is ``withdraw_for_order``'s, worded for staff (resume, reply, return visit: nothing
    a caller can do); which rule gave it is read from its details. An ended case is refused before this
    (models/hotline_followups.py), so every refusal left is a verification or others merged in."""
    goes_on = (
        "办理部门已答复办理结果，案件将在回访后办结"
        if handling.state == ComplaintState.REPLIED
        else "案件将继续办理，办理部门将向来电人答复办理结果"
    )
    if "merged_numbers" in refusal.details:
        return (
            f"投诉 {case.number} 已有其他投诉人就同一事项的投诉并入一并办理，一人撤回不能终止对其他投诉人的"
            f"办理，不能撤回；{goes_on}。"
        )
    subject = (
        f"来电人的投诉已并入投诉 {handling.number} 一并办理，该案"
        if handling.id != case.id
        else f"投诉 {case.number} "
    )
    if handling.id == case.id and case.state == ComplaintState.AWAITING_COMPLAINANT:
        goes_on = "案件正暂停计时，等待来电人补充材料，补充后继续办理，办理部门将向来电人答复办理结果"
    verified = session.exec(
        select(CaseEvent.event)
        .where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == handling.id)
        .where(col(CaseEvent.event).in_(VERIFICATIONS))
        .order_by(col(CaseEvent.seq).desc())
    ).first()
    if verified == "verify_untrue":
        why = "经核实不属实，不能撤回：核实不属实的投诉应当向投诉人答复核实结果及依据"
    elif verified == "verify_true":
        why = "已核实属实，不能撤回：政府部门违约失信的纠正由信用办继续督办，不因撤回而终止"
    else:
        why = "已经核实，不能撤回：核实后的处理由信用办继续督办，不因撤回而终止"
    return f"{subject}{why}；{goes_on}。"


def withdraw(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, WithdrawBody)
    _withdraw(ctx, action, body)


def _withdraw(ctx: ActionContext, action: str, body: WithdrawBody, *, address: str | None = None) -> None:
    # Online (the public role), the event keeps the client address, as a withdrawal contested as not the
    # complainant's own needs it, and the mail says who withdrew it and how.
    online: dict[str, Any] = {"online": True, "address": address} if ctx.actor.role == Role.PUBLIC else {}
    mailed: dict[str, Any] = {"online": True} if online else {}
    case = ctx.case
    nothing_merged_in(ctx.session, case)
    handling = handling_case_open(ctx.session, case)
    stage: str = ctx.grounds["withdrawn_in"]  # the stage, or the one a pause began in
    holders = _holders(ctx, stage)
    joined = ctx.session.get(Complaint, case.merged_into_id) if case.merged_into_id else None
    event = ctx.fire(
        action,
        body,
        note=body.reason,
        reason=body.reason,
        withdrawn_in=stage,
        merged_into=joined.number if joined else None,
        **online,
    )
    if handling is not None:
        # As a merge holds its target: the handling case's version checked above, bumped now. Its reply
        # (or closing, rejection, verification) racing this reached this complainant through
        # ``merged_into_id`` as it stood: whichever commits second meets a stale version, 409.
        at = dt.datetime.now(dt.UTC)
        hold_unchanged(
            ctx.session,
            handling,
            at,
            refusal=f"本投诉所并入的案件 {handling.number} 已被他人更新（可能已答复、已核实或已办结），"
            "本次撤回未生效，请刷新后重试 (the case it joined changed meanwhile: reload and try again)",
        )
        # The merge's counterpart on the handling case's timeline (``merged_in``): its staff see that one
        # of the complainants it answers for has left, and is no longer owed its reply or return visit.
        record_event(
            session=ctx.session,
            case=handling,
            transition=None,
            from_state=handling.state,
            to_state=handling.state,
            actor=ctx.actor,
            at=at,
            note=f"并入本案的投诉 {case.number} 已由投诉人撤回，本案不再向其答复、回访",
            data={"withdrawn_number": case.number, "withdrawn_id": case.id},
            idempotency_key=None,
            event="merged_withdrawn",
        )
    case.closed_at = dt.datetime.now(dt.UTC)
    # No return visit answers this ending, so no rating stands (the scorecard counts a rated case by it).
    case.satisfaction = None
    case.paused_from_state, case.paused_on = None, None
    # Its part in the case it joined ends here: the reply, closing and 12345 copies of that case follow
    # ``merged_into_id``, and its own tracking page then shows its own ending. The merge event keeps the link.
    case.merged_into_id = None
    mail_complainant(
        ctx.session,
        case,
        event,
        "complaint_withdrawn",
        reason=body.reason,
        target_number=joined.number if joined else None,
        **mailed,
    )
    for dept, role_label in holders:
        mail_department(
            ctx.session,
            case,
            event,
            "complaint_withdrawn_department",
            dept,
            role_label=role_label,
            summary=case.summary,
            reason=body.reason,
        )


def _holders(ctx: ActionContext, stage: str) -> list[tuple[Department, str]]:
    """The departments holding the case in ``stage``, each with its part: the lead and the assisting ones
    it was dispatched to, and once signed for, the verifier (the lead's 主管部门) asked to verify it."""
    if stage not in _HELD:
        return []
    rows = ctx.session.exec(
        select(Department, ComplaintAssignment.lead)
        .join(ComplaintAssignment, col(ComplaintAssignment.department_id) == Department.id)
        .where(ComplaintAssignment.complaint_id == ctx.case.id, col(ComplaintAssignment.active).is_(True))
        .order_by(col(ComplaintAssignment.lead).desc(), col(Department.code))
    ).all()
    holders = [(dept, "主办" if lead else "协办") for dept, lead in rows]
    if stage == ComplaintState.SIGNED and ctx.case.lead_department_id is not None:
        verifier_id = competent_of(ctx.session, ctx.case.lead_department_id)
        verifier = ctx.session.get(Department, verifier_id) if verifier_id else None
        if verifier is not None and all(verifier.id != dept.id for dept, _ in holders):
            holders.append((verifier, "核实"))
    return holders


# Withdrawn where no one had yet decided how the complaint is handled on its own: not reviewed yet, or merged
# into another case (it left that case; as a case of its own nobody accepted it). Reopened, it is reviewed.
_BACK_TO_REVIEW = {
    ComplaintState.REGISTERED: "投诉人撤回时尚未初审，重启后回到初审",
    ComplaintState.MERGED: "投诉人撤回时已并入他案办理，重启后作为单独案件回到初审",
}


def back_to_review(ctx: ActionContext, reopened: CaseEvent) -> None:
    """After ``reopened`` (重启案件 → 已重启（待派单）): a complaint withdrawn in 已登记（待初审） (or in a
    pause that began there) or while merged into another case (``withdrawn_in`` of its withdrawal) returns
    to 已登记 with a new 初审 deadline, by the table's ``return_to_review``. A system step, so no one is
    offered it by hand."""
    if reopened.from_state != ComplaintState.CLOSED_WITHDRAWN:
        return
    withdrawal = ctx.session.exec(
        select(CaseEvent)
        .where(
            CaseEvent.case_kind == "complaint",
            CaseEvent.case_id == ctx.case.id,
            CaseEvent.event == "withdraw",
        )
        .order_by(col(CaseEvent.seq).desc())
    ).first()
    withdrawn_in = withdrawal.data.get("withdrawn_in") if withdrawal is not None else None
    if withdrawal is None or withdrawn_in not in _BACK_TO_REVIEW:
        return
    replace(ctx, actor=Actor.system()).fire(
        "return_to_review",
        ActionBody(),
        note=_BACK_TO_REVIEW[withdrawn_in],
        withdrawal_seq=withdrawal.seq,
    )
