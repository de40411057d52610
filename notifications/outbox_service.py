"""Outbox state changes: claim what is due, record each delivery outcome, let an admin retry.

Claiming leases rows the way every outbox does (models/delivery_queue.py ``claim``): a second worker stays
off a row while the first is still talking to the mail server, and a worker that dies mid-batch leaves its
rows to come due again when the lease runs out.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from models.clock import utcnow
from models.delivery_queue import FIRST_BACKOFF, MIN_LEASE, claim, doubling_backoff, lease_for
from models.errors import Conflict, NotFound
from models.lifecycle import PLEDGE, ROLE_LABELS, STAFF_ROLES
from models.outbox import NO_EMAIL, Notification, NotificationStatus, leave_queue, secret_removed
from models.settings import get_settings
from notifications.mailer import Outcome

MAX_ATTEMPTS = 12
# The pledge action that replaces a code lost with a dead notice (models/pledges/access.py REISSUE_EVENT).
_REISSUE_EVENT = "reissue_access_code"
MAX_BACKOFF = dt.timedelta(hours=1)
# The shortest lease (the shared one); see ``claim_lease`` for a slow server's longer batch.
CLAIM_LEASE = MIN_LEASE
_SMTP_COMMANDS_PER_MESSAGE = 3  # MAIL FROM, RCPT TO, DATA
_SMS_WAITS_PER_MESSAGE = 2  # connecting, then the provider's answer


# Context key of an SMS row: the ISO times of attempts that may have been sent. In the context because
# that is what reaches the sender (notifications/sms.py ``build_sms``); templates never name it.
MAYBE_SENT_KEY = "_maybe_sent_at"


def claim_lease(count: int) -> dt.timedelta:
    """How long ``count`` claimed rows stay leased to the claiming worker: a batch's worst case (every
    message waiting out the SMTP timeout on each of its commands), never under ``CLAIM_LEASE``."""
    settings = get_settings()
    # A batch holds one channel's messages; the slower channel's worst case covers either.
    per_message = max(
        settings.smtp_timeout_seconds * _SMTP_COMMANDS_PER_MESSAGE,
        settings.sms_timeout_seconds * _SMS_WAITS_PER_MESSAGE,
    )
    return lease_for(count, seconds_per_row=per_message)


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failure: 1 min, 2, 4 … capped at 1 h."""
    return doubling_backoff(attempts, cap=MAX_BACKOFF)


def untried_wait(row: Notification, now: dt.datetime) -> dt.timedelta:
    """Wait after a run that could not try the row (``Outcome.UNTRIED``): as long again as it has been queued,
    1 min to 1 h. That doubles like ``backoff`` without counting anything, so a long outage costs a row
    one write an hour rather than one a minute."""
    return min(max(now - row.created_at, FIRST_BACKOFF), MAX_BACKOFF)


def claim_due(*, session: Session, now: dt.datetime, limit: int) -> list[int]:
    """Ids of pending rows due at ``now``, oldest first, leased to the caller (see ``claim_lease``)."""
    claimed = claim(
        session,
        Notification,
        now=now,
        statuses=(NotificationStatus.PENDING,),
        limit=limit,
        lease=claim_lease,
        order_by=(col(Notification.next_attempt_at), col(Notification.id)),
    )
    return list(claimed.statuses)


def _get(session: Session, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"通知 {notification_id} 不存在 (notification not found)", id=notification_id)
    return row


def mark_sent(
    *, session: Session, notification_id: int, now: dt.datetime, provider_message_id: str | None = None
) -> Notification:
    """The server accepted the message, giving it ``provider_message_id`` (an SMS provider's id, kept so
    its delivery reports and support desk can be matched to the row). A row that is no longer pending is
    left as it is."""
    row = _get(session, notification_id)
    if row.status != NotificationStatus.PENDING:
        return row
    leave_queue(row, NotificationStatus.SENT)
    row.attempts += 1
    row.sent_at = now
    row.last_error = None
    row.provider_message_id = provider_message_id
    session.add(row)
    return row


