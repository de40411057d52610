"""The transactional outbox: messages decided in the same transaction as the change that causes them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, insert
from sqlmodel import Field, Session, SQLModel, col

from models.clock import utcnow
from models.types import UTCDateTime


class NotificationStatus(StrEnum):
    PENDING = "pending"  # waiting for (re)delivery
    SENT = "sent"
    DEAD = "dead"  # permanent failure; the server's answer is kept; an admin may retry
    UNDELIVERABLE = "undeliverable"  # no address known: visible to supervisors, never sent


# One message to one recipient; ``template`` names notifications/templates/<template>.{subject,txt,html}.j2.
class Notification(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_notification_idem"),
        # The delivery claim's scan (pending, due by now); the admin list filters by status. Nothing else is
        # indexed: every index costs each of the sweep's and the import's inserts.
        Index("ix_notification_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    template: str = Field(max_length=64)
    recipient_kind: str = Field(max_length=24)  # complainant, department, supervisor, pledgor
    recipient_name: str = Field(max_length=128)
    recipient_email: str | None = Field(default=None, max_length=254)
    case_kind: str | None = Field(default=None, max_length=16)
    case_id: int | None = None
    case_number: str | None = Field(default=None, max_length=24)
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: NotificationStatus = Field(default=NotificationStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_error: str | None = Field(default=None, max_length=2000)
    idempotency_key: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    flow_run_id: str | None = Field(default=None, max_length=64)


# What the admin API returns.
class NotificationPublic(SQLModel):
    id: int
    template: str
    recipient_kind: str
    recipient_name: str
    recipient_email: str | None
    case_number: str | None
    status: NotificationStatus
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


# Context keys that are secrets for the recipient alone (the pledge access code, models/pledge_access.py):
# kept only while a mail still has to carry them, so the outbox is not a store of them in clear.
SECRET_CONTEXT_KEYS = frozenset({"access_code"})


def without_secrets(context: dict[str, Any]) -> dict[str, Any]:
    """``context`` without ``SECRET_CONTEXT_KEYS`` (the same dict when it has none)."""
    if SECRET_CONTEXT_KEYS.isdisjoint(context):
        return context
    return {k: v for k, v in context.items() if k not in SECRET_CONTEXT_KEYS}


def outbox_row(
    *,
    template: str,
    recipient_kind: str,
    recipient_name: str,
    recipient_email: str | None,
    key: str,
    context: dict[str, Any],
    now: dt.datetime,
    case_kind: str | None = None,
    case_id: int | None = None,
    case_number: str | None = None,
    flow_run_id: str | None = None,
) -> dict[str, Any]:
    """Every column of one outbox message: for ``enqueue`` and for the bulk inserts of the sweep and the
    import, so a message is the same whichever path queued it.

    ``key`` must be unique for the decision (e.g. the audit event's key plus template and recipient), so a
    re-run of the same decision cannot queue the message twice. With no address the row is recorded as
    undeliverable for supervisors to see, never dropped and never a crash.
    """
    email = recipient_email or None
    return {
        "template": template,
        "recipient_kind": recipient_kind,
        "recipient_name": recipient_name,
        "recipient_email": email,
        "case_kind": case_kind,
        "case_id": case_id,
        "case_number": case_number,
        # Never sent without an address: a secret in it would only be stored (staff hand it over instead).
        "context": context if email else without_secrets(context),
        "status": NotificationStatus.PENDING if email else NotificationStatus.UNDELIVERABLE,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None if email else "收件人没有电子邮箱地址 (no e-mail address for the recipient)",
        "idempotency_key": key[:200],
        "created_at": now,
        "sent_at": None,
        "flow_run_id": flow_run_id,
    }


_INSERT_NOTIFICATION = insert(Notification.__table__).returning(col(Notification.id))  # type: ignore[attr-defined]


def enqueue(
    *,
    session: Session,
    template: str,
    recipient_kind: str,
    recipient_name: str,
    recipient_email: str | None,
    key: str,
    context: dict[str, Any],
    case_kind: str | None = None,
    case_id: int | None = None,
    case_number: str | None = None,
    flow_run_id: str | None = None,
) -> int:
    """Add one message to the outbox in the caller's transaction (the rules are ``outbox_row``'s) and
    return its id.

    One INSERT through the table, now, rather than an object the ORM's unit of work inserts at the next
    flush (which cost several times the statement, inside the write transaction: docs/benchmarks.md).
    The caller's pending changes are flushed first, so the statements keep their order; a repeated
    ``key`` fails here (the unique constraint) rather than at the next flush."""
    values = outbox_row(
        template=template,
        recipient_kind=recipient_kind,
        recipient_name=recipient_name,
        recipient_email=recipient_email,
        key=key,
        context=context,
        now=utcnow(),
        case_kind=case_kind,
        case_id=case_id,
        case_number=case_number,
        flow_run_id=flow_run_id,
    )
    session.flush()
    new_id: int = session.execute(_INSERT_NOTIFICATION, values).scalar_one()
    return new_id
