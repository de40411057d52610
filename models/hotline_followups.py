"""What the 12345 platform forwards about an order it already handed over (工单后续): 补充材料, 撤单, 催单.

Each follow-up is recorded on the case as one audit event (``FOLLOW_UP_EVENTS``, labelled on the timeline by
models/complaints/visibility.py), keyed by the platform's own follow-up id (``CaseEvent.idempotency_key``):
a resend of the same follow-up answers what the first did and records nothing; a resend that differs is
refused (``Conflict``, naming the fields), as a resent order is (models/hotline_intake.py).

- 补充材料 (``supplement``): the text and attachment references join the case (within the case's attachment
  cap), and whoever the case awaits now is told, since the facts are theirs to weigh (a case paused
  awaiting the complainant's supplement stays paused until they find it complete and resume it).
- 撤单 (``withdrawal``): the lifecycle's ``withdraw``, with every check a clerk's withdrawal has
  (models/complaints/withdrawal.py ``withdraw_for_order``); refused (409) with the table's reason once the
  case is verified, and nothing is stored.
- 催单 (``chase``): recorded, and whoever the case awaits is told: the department whose move the stage
  awaits, or the supervisors where it awaits intake or supervisors (the supervision notices' rule,
  ``awaited_data``: mailing every intake agent of a call centre is no chase).

An order merged (并单) into another case is handled by that case: a supplement or a chase goes there, and the
answer says so; a withdrawal takes the order's own complaint out of it, as a clerk's would. A case that has
ended (办结, 不予受理 …) takes no follow-up: nobody would read it there, so it is refused (409) with the
ending and what the platform should do instead (a new order), never recorded where it would go unseen.

A follow-up holds the order's case and the case handling it before it reads them (``_take_cases``), so
follow-ups and withdrawals arriving at once take turns: each sees what the one before it committed, as
if sent after it. The caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.accounts import active_supervisors
from models.attachments import check_attachments
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.clock import Clock, iso_date, utcnow
from models.complaint import MAX_MERGE_DEPTH, AttachmentRef, Complaint, why_not_accepted
from models.complaints.notify import Recipient, department_recipient, enqueue_mail
from models.complaints.supervision import awaited_data
from models.complaints.visibility import STAFF_PARTY_LABEL, case_events, event_label, state_label
from models.complaints.withdrawal import (
    WITHDRAWAL_BY_SUPPLEMENT,
    order_withdrawal_refused,
    withdraw_for_order,
)
from models.errors import Conflict, NotFound, TransitionNotAllowed, ValidationFailed
from models.hotline import HOTLINE_SOURCE
from models.hotline_intake import (
    PLATFORM_ID_PATTERN,
    ReceivedAt,
    case_of_order,
    not_before_order,
    platform_id_format,
)
from models.lifecycle import COMPLAINT, ComplaintState
from models.org import Department
from models.row_holds import hold_rows
from models.text import Line, Paragraph, visible_text
from models.workflow import Actor, record_event


class FollowUpKind(StrEnum):
    SUPPLEMENT = "supplement"
    WITHDRAWAL = "withdrawal"
    CHASE = "chase"


KIND_LABELS: dict[FollowUpKind, str] = {
    FollowUpKind.SUPPLEMENT: "补充材料",
    FollowUpKind.WITHDRAWAL: "撤单",
    FollowUpKind.CHASE: "催单",
}
_KIND_BY_LABEL = {label: kind for kind, label in KIND_LABELS.items()}
# The audit event each kind records (labelled in models/complaints/visibility.py EXTRA_EVENT_LABELS).
FOLLOW_UP_EVENTS: dict[FollowUpKind, str] = {
    FollowUpKind.SUPPLEMENT: "hotline_supplement",
    FollowUpKind.WITHDRAWAL: "hotline_withdrawal",
    FollowUpKind.CHASE: "hotline_chase",
}
# The withdrawal reason's own bound (models/complaints/bodies.py WithdrawBody): the text becomes it.
WITHDRAWAL_TEXT_MAX = 2000
# The staff notice of a supplement or a chase.
NOTICE_TEMPLATE = "hotline_follow_up"


def follow_up_key(follow_up_id: str) -> str:
    """The idempotency key of the event a follow-up records."""
    return f"12345:follow-up:{follow_up_id}"


class FollowUp(BaseModel):
    """One follow-up on an order, as the platform sends it (POST /api/v1/intake/work-orders/{order_id}/
    follow-ups). Checked as the order is: text cleaned (models/text.py), ``received_at`` by the order's
    own rule, an unknown field refused, so nothing of it is dropped unseen."""

    model_config = ConfigDict(extra="forbid")

    follow_up_id: str = Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": PLATFORM_ID_PATTERN},
        description="12345 平台的后续编号（补充、撤单、催单各自的编号）：重复推送时据此识别",
    )
    kind: Annotated[
        FollowUpKind,
        WithJsonSchema(
            {
                "type": "string",
                "enum": [*(str(k) for k in FollowUpKind), *KIND_LABELS.values()],
                "description": "类型：代码或中文名称（supplement 补充材料、withdrawal 撤单、chase 催单）",
            }
        ),
    ] = Field(description="类型：代码或中文名称（supplement 补充材料、withdrawal 撤单、chase 催单）")
    received_at: ReceivedAt = Field(description="12345 平台受理本次来电的时间（带时区，ISO 8601）")
    channel: Line | None = Field(default=None, max_length=32, description="12345 受理渠道，如 phone、web")
    content: Paragraph = Field(
        min_length=2,
        max_length=4000,
        description="来电内容：补充的情况、撤单理由（不超过 2000 字）或催办诉求",
    )
    attachments: list[AttachmentRef] = Field(
        default_factory=list, max_length=20, description="附件：文件名、链接或档案号（文字，每项一个）"
    )

    @field_validator("follow_up_id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        return platform_id_format(
            value, error="follow_up_id_format", label="后续编号", example="BC2026031800003"
        )

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_by_label(cls, value: Any) -> Any:
        # As an order's category: the platform may send the name its operators see.
        return _KIND_BY_LABEL.get(value, value) if isinstance(value, str) else value

    @field_validator("channel")
    @classmethod
    def _blank_channel_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("content")
    @classmethod
    def _content_says_something(cls, value: str) -> str:
        if len(visible_text(value)) < 2:
            raise ValueError("来电内容过短，至少 2 个字 (content must say something)")
        return value

    def recorded(self, order_id: str) -> dict[str, Any]:
        """What the event keeps of the follow-up: every field, so a resend is compared with all of it."""
        return {
            "follow_up_id": self.follow_up_id,
            "order_id": order_id,
            "kind": str(self.kind),
            "received_at": self.received_at.astimezone(dt.UTC).isoformat(),
            "channel": self.channel,
            "content": self.content,
            "attachments": list(self.attachments),
        }


@dataclass(frozen=True)
class FollowUpResult:
    """What was done with a follow-up: ``case`` is where it was recorded (the case handling the order,
    or for a withdrawal the order's own complaint), ``event`` the follow-up's event."""

    case: Complaint
    event: CaseEvent
    created: bool

    @property
    def withdrawn(self) -> bool:
        return bool(self.event.data.get("withdrawn"))

    @property
    def merged_into(self) -> str | None:
        return self.event.data.get("merged_into")

    @property
    def notified(self) -> list[str]:
        return list(self.event.data.get("notified") or [])

    @property
    def message(self) -> str:
        """What was done, in a sentence the platform's operator can pass on."""
        number, merged = self.event.case_number, self.merged_into
        if self.withdrawn:
            left = f"，不再随投诉 {merged} 一并办理" if merged else ""
            return f"撤单已办理：投诉 {number} 已撤回办结{left}；撤回结果另以 closed 消息推送"
        kind = FollowUpKind(self.event.data["kind"])
        joined = f"该工单已并入投诉 {merged} 一并办理，" if merged else ""
        told = f"，已通知{'、'.join(self.notified)}" if self.notified else ""
        return f"{joined}{KIND_LABELS[kind]}已记入投诉 {number}{told}{self._still_paused(kind)}"

    def _still_paused(self, kind: FollowUpKind) -> str:
        """What a caller should know of a case paused awaiting its complainant's supplement: it stays
        paused until whoever paused it finds the material complete (nobody resumes it on receipt), and
        the case a merged order joined awaits its own complainant, not this caller."""
        if not self.event.data.get("paused"):
            return ""
        if self.merged_into:
            return "；该案正暂停计时，等待该案投诉人补充材料，恢复办理后继续计时"
        if kind == FollowUpKind.CHASE:
            return "；案件正暂停计时，等待投诉人补充材料，补充齐全后恢复办理"
        who = "、".join(self.notified) or "办理人员"
        return f"；案件仍暂停计时，待{who}核对材料、确认补充齐全后恢复办理，并继续计时"


def receive_follow_up(
    *,
    session: Session,
    order_id: str,
    follow_up: FollowUp,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> FollowUpResult:
    """Record ``follow_up`` on the case of the order ``order_id`` and do what its kind asks, or answer what
    an earlier copy of it did. Flushed; the caller commits. NotFound for an order never handed in,
    ValidationFailed for a follow-up dated before its order, Conflict for a case that has ended, a
    withdrawal refused or a resend that differs."""
    order_case = case_of_order(session=session, order_id=order_id)
    if order_case is None:
        raise NotFound(
            f"工单 {order_id} 未在本系统登记：请先推送该工单（POST /api/v1/intake/work-orders），"
            "再推送其补充材料、撤单或催单 (no such order)",
            order_id=order_id,
        )
    not_before_order(case=order_case, received_at=follow_up.received_at)
    key = follow_up_key(follow_up.follow_up_id)
    earlier = _recorded(session, key)
    if earlier is not None:
        return _answer_again(session, earlier, follow_up, order_id)
    try:
        # A savepoint, so a copy that lost the race to a concurrent one undoes only its own work.
        with session.begin_nested():
            order_case, handling = _take_cases(session, order_case)
            # A copy, or another follow-up, committed while this one waited for the case: answered as a
            # resend sent after it would be (the same answer, or the case as that one left it).
            earlier = _recorded(session, key)
            if earlier is not None:
                return _answer_again(session, earlier, follow_up, order_id)
            return _receive(session, order_case, handling, follow_up, order_id, key, actor, today, calendar)
    except IntegrityError:
        earlier = _recorded(session, key)
        if earlier is None:
            raise
        return _answer_again(session, earlier, follow_up, order_id)


def _take_cases(session: Session, order_case: Complaint) -> tuple[Complaint, Complaint]:
    """The order's case and the case handling it (itself, or the one it was merged into, down a chain of
    merges), each held and re-read before anything of it is read: the case's writers (another follow-up,
    a withdrawal, a clerk's action) must not slip in between the check of its state or attachments and
    the write, or an attachment is lost, the cap exceeded, or an ended case written to (``hold_rows``;
    ``FOR NO KEY UPDATE``: an insert referring to the row, its event, is not held up). Held in the order
    ``handling_case`` follows, as a merged complaint's withdrawal holds them."""

    def held(case_id: int | None) -> Complaint:
        [case] = hold_rows(session, Complaint, [case_id], key_share=True)
        return case

    order_case = case = held(order_case.id)
    for _ in range(MAX_MERGE_DEPTH):
        if case.merged_into_id is None:
            break
        case = held(case.merged_into_id)
    return order_case, case


def _recorded(session: Session, key: str) -> CaseEvent | None:
    return session.exec(select(CaseEvent).where(CaseEvent.idempotency_key == key)).first()


def _answer_again(session: Session, event: CaseEvent, follow_up: FollowUp, order_id: str) -> FollowUpResult:
    kept = {k: event.data.get(k) for k in follow_up.recorded(order_id)}
    differ = [k for k, v in follow_up.recorded(order_id).items() if kept[k] != v]
    if differ:
        raise Conflict(
            f"后续编号 {follow_up.follow_up_id} 已于此前推送并记入投诉 {event.case_number}，本次推送的内容与"
            f"已记录的不同（{'、'.join(differ)}），未保存。同一后续编号只能重复推送相同内容：另一次来电请使用新的"
            "后续编号推送 (a resend of this follow-up differs from the one recorded: nothing stored)",
            follow_up_id=follow_up.follow_up_id,
            case_number=event.case_number,
            fields=[{"field": field, "message": "与已记录的后续内容不同"} for field in differ],
        )
    case = session.get(Complaint, event.case_id)
    assert case is not None
    return FollowUpResult(case=case, event=event, created=False)


def _receive(
    session: Session,
    order_case: Complaint,
    handling: Complaint,
    follow_up: FollowUp,
    order_id: str,
    key: str,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> FollowUpResult:
    kind = follow_up.kind
    merged = handling.number if handling.id != order_case.id else None
    # A withdrawal is the order's own complainant's: a merged one leaves the case it joined (withdrawal.py),
    # unless that case has ended, taking the order's complaint with it.
    case = order_case if kind == FollowUpKind.WITHDRAWAL else handling
    _refuse_ended(session, handling, order_id, kind, merged)
    check_attachments(existing=case.attachments, added=follow_up.attachments)
    data: dict[str, Any] = {**follow_up.recorded(order_id), "merged_into": merged}
    if merged and kind != FollowUpKind.WITHDRAWAL:
        # The timeline of the case handling it says whose call it was: not its own complainant's. A
        # withdrawal is recorded on the order's own case, where the caller is the complainant.
        data |= {"merged_from": order_case.number, "merged_from_id": order_case.id}
    recipients: list[Recipient] = []
    if kind == FollowUpKind.WITHDRAWAL:
        if len(follow_up.content) > WITHDRAWAL_TEXT_MAX:
            raise ValidationFailed(
                f"撤单理由过长（{len(follow_up.content)} 字）：撤单理由不超过 {WITHDRAWAL_TEXT_MAX} 字，"
                f"请精简后重新推送 (a withdrawal's content is at most {WITHDRAWAL_TEXT_MAX} characters)",
                field="content",
            )
        data["withdrawn"] = True
    else:
        recipients = _awaited(session, case)
        data["notified"] = list(dict.fromkeys(_party_name(to) for to in recipients))
        # Kept, so a resend's answer says what the first did: the case stayed paused.
        data["paused"] = case.state == ComplaintState.AWAITING_COMPLAINANT
    event = record_event(
        session=session,
        case=case,
        transition=None,
        from_state=case.state,
        to_state=case.state,
        actor=actor,
        at=utcnow(),
        note=follow_up.content,
        data=data,
        idempotency_key=key,
        event=FOLLOW_UP_EVENTS[kind],
    )
    if follow_up.attachments:
        case.attachments = [*case.attachments, *follow_up.attachments]
        session.add(case)
    if kind == FollowUpKind.WITHDRAWAL:
        _withdraw(session, case, handling, follow_up, actor, today, calendar)
    for to in recipients:
        enqueue_mail(
            session,
            case,
            event,
            NOTICE_TEMPLATE,
            to,
            department_name=to.name,
            kind=str(kind),
            order_id=order_id,
            merged_from=order_case.number if merged else None,
            stage_label=state_label(case.state),
            paused=case.state == ComplaintState.AWAITING_COMPLAINANT,
            content=follow_up.content,
            attachments=list(follow_up.attachments),
            received_at=follow_up.received_at.astimezone(dt.UTC).isoformat(),
        )
    session.flush()
    return FollowUpResult(case=case, event=event, created=True)


def _withdraw(
    session: Session,
    case: Complaint,
    handling: Complaint,
    follow_up: FollowUp,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> None:
    """The lifecycle's ``withdraw``; a refusal (verified, other complaints merged in …) is one answer for
    the platform, 409 with the reason said for the caller (``order_withdrawal_refused``: the staff wording
    of the table or the rule tells a clerk to resume or reply, which a caller cannot), and what the
    platform may do with the caller's wish (``platform_hint``)."""
    try:
        withdraw_for_order(
            session=session, case=case, reason=follow_up.content, actor=actor, today=today, calendar=calendar
        )
    except (TransitionNotAllowed, ValidationFailed) as refusal:
        raise TransitionNotAllowed(
            f"{order_withdrawal_refused(session=session, case=case, handling=handling, refusal=refusal)} "
            "(withdrawal refused: nothing stored)",
            **{**refusal.details, "case_number": case.number, "state": str(case.state)},
            platform_hint=WITHDRAWAL_BY_SUPPLEMENT,
        ) from None


def _refuse_ended(
    session: Session, case: Complaint, order_id: str, kind: FollowUpKind, merged: str | None
) -> None:
    """Conflict when ``case`` (the one handling the order) has ended: nothing is recorded where nobody
    would read it. Said as a sequential resend would hear it, whichever follow-up ended the case."""
    spec = COMPLAINT.state(case.state)
    if not spec.terminal or case.state == ComplaintState.MERGED:
        return
    what = KIND_LABELS[kind]
    # The day as a reader in Beijing dates it: 01:00 there is the previous day in UTC.
    when = f"（{iso_date(Clock.from_settings().local_date(case.closed_at))}）" if case.closed_at else ""
    if case.state == ComplaintState.NOT_ACCEPTED:
        reason, route = why_not_accepted(case_events(session, case))
        found = [
            f"理由：{reason.rstrip('。')}" if reason else "",
            f"应当通过的途径：{route.rstrip('。')}" if route else "",
        ]
        said = "；".join(f for f in found if f)
        todo = f"{said}。" if said else ""
        todo += "请告知来电人；来电人提出新的诉求的，请以新的工单编号推送新工单"
    elif kind == FollowUpKind.CHASE:
        todo = (
            "案件已结束，无需催办，办理结果已推送 12345；来电人对结果有异议或提出新的诉求的，"
            "请以新的工单编号推送新工单"
        )
    elif kind == FollowUpKind.WITHDRAWAL and case.state == ComplaintState.CLOSED_WITHDRAWN:
        todo = "投诉已经撤回，无需再次撤单，撤回结果已推送 12345，请告知来电人"
    elif kind == FollowUpKind.WITHDRAWAL:
        joined = "来电人的投诉随该案一并结束，" if merged else ""
        todo = (
            f"案件已结束，{joined}无需也无从撤回，办理结果已推送 12345，请告知来电人；来电人提出新的诉求的，"
            "请以新的工单编号推送新工单"
        )
    else:
        todo = (
            "已结束的案件不再办理，补充材料记入该案无人接收：请以新的工单编号将来电人的新情况作为新工单推送，"
            "由受理人员登记并关联原案（确需重新办理的，由督办人员重启原案）"
        )
    where = f"所并入的投诉 {case.number}" if merged else f"对应的投诉 {case.number}"
    raise Conflict(
        f"工单 {order_id} {where} 已“{spec.label}”{when}，本次{what}未保存。{todo} "
        "(the case has ended: nothing stored)",
        order_id=order_id,
        case_number=case.number,
        state=str(case.state),
        state_label=spec.label,
    )


def _awaited(session: Session, case: Complaint) -> list[Recipient]:
    """Whoever the case awaits now, by the supervision notices' rule (``awaited_data``): the department
    whose move the stage awaits, else the supervisors (the stage is intake's or theirs)."""
    department_id = awaited_data(session, case)["awaited_department_id"]
    dept = session.get(Department, department_id) if department_id is not None else None
    if dept is not None:
        return [department_recipient(dept)]
    return [
        Recipient("supervisor", u.name, u.email, f"user{u.id}") for u in active_supervisors(session=session)
    ]


def _party_name(to: Recipient) -> str:
    return to.name if to.kind == "department" else STAFF_PARTY_LABEL


def follow_ups_of(*, session: Session, complaint: Complaint) -> dict[str, Any]:
    """What the staff case page shows of 12345 follow-ups: ``events``, the names of their timeline events
    (whose data the timeline shows: the order, the merged case it came through, the attachments), with
    their ``labels``; and ``forwarded``, the events of ``complaint``'s own order recorded on the case it
    was merged into, so its page says where the caller's later calls went. A handful of rows, found by
    the (kind, event) index."""
    forwarded: list[CaseEvent] = []
    if complaint.source_system == HOTLINE_SOURCE and complaint.external_id is not None:
        forwarded = list(
            session.exec(
                select(CaseEvent)
                .where(
                    CaseEvent.case_kind == "complaint", col(CaseEvent.event).in_(FOLLOW_UP_EVENTS.values())
                )
                .where(CaseEvent.case_id != complaint.id)
                .where(col(CaseEvent.data)["order_id"].as_string() == complaint.external_id)
                .order_by(col(CaseEvent.at), col(CaseEvent.id))
            ).all()
        )
    labels = {name: event_label(name) for name in FOLLOW_UP_EVENTS.values()}
    return {"events": frozenset(labels), "labels": labels, "forwarded": forwarded}
