"""Public tracking (/track): a complainant follows their case with its number and tracking password, and
learns whether they may withdraw it online (models/complaints/withdrawal.py ``withdraw_online``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.clock import Clock
from models.complaint import Complaint, handling_case, why_not_accepted
from models.complaints.bodies import TrackingResult, TrackingStep
from models.complaints.preconditions import handling_case_open, nothing_merged_in, require
from models.complaints.visibility import case_events, event_label, state_label
from models.errors import NotFound, TransitionNotAllowed, ValidationFailed
from models.lifecycle import COMPLAINT, WITHDRAWAL_ROUTE, ComplaintState, Role
from models.org import Department
from models.outbox import Notification, NotificationStatus
from models.privacy import publication_text
from models.ratelimit import check_tracking_allowed, record_tracking_failure
from models.tracking_password import verify_tracking_password

# Internal working notes the complainant does not see on the public tracking page; a 协办意见 is the
# departments' exchange, and the complainant hears its outcome in the lead's reply.
_NOT_PUBLIC_EVENTS = frozenset({"suggest", "warn_yellow", "warn_red", "merged_in", "assist_opinion"})
# The handling case's attempts to reach its own complainant: a complainant merged into it (并单) was not the
# one called, and seeing them on their page would tell them they were (closing.py says the same of mails).
_OTHER_COMPLAINANTS_EVENTS = frozenset({"record_contact_attempt"})
_NOT_FOUND = "投诉编号或查询密码不正确，请核对后重试 (number or password is wrong)"
# A pause of the case it joined is for that case's complainant (``_supplement_requested``): a complainant
# merged into it owes nothing, and "待投诉人补充" alone would read as if they did.
_OTHERS_PAUSE_STATE = "待其他投诉人补充（暂停计时）"
_OTHERS_PAUSE_STEP = "等待其他投诉人补充材料（暂停计时）"
# What the complainant confirms to withdraw online (the page's checkbox, the API's ``confirmed``).
WITHDRAWAL_CONFIRMATION = "我确认撤回本投诉，撤回后案件即办结"
# Why the complainant may not withdraw online, one sentence each in their words (the staff refusals speak to
# staff: resume, reply, return visit), each with the hotline, where a withdrawal wish still reaches the case.
_WISH_BY_HOTLINE = "如需表达撤回意愿，可拨打12345政务服务便民热线，您的意愿将写入答复"
_ENDED = "本投诉已“{label}”，不能再撤回；如有诉求，可拨打12345政务服务便民热线反映。"
NOT_WITHDRAWABLE_VERIFIED = (
    f"本投诉已经核实，不能在线撤回：核实后的处理由信用办继续督办，不因撤回而终止；{_WISH_BY_HOTLINE}。"
)
NOT_WITHDRAWABLE_MERGED_IN = (
    "其他投诉人就同一事项的投诉已并入本投诉一并办理，您的撤回不能代表他们，不能在线撤回；"
    f"{_WISH_BY_HOTLINE}。"
)
NOT_WITHDRAWABLE_JOINED_ENDED = (
    "您的投诉所并入的案件已办结，您的投诉随之结束，不能再撤回；如有诉求，可拨打12345政务服务便民热线反映。"
)


# What the complainant sees on /track and gets from the public API: ``TrackingResult`` and, for a case not
# accepted (不予受理), why and where to go — the SMS sends them here for both (RULEBOOK complaints §3).
class PublicTracking(TrackingResult):
    # The reason the clerk gave the complainant, and the route (建议途径) they were pointed to.
    not_accepted_reason: str | None = None
    suggested_route: str | None = None
    # While the case is paused for the complainant's supplement: what they were asked to supply.
    supplement_requested: str | None = None
    # A complainant merged (并单) into a case paused for its own complainant's supplement: nothing is asked
    # of them, and the pause is said to be another complainant's.
    awaiting_other_complainant: bool = False
    # A withdrawn case (撤回办结, recorded by staff or by the complainant online): the reason recorded, and
    # how to contest it.
    withdrawal_reason: str | None = None
    withdrawal_route: str | None = None
    # Whether the complainant may withdraw online now (POST /public/complaints/{number}/withdrawal, or the
    # form on /track), and what they confirm by it; when not, why, in one sentence naming the hotline.
    withdrawal_possible: bool = False
    withdrawal_confirmation: str | None = None
    withdrawal_refused: str | None = None


def track(
    *, session: Session, number: str, password: str, clock: Clock, address: str | None = None
) -> PublicTracking:
    """Stages and dates of a case for its complainant; names and contacts are never part of it.

    Wrong passwords are counted per case number and per client ``address`` (models/ratelimit.py)."""
    complaint = authenticate(session=session, number=number, password=password, clock=clock, address=address)
    return tracked(session=session, complaint=complaint, clock=clock)


def tracked(*, session: Session, complaint: Complaint, clock: Clock) -> PublicTracking:
    """What ``track`` answers for a complaint already proven by its password (``authenticate``)."""
    events = case_events(session, complaint)
    # A merged case is handled, and replied to, as the case it joined: its complainant follows that one,
    # its state and deadline, and its steps since the merge.
    handling = handling_case(session, complaint)
    handled = events if handling is complaint else case_events(session, handling)
    shown = events
    if handling is not complaint:
        merged_at = max((e.at for e in events if e.event == "merge"), default=complaint.created_at)
        joined = (e for e in handled if e.at >= merged_at and e.event not in _OTHER_COMPLAINANTS_EVENTS)
        shown = [*events, *joined]
    steps = [
        TrackingStep(label=_step_label(e, complaint), date=clock.local_date(e.at))
        for e in shown
        if e.event not in _NOT_PUBLIC_EVENTS
    ]
    reply, again = _standing_reply(handled)
    if handling is not complaint:
        # Written to the handling case's complainant (it may name them or their phone): a merged complainant
        # reads it through the publication filter, as their reply mail gives it (merging.py ``mail_reply``).
        reply = publication_text(reply, names=[handling.complainant_name])
    # A paused stage's deadline moves when the case resumes, and a finished case has none: show neither.
    spec = COMPLAINT.state(handling.state)
    hidden = spec.terminal or spec.clock_paused
    # A complainant merged into the case was not the one asked (closing.py says the same of its mails).
    paused = handling.state == ComplaintState.AWAITING_COMPLAINANT
    own_pause = paused and handling is complaint
    reason, route = (
        why_not_accepted(handled) if handling.state == ComplaintState.NOT_ACCEPTED else (None, None)
    )
    withdrawn = _withdrawal_reason(handled) if handling.state == ComplaintState.CLOSED_WITHDRAWN else None
    refused = online_withdrawal_refused(session=session, complaint=complaint, today=clock.today())
    return PublicTracking(
        number=complaint.number,
        state_label=_OTHERS_PAUSE_STATE if paused and not own_pause else state_label(handling.state),
        registered_on=clock.local_date(complaint.created_at),
        stage_deadline=None if hidden else handling.stage_deadline,
        deadline_pending=handling.deadline_pending and not hidden,
        steps=steps,
        department_name=_handling_department(session, handling),
        reply_text=None if again else reply,
        merged_into=handling.number if handling is not complaint else None,
        handled_again=again,
        previous_reply_text=reply if again else None,
        redo_count=handling.redo_count,
        not_accepted_reason=reason,
        suggested_route=route,
        supplement_requested=_supplement_requested(handled) if own_pause else None,
        awaiting_other_complainant=paused and not own_pause,
        withdrawal_reason=withdrawn,
        withdrawal_route=WITHDRAWAL_ROUTE if handling.state == ComplaintState.CLOSED_WITHDRAWN else None,
        withdrawal_possible=refused is None,
        withdrawal_confirmation=WITHDRAWAL_CONFIRMATION if refused is None else None,
        withdrawal_refused=refused,
    )


def authenticate(
    *, session: Session, number: str, password: str, clock: Clock, address: str | None
) -> Complaint:
    """The complaint ``number`` names, if ``password`` is its tracking password. Whoever asks with the pair
    (tracking, withdrawing online) passes this one check, under one limit: a wrong password is counted per
    case number and per client ``address`` and committed before the refusal, which rolls the request back;
    the refusal says nothing of whether the number exists."""
    now = clock.now()
    check_tracking_allowed(session=session, number=number, address=address, now=now)
    complaint = session.exec(select(Complaint).where(Complaint.number == number.strip().upper())).first()
    stored = complaint.tracking_password_hash if complaint else None
    if complaint is None or not verify_tracking_password(password, stored):
        record_tracking_failure(session=session, number=number, address=address, now=now)
        session.commit()
        raise NotFound(_NOT_FOUND)
    return complaint


def online_withdrawal_refused(*, session: Session, complaint: Complaint, today: dt.date) -> str | None:
    """Why the complainant may not withdraw ``complaint`` online now, in one sentence for them, or None when
    they may. The checks the withdrawal itself makes (models/complaints/withdrawal.py ``withdraw``: the
    table for the public role, ``withdrawal_allowed``, ``nothing_merged_in``, ``handling_case_open``), so
    the page offers the form exactly when the withdrawal would go through."""
    try:
        COMPLAINT.fire(complaint.state, "withdraw", Role.PUBLIC)
    except TransitionNotAllowed:
        if complaint.state in COMPLAINT.transition("withdraw").refused_in:
            return NOT_WITHDRAWABLE_VERIFIED
        return _ENDED.format(label=state_label(complaint.state))
    try:
        # Every refusal of this rule is a verification: before a pause, or before a redo or reopening.
        require(session=session, case=complaint, action="withdraw", today=today)
    except ValidationFailed:
        return NOT_WITHDRAWABLE_VERIFIED
    try:
        nothing_merged_in(session, complaint)
    except ValidationFailed:
        return NOT_WITHDRAWABLE_MERGED_IN
    try:
        handling_case_open(session, complaint)
    except ValidationFailed:
        joined = handling_case(session, complaint)
        ended = COMPLAINT.state(joined.state).terminal
        return NOT_WITHDRAWABLE_JOINED_ENDED if ended else NOT_WITHDRAWABLE_VERIFIED
    return None


def receipt_channels(*, session: Session, complaint: Complaint) -> frozenset[str]:
    """The channels (``email``, ``sms``) the registration receipt (登记回执) goes to the complainant by;
    empty when it reaches them by none (a mobile only while SMS is off: its one row is undeliverable,
    as ``models.pledges.importing.undeliverable`` reads a pledgor's). Read off the outbox rows, so the
    channels are decided in one place (models/outbox.py ``outbox_rows``)."""
    rows = session.exec(
        select(Notification.channel).where(
            Notification.case_kind == "complaint",
            Notification.case_id == complaint.id,
            Notification.template == "complaint_received",
            col(Notification.status) != NotificationStatus.UNDELIVERABLE,
        )
    ).all()
    return frozenset(rows)


def _step_label(event: CaseEvent, complaint: Complaint) -> str:
    """A step as the complainant reads it: a pause in the case they were merged into is another's."""
    if event.event == "await_complainant" and event.case_id != complaint.id:
        return _OTHERS_PAUSE_STEP
    return event_label(event.event)


def _supplement_requested(events: list[CaseEvent]) -> str | None:
    """What the complainant was asked to supply: the reason of the ``await_complainant`` that paused the
    case (the latest; a paused case cannot be paused again).

    Only ``data`` is read, as for a rejection: the reason is addressed to the complainant
    (models/complaints/actions.py ``_await``); a pause recorded before it was kept there shows none."""
    pause = next((e for e in reversed(events) if e.event == "await_complainant"), None)
    return ((pause.data.get("reason") or "").strip() or None) if pause else None


def _withdrawal_reason(events: list[CaseEvent]) -> str | None:
    """The reason of the latest ``withdraw``, as recorded for the complainant and mailed to them
    (models/complaints/withdrawal.py); only ``data`` is read, as for a rejection."""
    withdrawal = next((e for e in reversed(events) if e.event == "withdraw"), None)
    return ((withdrawal.data.get("reason") or "").strip() or None) if withdrawal else None


def _standing_reply(events: list[CaseEvent]) -> tuple[str | None, Literal["redo", "reopen"] | None]:
    """The latest reply, and what sent the case back to be handled again after it (a redo, a reopening),
    if anything did: that reply was rejected or reopened and no longer stands."""
    reply: str | None = None
    again: Literal["redo", "reopen"] | None = None
    for e in events:
        if e.event == "reply" and e.note:
            reply, again = e.note, None
        elif e.event in ("redo", "reopen") and reply is not None:
            again = "redo" if e.event == "redo" else "reopen"
    return reply, again


def _handling_department(session: Session, complaint: Complaint) -> str | None:
    """The lead department once the case is dispatched, else the department complained about."""
    department_id = complaint.lead_department_id or complaint.respondent_department_id
    department = session.get(Department, department_id) if department_id else None
    return department.name if department else None
