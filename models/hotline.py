"""Results back to the 12345 hotline platform (12345 工单结果回传): the outbox of messages it is owed.

A case handed in by the platform (``Complaint.source_system`` = ``HOTLINE_SOURCE``) reports the stage
changes the platform tracks its order by: accepted, not accepted (with the reason), merged into another
case, dispatched, signed for, returned by the department, paused for the complainant's supplement and
resumed, extended, replied, redone, closed (with the satisfaction; a complaint withdrawn by the complainant
is closed too), reopened. Each carries the deadline of the stage the case is then in, where one runs: the
platform keeps its own 工单 time limits.
Each is one ``HotlineMessage`` written in the same transaction as the event (``report_stage_change``,
called where an action fires its event), idempotent by ``message_id`` (the platform de-duplicates on it
too: ``Idempotency-Key``), delivered in the order written per case. An order merged into another case
(并单) is handled as that case: each stage of the case it joined is also written for it, under its own
order id, so every order reaches its ending; one merged into a case already replied to gets that reply
when it joins (``report_standing_reply``).
The domain writes and changes the rows; notifications/hotline_push.py delivers them over HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, func, update
from sqlmodel import Field, Session, SQLModel, col, select

from models.audit import CaseEvent
from models.clock import iso_date, utcnow
from models.complaint import PENDING_DEADLINE_LABEL, Complaint, merged_into, why_not_accepted
from models.delivery_queue import (
    HANDLED_NOTE_MAX,
    HTTP_TIMEOUT_SECONDS,
    claim_in_order,
    doubling_backoff,
    still_claimed,
)
from models.errors import NotFound
from models.lifecycle import COMPLAINT
from models.org import Department
from models.privacy import publication_text
from models.types import UTCDateTime

HOTLINE_SOURCE = "12345"
# After this many failed attempts a message is dead and an admin retries it. The budget must outlast an
# overnight maintenance window of the platform with room to spare: the back-off between the first and the
# last attempt (``retry_window``) is 2,883 minutes, about 48 hours (1+2+4+…+32 minutes, then 47 hours).
MAX_ATTEMPTS = 54
MAX_BACKOFF = dt.timedelta(hours=1)

# The events the platform is told of, with the stage it knows them by (docs/integrations.md).
STAGES: dict[str, str] = {
    "accept": "accepted",
    "reject": "not_accepted",
    "merge": "merged",
    "dispatch": "dispatched",
    # The department took the order on (签收): one that did not is the platform's to chase.
    "sign_for": "signed",
    # The clock stops while the complainant supplies material, and runs again with a new deadline.
    "await_complainant": "paused",
    "resume": "resumed",
    # Only an approved extension moves the deadline; a request or a refusal leaves it where it was.
    "approve_extension": "extended",
    # The department gave the order back: nobody handles it until it is dispatched again.
    "return_order": "returned",
    "reply": "replied",
    # Sent back after an unsatisfied return visit, or reopened after closing: the earlier reply or closing
    # no longer stands, and the platform must not keep showing it.
    "redo": "redone",
    "close": "closed",
    "close_unsatisfied": "closed",
    "close_unreachable": "closed",
    # 投诉人撤回: the order ends closed, ``result`` closed_withdrawn, no satisfaction (nobody was visited).
    "withdraw": "closed",
    "reopen": "reopened",
    # The lead department was retired (机构改革) and its successor handles the order: a dispatch to it.
    "department_succeeded": "dispatched",
    # A deadline 待日历确定 got its date once the year's holiday notice was loaded, or a corrected notice
    # moved it (models/pending_deadlines.py, ``report_deadlines_dated``): the platform's clock follows.
    "deadline_resolved": "deadline_set",
    "deadline_recomputed": "deadline_set",
}
# What each stage is called on the admin's outbox page.
STAGE_LABELS: dict[str, str] = {
    "accepted": "已受理",
    "not_accepted": "不予受理",
    "merged": "已并单",
    "dispatched": "已转办",
    "signed": "已签收",
    "paused": "暂停计时（待投诉人补充）",
    "resumed": "恢复计时",
    "extended": "已延期",
    "returned": "已退单",
    "replied": "已答复",
    "redone": "重办",
    "closed": "已办结",
    "reopened": "已重启",
    "deadline_set": "办理期限确定或调整",
}
# The satisfaction each closing reports: ``close`` carries the complainant's own answer.
_CLOSING_SATISFACTION = {"close_unsatisfied": "不满意", "close_unreachable": "无法联系"}


class HotlineMessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # refused (4xx) or out of attempts; the last answer is kept; an admin may retry
    # An admin passed the result on another way (entered it on the 12345 system by hand) and said how:
    # never sent, and the later messages of its case go on.
    HANDLED = "handled"


class HotlineMessage(SQLModel, table=True):
    __tablename__ = "hotline_message"
    __table_args__ = (Index("ix_hotline_message_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=96, unique=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    stage: str = Field(max_length=24)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: HotlineMessageStatus = Field(default=HotlineMessageStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # Who settled a dead message by hand, how, and when (``mark_handled``).
    handled_by: str | None = Field(default=None, max_length=64)
    handled_note: str | None = Field(default=None, max_length=HANDLED_NOTE_MAX)
    handled_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _department(session: Session, department_id: int | None) -> dict[str, str] | None:
    dept = session.get(Department, department_id) if department_id else None
    return {"code": dept.code, "name": dept.name} if dept else None


def _department_by_code(session: Session, code: str | None) -> dict[str, str] | None:
    dept = session.exec(select(Department).where(Department.code == code)).first() if code else None
    return {"code": dept.code, "name": dept.name} if dept else None


def _case_ref(case: Complaint | None) -> dict[str, str | None] | None:
    """A case as the platform can name it: our number, and its own order id if the case came from it."""
    if case is None:
        return None
    order = case.external_id if case.source_system == HOTLINE_SOURCE else None
    return {"case_number": case.number, "order_id": order}


def message_payload(session: Session, case: Complaint, event: CaseEvent, stage: str) -> dict[str, Any]:
    """The message for ``event``: what the platform needs to update its order, and no personal data (it
    has the caller's; the complaint's other parties are none of its business beyond the department).

    Free text (a reason, the reply, the closing note, another route's wording) was written by staff and
    may name the caller or a phone number: it goes through the publication filter, the caller's name
    known, like anything else that leaves the system."""
    payload = _stage_fields(session, case, event, stage)
    # A pause's reason is what the complainant is asked to supply (models/complaints/actions.py ``_await``).
    if event.event in ("reject", "return_order", "redo", "reopen", "await_complainant"):
        payload["reason"] = event.data.get("reason") or event.note
    if event.event == "reject":
        payload["route"] = _route(event)
    for key in _FREE_TEXT:
        if payload.get(key):
            payload[key] = publication_text(payload[key], names=[case.complainant_name])
    route = payload.get("route")
    if route and route.get("guidance"):
        route["guidance"] = publication_text(route["guidance"], names=[case.complainant_name])
    return payload


# The payload's fields written by staff in their own words (docs/integrations.md, "extra fields").
_FREE_TEXT = ("reason", "reply", "note")


def _stage_fields(session: Session, case: Complaint, event: CaseEvent, stage: str) -> dict[str, Any]:
    """The message's fields as the event recorded them (filtered by ``message_payload``)."""
    payload: dict[str, Any] = {
        "message_id": f"{case.number}:{event.seq}",
        "source_system": case.source_system,
        "order_id": case.external_id,
        "case_number": case.number,
        "stage": stage,
        "event": event.event,
        "occurred_at": _iso(event.at),
        **_deadline(session, case, event),
    }
    if event.event in _CLOCK_EVENTS:
        payload.update(_clock_fields(session, case, event))
    elif event.event == "merge":
        target_id = event.data.get("target_id")
        payload["merged_into"] = _case_ref(session.get(Complaint, target_id) if target_id else None)
    elif event.event == "return_order":
        payload["department"] = _department(session, event.data.get("returned_by_department_id"))
    elif event.event == "redo":
        payload["department"] = _department(session, case.lead_department_id)
        payload["redo_count"] = event.data.get("redo")
        payload["satisfaction"] = event.data.get("satisfaction")  # the return visit's answer: 不满意
    elif event.event == "dispatch":
        # The event is recorded before the case's lead department is set: the event names it.
        payload["department"] = _department_by_code(session, event.data.get("lead"))
    elif event.event == "department_succeeded":
        payload["department"] = _department(session, case.lead_department_id)
        payload["reason"] = event.note
    elif event.event == "reply":
        payload["department"] = _department(session, case.lead_department_id)
        payload["reply"] = event.note
    elif stage == "closed":
        payload["result"] = str(case.state)
        payload["satisfaction"] = _CLOSING_SATISFACTION.get(event.event) or event.data.get("satisfaction")
        if event.note:
            payload["note"] = event.note
    return payload


def _deadline(session: Session, case: Complaint, event: CaseEvent) -> dict[str, Any]:
    """The deadline the platform's clock runs to once ``event`` is applied: the date of the stage the case
    is in (for a merged order, the case now handling it), null where none runs (the stage has none, the
    case ended, or its clock is paused), ``deadline_pending`` while the calendar cannot date it yet."""
    if event.event in ("resume", "approve_extension"):
        # Their handlers move the deadline after the event is recorded; the event names the new one.
        recorded = event.data.get("new_deadline")
        pending = recorded == PENDING_DEADLINE_LABEL
        return {"deadline": None if pending else recorded, "deadline_pending": pending}
    joined = event.data.get("target_id") if event.event == "merge" else None
    clock = (session.get(Complaint, joined) if joined else None) or case
    if COMPLAINT.state(clock.state).clock_paused:
        return {"deadline": None, "deadline_pending": False}
    return {"deadline": iso_date(clock.stage_deadline), "deadline_pending": bool(clock.deadline_pending)}


# The events that move the platform's clock without changing who handles the order or what it was told.
_CLOCK_EVENTS = (
    "sign_for", "await_complainant", "resume", "approve_extension", "deadline_resolved", "deadline_recomputed"
)  # fmt: skip


def _clock_fields(session: Session, case: Complaint, event: CaseEvent) -> dict[str, Any]:
    """A clock event's fields besides its deadline: the department whose clock it is (none for a case
    paused before its dispatch), and what moved it."""
    fields: dict[str, Any] = {"department": _department(session, case.lead_department_id)}
    if event.event == "await_complainant":
        fields["caller_asked"] = True  # this order's caller; ``_add_for_merged`` says no for the others
    elif event.event == "resume":
        fields["paused_working_days"] = event.data.get("paused_working_days")
    elif event.event == "approve_extension":
        fields["extension_days"] = event.data.get("days")
        fields["reason"] = _extension_request_reason(session, case, event)
        if event.note:
            fields["note"] = event.note  # the approver's own remark, if any
    elif event.event in ("deadline_resolved", "deadline_recomputed"):
        fields["old_deadline"] = event.data.get("old_deadline")  # absent: the date was pending
        fields["reason"] = event.note  # the system's: dated by the notice or moved by its correction
    return fields


def _extension_request_reason(session: Session, case: Complaint, approval: CaseEvent) -> str | None:
    """Why the department asked for the time ``approval`` granted: the reason of the request it decided
    (the latest before it; one per stage)."""
    return session.exec(
        select(CaseEvent.note)
        .where(
            CaseEvent.case_kind == "complaint",
            CaseEvent.case_id == case.id,
            CaseEvent.event == "request_extension",
            col(CaseEvent.seq) < approval.seq,
        )
        .order_by(col(CaseEvent.seq).desc())
        .limit(1)
    ).first()


def _route(event: CaseEvent) -> dict[str, str | None] | None:
    """Where a caller not accepted should go (RULEBOOK complaints §3): the route's code and the sentence
    the complainant's mail and tracking page give, which the platform's agent reads out to the caller."""
    code = event.data.get("route")
    if not code:  # a rejection recorded before the route was kept
        return None
    return {"code": str(code), "guidance": why_not_accepted([event])[1]}


def _merged_hotline_cases(session: Session, case_id: int) -> list[Complaint]:
    """The 12345 cases merged into ``case_id``, directly or through a case merged into it."""
    return [c for c in merged_into(session, case_id) if c.source_system == HOTLINE_SOURCE]


def report_stage_change(session: Session, case: Complaint, event: CaseEvent) -> None:
    """Queue the platform's message for ``event`` if the platform tracks this stage: for the case if it
    came from 12345, and for each 12345 case merged into it (whatever the case's own source), which the
    platform knows only by its own order. Nothing otherwise. In the caller's transaction, so the messages
    exist iff the change does."""
    stage = STAGES.get(event.event)
    if stage is None or case.id is None:
        return
    payload = message_payload(session, case, event, stage)
    if case.source_system == HOTLINE_SOURCE:
        session.add(
            HotlineMessage(
                message_id=payload["message_id"], complaint_id=case.id, stage=stage, payload=payload
            )
        )
    # A merged order follows the case handling it (for a merge, the case this one joined).
    handling = payload.get("merged_into") or _case_ref(case)
    for merged in _merged_hotline_cases(session, case.id):
        _add_for_merged(session, merged, case, event, payload, handling)


def report_standing_reply(
    session: Session, *, target: Complaint, reply: CaseEvent, joining: Sequence[Complaint]
) -> None:
    """The cases ``joining`` have just been merged into ``target``, which was already replied to
    (已答复（待回访）, its ``reply`` event): the reply reaches their 12345 orders now, as it reaches their
    complainants (models/complaints/merging.py, which found the reply and the cases), since
    ``report_stage_change`` wrote it only for the orders merged before. The message is the one such an
    order got, under the same id, so it is never written twice. Nothing for a case from another channel."""
    orders = [c for c in joining if c.source_system == HOTLINE_SOURCE]
    if not orders:
        return
    payload = message_payload(session, target, reply, STAGES["reply"])
    # The platform files its order's stages by time: the reply reaches these orders at the merge, and a
    # copy dated at the reply (before the order's own ``merged``) would read as answered before it joined.
    payload["occurred_at"] = _iso(max(reply.at, _joined_at(session, joining)))
    for order in orders:
        _add_for_merged(session, order, target, reply, payload, _case_ref(target))


def _joined_at(session: Session, joining: Sequence[Complaint]) -> dt.datetime:
    """When ``joining`` joined their target: the latest ``merge`` among them (the one just recorded)."""
    ids = [c.id for c in joining if c.id is not None]
    latest = session.exec(
        select(func.max(CaseEvent.at)).where(
            CaseEvent.case_kind == "complaint", col(CaseEvent.case_id).in_(ids), CaseEvent.event == "merge"
        )
    ).one()
    return latest or utcnow()


def _add_for_merged(
    session: Session,
    merged: Complaint,
    case: Complaint,
    event: CaseEvent,
    payload: dict[str, Any],
    handling: dict[str, str | None] | None,
) -> None:
    """``case``'s message for ``event`` to the 12345 order ``merged`` (joined to ``handling``)."""
    assert merged.id is not None
    # Its own id per order: the handling case's number and event seq make it unique and stable.
    message_id = f"{merged.number}:{case.number}:{event.seq}"
    copy = {
        **payload,
        "message_id": message_id,
        "source_system": HOTLINE_SOURCE,
        "order_id": merged.external_id,
        "case_number": merged.number,
        "merged_into": handling,
    }
    # The free text passed the publication filter with ``case``'s complainant named (``message_payload``):
    # another caller's order gets it as a third party would.
    if "satisfaction" in copy:
        # The answer was the handling case's complainant's (or 无法联系: they could not be reached); this
        # order's caller was never visited, and the platform would record it against their order. The
        # closing note is about that visit too (it may name the other caller's number): not theirs to get.
        copy["satisfaction"] = None
        copy.pop("note", None)
    if "caller_asked" in copy:
        # The handling case's clock stopped, so this order's did too; but its caller was asked for nothing,
        # and what the other caller was asked to supply is theirs (the merged complainant's tracking page
        # likewise shows only that the case waits for another complainant's material).
        copy["caller_asked"] = False
        copy.pop("reason", None)
    session.add(
        HotlineMessage(message_id=message_id, complaint_id=merged.id, stage=payload["stage"], payload=copy)
    )


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failure: 1 min, 2, 4 … capped at 1 h."""
    return doubling_backoff(attempts, cap=MAX_BACKOFF)


def retry_window() -> dt.timedelta:
    """How long the platform may stay unreachable before a message dies: the back-off between its first
    attempt and its last (the ``MAX_ATTEMPTS``-th)."""
    return sum((backoff(n) for n in range(1, MAX_ATTEMPTS)), dt.timedelta())


def claim_due(
    *, session: Session, now: dt.datetime, limit: int = 200, timeout: float = HTTP_TIMEOUT_SECONDS
) -> list[HotlineMessage]:
    """The pending messages due at ``now`` in the order written, leased to the caller for as long as the
    batch can take with ``timeout`` (seconds) per request (models/delivery_queue.py ``http_lease``).

    A case's messages go in order: one is left out while an earlier one of its case is pending and not
    due (waiting for its back-off, or leased to another run), or dead (waiting for an admin). Each row's
    ``next_attempt_at`` is its lease's end: pass it as ``leased_until`` when recording the outcome. The
    caller commits the claim before it starts sending.
    """
    pending, dead = HotlineMessageStatus.PENDING, HotlineMessageStatus.DEAD
    claimed = claim_in_order(
        session,
        HotlineMessage,
        "complaint_id",
        now=now,
        statuses=(pending,),
        waiting_status=pending,
        blocking_status=dead,
        limit=limit,
        timeout=timeout,
    )
    # populate_existing: rows already in the session get their lease, not the values read before it.
    rows = session.exec(
        select(HotlineMessage)
        .where(col(HotlineMessage.id).in_(claimed.statuses))
        .order_by(col(HotlineMessage.id))
        .execution_options(populate_existing=True)
    )
    return list(rows)


def message_by_id(session: Session, message_id: int) -> HotlineMessage:
    row = session.get(HotlineMessage, message_id)
    if row is None:
        raise NotFound(f"12345 回传消息 {message_id} 不存在 (hotline message not found)", id=message_id)
    return row


def _settle(session: Session, message_id: int, leased_until: dt.datetime, **values: Any) -> bool:
    """Record an outcome on a message still pending under the lease ending ``leased_until``; False (and
    nothing changed) when it was claimed again since, or already settled."""
    claimed = still_claimed(
        HotlineMessage, message_id, status=HotlineMessageStatus.PENDING, leased_until=leased_until
    )
    settled = session.execute(
        update(HotlineMessage).where(*claimed).values(**values).returning(col(HotlineMessage.id))
    )
    return settled.first() is not None


def release(*, session: Session, message_id: int, now: dt.datetime, leased_until: dt.datetime) -> bool:
    """Give back a claimed message that was not sent (an earlier one of its case failed): due at once, it
    waits behind that one by the order rule of ``claim_due``."""
    return _settle(session, message_id, leased_until, next_attempt_at=now)


def mark_sent(*, session: Session, message_id: int, now: dt.datetime, leased_until: dt.datetime) -> bool:
    """The platform took the message: it is never sent again."""
    return _settle(
        session, message_id, leased_until, status=HotlineMessageStatus.SENT, sent_at=now, last_error=None,
        attempts=HotlineMessage.attempts + 1,
    )  # fmt: skip


def mark_refused(*, session: Session, message_id: int, error: str, leased_until: dt.datetime) -> bool:
    """The platform refused the message for good (4xx): dead, its answer kept for an admin."""
    return _settle(
        session, message_id, leased_until, status=HotlineMessageStatus.DEAD, last_error=error[:2000],
        attempts=HotlineMessage.attempts + 1,
    )  # fmt: skip


def mark_failed(
    *, session: Session, message_id: int, error: str, now: dt.datetime, leased_until: dt.datetime
) -> HotlineMessageStatus | None:
    """No answer, or one worth retrying: due again after the back-off (pending); dead after
    ``MAX_ATTEMPTS``. The status recorded, or None (nothing changed) when the lease was lost."""
    attempts = message_by_id(session, message_id).attempts + 1
    # The lease guards the count read above too: no other run records on this row while it holds.
    if attempts >= MAX_ATTEMPTS:
        died = _settle(
            session, message_id, leased_until, status=HotlineMessageStatus.DEAD, attempts=attempts,
            last_error=error[:2000],
        )  # fmt: skip
        return HotlineMessageStatus.DEAD if died else None
    waits = _settle(
        session, message_id, leased_until, attempts=attempts, last_error=error[:2000],
        next_attempt_at=now + backoff(attempts),
    )  # fmt: skip
    return HotlineMessageStatus.PENDING if waits else None
