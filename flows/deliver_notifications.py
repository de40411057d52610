"""Deliver the notification outbox by e-mail and SMS, every minute.

Domain services only queue messages (``models.outbox.enqueue``) in the transaction that decides them; this
flow is what sends them, so a slow or broken mail server or SMS gateway never holds up a case. It claims
due rows in batches and hands each batch (ids only) to one task that renders the messages, sends the
e-mails over one SMTP connection and the SMS through the configured provider (notifications/sms.py), and
records each outcome as the server answers. Temporary failures back off (1 min doubling to
1 h); permanent ones are kept as dead with the server's answer for an admin to retry. Missed runs need no
catch-up of their own: whatever is due is simply still pending.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy.engine import Engine

from models.clock import utcnow
from models.db import get_engine, session_scope
from models.outbox import NOT_A_MOBILE, Channel, Notification, NotificationStatus, mobile_number
from models.settings import get_settings
from notifications.mailer import Outcome, OutgoingMessage, SendResult, build_message, send_batch
from notifications.outbox_service import (
    claim_due,
    mark_dead,
    mark_sent,
    mark_temporary_failure,
    mark_undeliverable,
)
from notifications.render import render
from notifications.sms import SmsMessage, build_sms, send_sms_batch

SCHEDULE = {"cron": "* * * * *", "timezone": "Asia/Shanghai"}

# Messages per SMTP connection: large enough to amortise the TLS handshake and login, small enough that
# a batch finishes well inside the claim lease even at the SMTP timeout.
MAIL_BATCH_SIZE = 100

Counts = dict[str, int]
BatchRunner = Callable[[list[int]], Awaitable[Counts]]


def _empty() -> Counts:
    return {"sent": 0, "retry": 0, "dead": 0}


def _count(counts: Counts, row: Notification) -> None:
    if row.status == NotificationStatus.SENT:
        counts["sent"] += 1
    elif row.status == NotificationStatus.DEAD:
        counts["dead"] += 1
    elif row.status == NotificationStatus.PENDING:
        counts["retry"] += 1


def _prepare(
    engine: Engine, ids: list[int], stamp: Callable[[], dt.datetime], counts: Counts
) -> tuple[list[OutgoingMessage], list[SmsMessage]]:
    """Render the claimed rows; one that cannot be rendered is dead now, since retrying cannot fix it."""
    messages: list[OutgoingMessage] = []
    texts: list[SmsMessage] = []
    settings = get_settings()
    with session_scope(engine) as session:
        for notification_id in ids:
            row = session.get(Notification, notification_id)
            if row is None or row.status != NotificationStatus.PENDING or row.id is None:
                continue
            if row.channel == Channel.SMS:
                phone = mobile_number(row.recipient_phone)
                if phone is None:
                    mark_undeliverable(session=session, notification_id=row.id, reason=NOT_A_MOBILE)
                    continue
                try:
                    texts.append(build_sms(row.id, row.idempotency_key, phone, row.template, row.context))
                except Exception as exc:  # as for e-mail below: about this row only
                    error = f"短信内容生成失败 (SMS render failed): {type(exc).__name__}: {exc}"
                    mark_dead(session=session, notification_id=row.id, now=stamp(), error=error)
                    _count(counts, row)
                continue
            if not row.recipient_email:
                # Only reachable if an address was removed after queueing: park it where supervisors look.
                mark_undeliverable(session=session, notification_id=row.id)
                continue
            try:
                message = build_message(row, render(row.template, row.context), settings=settings)
            # Any failure here is about this one row (unknown template, missing key, bad value); the
            # rest of the batch must still go out.
            except Exception as exc:
                error = f"通知内容生成失败 (render failed): {type(exc).__name__}: {exc}"
                mark_dead(session=session, notification_id=row.id, now=stamp(), error=error)
                _count(counts, row)
                continue
            messages.append(OutgoingMessage(row.id, row.recipient_email, message))
    return messages, texts


def _record(engine: Engine, result: SendResult, stamp: Callable[[], dt.datetime], counts: Counts) -> None:
    """One small transaction per message, committed before the next one is sent: never send twice."""
    with session_scope(engine) as session:
        if result.outcome is Outcome.SENT:
            row = mark_sent(
                session=session,
                notification_id=result.notification_id,
                now=stamp(),
                provider_message_id=result.provider_message_id,
            )
        elif result.outcome is Outcome.PERMANENT:
            row = mark_dead(
                session=session,
                notification_id=result.notification_id,
                now=stamp(),
                error=result.detail or "permanent failure",
            )
        else:
            row = mark_temporary_failure(
                session=session,
                notification_id=result.notification_id,
                now=stamp(),
                error=result.detail or "temporary failure",
                outcome=result.outcome,
            )
        _count(counts, row)


async def deliver_ids(
    ids: list[int], *, engine: Engine | None = None, now: dt.datetime | None = None
) -> Counts:
    """Render, send (e-mails over one SMTP connection, SMS through the provider) and record the outcome
    of each claimed notification."""
    engine = engine or get_engine()
    # A given ``now`` (tests, replays) stamps everything; otherwise each write gets the real time.
    stamp: Callable[[], dt.datetime] = (lambda: now) if now is not None else utcnow
    counts = _empty()
    messages, texts = _prepare(engine, ids, stamp, counts)

    def record(result: SendResult) -> None:
        _record(engine, result, stamp, counts)

    await send_batch(messages, on_outcome=record)
    await send_sms_batch(texts, on_outcome=record)
    return counts


def _claim(engine: Engine, now: dt.datetime, limit: int) -> list[int]:
    with session_scope(engine) as session:
        return claim_due(session=session, now=now, limit=limit)


async def _deliver_loop(
    *, engine: Engine, now: dt.datetime | None, limit: int, batch_size: int, run_batch: BatchRunner
) -> Counts:
    totals = _empty()
    claimed = 0
    # Claimed rows are leased into the future, so each round sees only rows not handled yet.
    while claimed < limit:
        ids = _claim(engine, now or utcnow(), min(batch_size, limit - claimed))
        if not ids:
            break
        claimed += len(ids)
        counts = await run_batch(ids)
        for key in totals:
            totals[key] += counts.get(key, 0)
    return totals


def deliver_due(
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
    limit: int | None = None,
    batch_size: int = MAIL_BATCH_SIZE,
) -> Counts:
    """Deliver up to ``limit`` due notifications without Prefect; returns counts {sent, retry, dead}.

    For tests and the CLI; it runs its own event loop, so call it from synchronous code only.
    """
    engine = engine or get_engine()

    async def run_batch(ids: list[int]) -> Counts:
        return await deliver_ids(ids, engine=engine, now=now)

    return asyncio.run(
        _deliver_loop(
            engine=engine,
            now=now,
            limit=limit or get_settings().batch_size,
            batch_size=batch_size,
            run_batch=run_batch,
        )
    )


# No task retries: every failure is already recorded on its row and retried by the outbox back-off;
# a Prefect retry would re-send messages the server had accepted.
@task(name="deliver-notification-batch")
async def deliver_batch(ids: list[int]) -> Counts:
    """Send one batch of claimed notifications (e-mail over one SMTP connection, SMS one by one)."""
    return await deliver_ids(ids)


@flow(name="deliver_notifications")
async def deliver_notifications(limit: int | None = None, batch_size: int = MAIL_BATCH_SIZE) -> Counts:
    """Send every due outbox message, one task per batch of ``batch_size``; returns {sent, retry, dead}.

    Async: a sync flow run waits about a second at its end for Prefect's heartbeat thread, which a short
    run every minute would spend waiting.
    """

    async def run_batch(ids: list[int]) -> Counts:
        result: Any = await deliver_batch(ids)
        return dict(result)

    totals = await _deliver_loop(
        engine=get_engine(),
        now=None,
        limit=limit or get_settings().batch_size,
        batch_size=batch_size,
        run_batch=run_batch,
    )
    get_run_logger().info("通知投递完成 (notifications delivered): %s", totals)
    return totals
