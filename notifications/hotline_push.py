"""Delivering the 12345 platform's result messages (models/hotline.py) over HTTP.

The same protocol as the credit-platform push (notifications/platform_push.py ``deliver``): signed JSON
(``X-Shouxin-Signature: sha256=<HMAC-SHA256 of the body>``), ``Idempotency-Key`` = the message id, 2xx
taken, 5xx/408/429/no answer retried after the back-off, any other 4xx dead. Nothing goes unsigned: with
the URL set and no secret the run sends nothing and logs an error. Messages are leased when
claimed, for as long as the whole batch can take, and each outcome is committed the moment the platform
answers (only while the lease holds), so a crash mid-batch re-sends at most the one message in flight
(which the platform recognises by its id).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.clock import utcnow
from models.hotline import (
    HotlineMessage,
    HotlineMessageStatus,
    claim_due,
    mark_failed,
    mark_refused,
    mark_sent,
    release,
)
from models.hotline_admin import held_behind_dead
from models.settings import get_settings
from notifications.platform_push import Outcome, deliver

log = logging.getLogger(__name__)


@dataclass
class HotlinePushReport:
    sent: int = 0
    retried: int = 0  # failed in this run, still pending: tried again after the back-off
    dead: int = 0  # refused in this run, or failed for the last time (``MAX_ATTEMPTS``)
    # Pending messages that wait for an earlier one of their case: one that failed in this run, or one
    # dead (from this run or before) that an admin must retry or settle.
    held: int = 0
    skipped: bool = False  # no hotline URL configured: messages stay pending
    # A URL without a secret: nothing is sent (unsigned results could be forged by anyone), messages stay
    # pending; logged as an error.
    unsigned: bool = False


def _record(
    engine: Engine, message: HotlineMessage, outcome: Outcome, detail: str | None, now: dt.datetime
) -> HotlineMessageStatus | None:
    """Record the platform's answer; the status the message is in now, or None when the lease was lost
    (another run took the message over and records its own outcome)."""
    assert message.id is not None
    # The claim left the lease's end on the row: the outcome is recorded only while that lease holds.
    lease = message.next_attempt_at
    status: HotlineMessageStatus | None
    with Session(engine) as session:
        if outcome is Outcome.SENT:
            done = mark_sent(session=session, message_id=message.id, now=now, leased_until=lease)
            status = HotlineMessageStatus.SENT if done else None
        elif outcome is Outcome.REFUSED:
            done = mark_refused(
                session=session, message_id=message.id, error=detail or "", leased_until=lease
            )
            status = HotlineMessageStatus.DEAD if done else None
        else:
            status = mark_failed(
                session=session, message_id=message.id, error=detail or "", now=now, leased_until=lease
            )
        session.commit()
    if status is None:
        log.warning("12345 回传消息 %s 已被另一次推送接管，本次结果未记录 (lease lost)", message.message_id)
    return status


def push_due(
    *, engine: Engine, now: dt.datetime | None = None, limit: int = 200, timeout: float = 10.0
) -> HotlinePushReport:
    """Deliver the messages whose time has come, in the order written per case."""
    settings = get_settings()
    report = HotlinePushReport()
    if not settings.hotline_url:
        report.skipped = True
        return report
    if not settings.hotline_secret:
        # Signing with an empty key would let anyone forge our results: hold them until a secret is set.
        report.unsigned = True
        log.error(
            "已配置 SHOUXIN_HOTLINE_URL 但未配置 SHOUXIN_HOTLINE_SECRET：12345 回传消息不发送，滞留待发送"
            " (hotline URL set without a secret: results are not sent and stay pending)"
        )
        return report
    moment = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        claimed = claim_due(session=session, now=moment, limit=limit, timeout=timeout)
        session.commit()
    held: set[int] = set()  # cases whose message did not go in this run: their later ones wait
    released: set[int] = set()
    with httpx.Client(timeout=timeout) as client:
        for message in claimed:
            assert message.id is not None
            if message.complaint_id in held:
                with Session(engine) as session:
                    release(
                        session=session,
                        message_id=message.id,
                        now=moment,
                        leased_until=message.next_attempt_at,
                    )
                    session.commit()
                released.add(message.id)
                continue
            outcome, detail = deliver(
                client,
                settings.hotline_url,
                settings.hotline_secret,
                message.message_id,
                message.payload,
            )
            status = _record(engine, message, outcome, detail, moment)
            if outcome is Outcome.SENT:
                report.sent += 1
                continue
            # Counted by what the message became: the last failed attempt makes it dead, not retried.
            if status is HotlineMessageStatus.DEAD:
                report.dead += 1
            elif status is HotlineMessageStatus.PENDING:
                report.retried += 1
            held.add(message.complaint_id)
    # Messages behind a dead one are never claimed, so the run's own count would miss them.
    with Session(engine) as session:
        report.held = len(released.union(held_behind_dead(session=session)))
    return report