def mark_temporary_failure(
    *,
    session: Session,
    notification_id: int,
    now: dt.datetime,
    error: str,
    outcome: Outcome = Outcome.TEMPORARY,
) -> Notification:
    """Count the attempt and back off; after ``MAX_ATTEMPTS`` the row is dead for an admin to look at.

    An ``UNTRIED`` outcome (nothing reached the server: none configured, it is down) backs off without
    counting (``untried_wait``), so an outage, however long, cannot make a row dead; an ``UNANSWERED`` one
    (the request may have reached a provider that does not recognise a resend) also notes the time on the
    row, and the next attempt asks the provider first. Either way ``last_error`` says why the row waits."""
    row = _get(session, notification_id)
    if row.status != NotificationStatus.PENDING:
        return row
    row.last_error = error[:2000]
    if outcome is Outcome.UNTRIED:
        row.next_attempt_at = now + untried_wait(row, now)
        session.add(row)
        return row
    row.attempts += 1
    if outcome is Outcome.UNANSWERED:
        # A new dict: the JSON column notices an assignment, not a change inside it.
        row.context = {**row.context, MAYBE_SENT_KEY: [*row.context.get(MAYBE_SENT_KEY, []), now.isoformat()]}
    if row.attempts >= MAX_ATTEMPTS:
        leave_queue(row, NotificationStatus.DEAD)
    else:
        row.next_attempt_at = now + backoff(row.attempts)
    session.add(row)
    return row


def mark_dead(*, session: Session, notification_id: int, now: dt.datetime, error: str) -> Notification:
    """A permanent failure (e.g. a 5xx answer, a template that cannot render): keep the reason, stop."""
    row = _get(session, notification_id)
    if row.status != NotificationStatus.PENDING:
        return row
    row.attempts += 1
    leave_queue(row, NotificationStatus.DEAD)
    row.last_error = error[:2000]
    row.next_attempt_at = now
    session.add(row)
    return row


def mark_undeliverable(*, session: Session, notification_id: int, reason: str = NO_EMAIL) -> Notification:
    """A pending row that has lost its address: shown to supervisors with ``reason``, never sent."""
    row = _get(session, notification_id)
    if row.status != NotificationStatus.PENDING:
        return row
    leave_queue(row, NotificationStatus.UNDELIVERABLE)
    row.last_error = reason
    session.add(row)
    return row


def code_reissuers() -> str:
    """Who may re-issue a pledge's access code, from the lifecycle table: not the admin who retries dead
    notices, and who cannot open a pledge, so the messages that send them there name who can."""
    roles = PLEDGE.transition(_REISSUE_EVENT).roles
    return "、".join(ROLE_LABELS[role] for role in STAFF_ROLES if role in roles)


def retry_dead(*, session: Session, notification_id: int, now: dt.datetime | None = None) -> Notification:
    """An admin sends a dead row again: back to pending, due at once, with a fresh attempt budget.

    A row that was queued with an access code lost it when it died (``leave_queue``): sent again it would
    carry no code, or not render at all, so it is refused. The pledgor gets a fresh code through the
    pledge's re-issue (``reissue_access_code``), which queues its own notice and voids the old code, never
    delivered; the registration notice itself can be printed from the pledge's page."""
    row = _get(session, notification_id)
    if row.status != NotificationStatus.DEAD:
        raise Conflict(
            f"只能重发发送失败（dead）的通知；该通知当前状态为 {row.status.value}，无需重发"
            f" (only dead notifications can be retried; this one is {row.status.value})",
            id=notification_id,
            status=row.status.value,
        )
    if secret_removed(row.template, row.context):
        raise Conflict(
            f"该通知原载有办理码，发送失败时已删除，不能重发；请联系{code_reissuers()}在承诺"
            f" {row.case_number or ''} 的页面“重新发放办理码”，新办理码将另行发送给承诺人，原办理码作废"
            " (this notice carried an access code, removed when it failed: intake, the authority's handler"
            " or a supervisor re-issues the code on the pledge, which sends a fresh one)",
            id=notification_id,
            case_number=row.case_number,
        )
    row.status = NotificationStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now or utcnow()
    # last_error stays until the next attempt, so the admin still sees why it had died.
    session.add(row)
    return row


def list_notifications(
    *,
    session: Session,
    status: NotificationStatus | None = None,
    limit: int = 50,
    after_id: int | None = None,
    provider_message_id: str | None = None,
    case_number: str | None = None,
) -> list[Notification]:
    """A page of notifications in id order; pass the last id seen as ``after_id`` for the next page.

    ``provider_message_id`` finds the row an SMS provider's delivery report or support ticket names,
    ``case_number`` the rows of the case a recipient asks about (with their provider ids): exact matches,
    surrounding blanks ignored (pasted ids often carry them)."""
    query = select(Notification)
    if status is not None:
        query = query.where(Notification.status == status)
    if provider_message_id is not None:
        query = query.where(Notification.provider_message_id == provider_message_id.strip())
    if case_number is not None:
        query = query.where(Notification.case_number == case_number.strip())
    if after_id is not None:
        query = query.where(col(Notification.id) > after_id)
    return list(session.exec(query.order_by(col(Notification.id)).limit(limit)))
