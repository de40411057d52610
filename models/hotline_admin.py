"""Operating the 12345 results outbox (models/hotline.py): what the admin page, `shouxin hotline` and
health list and count (which messages are dead, which wait behind one and behind which), and sending dead
messages again or settling them by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import exists, func, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.complaint import Complaint
from models.delivery_queue import (
    settle_by_hand,
)
from models.errors import Conflict
from models.hotline import (
    HOTLINE_SOURCE,
    HotlineMessage,
    HotlineMessageStatus,
    message_by_id,
)


def retry_dead(*, session: Session, message_id: int, now: dt.datetime) -> HotlineMessage:
    """An admin sends a dead message again: pending, due at once, a fresh attempt budget."""
    row = message_by_id(session, message_id)
    if row.status != HotlineMessageStatus.DEAD:
        raise Conflict(
            f"只能重发发送失败（dead）的回传消息；该消息当前状态为 {row.status.value}"
            f" (only dead messages can be retried; this one is {row.status.value})",
            id=message_id,
            status=row.status.value,
        )
    row.status, row.attempts, row.next_attempt_at = HotlineMessageStatus.PENDING, 0, now
    session.add(row)  # last_error stays until the next attempt: the admin still sees why it died
    return row


def retry_all_dead(*, session: Session, now: dt.datetime) -> int:
    """After an outage or a fix on the platform's side: every dead message pending again, due at once, with
    a fresh attempt budget (as ``retry_dead``); how many were requeued. Each case's still go in order."""
    requeued = session.execute(
        update(HotlineMessage)
        .where(col(HotlineMessage.status) == HotlineMessageStatus.DEAD)
        .values(status=HotlineMessageStatus.PENDING, attempts=0, next_attempt_at=now)
        .returning(col(HotlineMessage.id))
    )
    return len(requeued.all())


def mark_handled(
    *, session: Session, message_id: int, note: str, by: str, now: dt.datetime
) -> HotlineMessage:
    """An admin records that a dead message's result reached the 12345 platform another way (``note``
    says how): it is never sent, and the later messages of its case, held back behind it, go on."""
    row = message_by_id(session, message_id)
    settle_by_hand(
        session, row, dead=HotlineMessageStatus.DEAD, handled=HotlineMessageStatus.HANDLED, note=note, by=by,
        now=now, what="发送失败（dead）的回传消息", state_label=lambda status: str(status.value),
    )  # fmt: skip
    return row


def list_messages(
    *,
    session: Session,
    status: HotlineMessageStatus | None = None,
    order_id: str | None = None,
    limit: int = 50,
) -> list[HotlineMessage]:
    """The latest messages (newest first), of one status and of one 12345 order if given."""
    query = select(HotlineMessage)
    if status is not None:
        query = query.where(HotlineMessage.status == status)
    if order_id:
        # Every message is filed under the 12345 case of its order (a merged order's under its own case).
        cases = select(Complaint.id).where(
            Complaint.source_system == HOTLINE_SOURCE, Complaint.external_id == order_id.strip()
        )
        query = query.where(col(HotlineMessage.complaint_id).in_(cases))
    return list(session.exec(query.order_by(col(HotlineMessage.id).desc()).limit(limit)))


def waiting_behind(*, session: Session, messages: Sequence[HotlineMessage]) -> dict[int, HotlineMessage]:
    """For each pending message of ``messages`` that waits for an earlier one of its case (pending: in
    back-off or sent first, or dead: until an admin acts), that earliest unsettled one, by message id.
    A message not listed goes when it is due (``claim_due`` holds back exactly these)."""
    pending = [m for m in messages if m.status == HotlineMessageStatus.PENDING and m.id is not None]
    if not pending:
        return {}
    unsettled = session.exec(
        select(HotlineMessage)
        .where(
            col(HotlineMessage.complaint_id).in_({m.complaint_id for m in pending}),
            col(HotlineMessage.status).in_((HotlineMessageStatus.PENDING, HotlineMessageStatus.DEAD)),
        )
        .order_by(col(HotlineMessage.id))
    )
    first: dict[int, HotlineMessage] = {}
    for row in unsettled:
        first.setdefault(row.complaint_id, row)
    return {
        m.id: first[m.complaint_id]
        for m in pending
        if m.id is not None and (first[m.complaint_id].id or 0) < m.id
    }


def held_behind_dead(*, session: Session) -> list[int]:
    """The pending messages that cannot go until an admin retries or settles a dead one of their case."""
    earlier = aliased(HotlineMessage)
    dead_before = exists().where(
        col(earlier.complaint_id) == col(HotlineMessage.complaint_id),
        col(earlier.id) < col(HotlineMessage.id),
        col(earlier.status) == HotlineMessageStatus.DEAD,
    )
    query = select(HotlineMessage.id).where(
        HotlineMessage.status == HotlineMessageStatus.PENDING, dead_before
    )
    return [i for i in session.exec(query) if i is not None]


def dead_count(*, session: Session) -> int:
    """Messages refused for good or out of attempts, waiting for an admin."""
    query = (
        select(func.count())
        .select_from(HotlineMessage)
        .where(HotlineMessage.status == HotlineMessageStatus.DEAD)
    )
    return session.exec(query).one()
