"""The transactional outbox: messages decided in the same transaction as the change that causes them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, insert
from sqlmodel import Field, Session, SQLModel, col, select

from models.clock import utcnow
from models.settings import get_settings
from models.types import UTCDateTime


class NotificationStatus(StrEnum):
    PENDING = "pending"  # waiting for (re)delivery
    SENT = "sent"
    DEAD = "dead"  # permanent failure; the server's answer is kept; an admin may retry
    UNDELIVERABLE = "undeliverable"  # no address known: visible to supervisors, never sent


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


# How staff pages name a channel a notice went by ("已通过邮件和短信发送").
DELIVERY_CHANNEL_LABELS = {Channel.EMAIL: "邮件", Channel.SMS: "短信"}


# Why a row is never sent, shown on the admin notifications page.
NO_EMAIL = "收件人没有电子邮箱地址 (no e-mail address for the recipient)"
NOT_A_MOBILE = "联系电话不是手机号码，不发送短信，请电话联系 (not a mobile number: landlines are not texted)"
SMS_OFF = (
    "未配置短信服务或配置不完整，且收件人没有电子邮箱地址"
    " (no SMS provider configured, or its key or URL is missing, and no e-mail address)"
)
NO_SMS_TEXT = "该通知没有短信模板，且收件人没有电子邮箱地址 (no SMS text for this notice, no e-mail address)"

# A mainland mobile: 11 digits starting 13-19, optionally written with +86 (or 0086) and spaces or dashes.
# ASCII digits only: \d would take Arabic-Indic and other scripts' digits, which no gateway can dial.
_MOBILE = re.compile(r"(?:\+86|0086)?(1[3-9]\d{9})", re.ASCII)
_SEPARATORS = re.compile(r"[\s\-()]")


def mobile_number(phone: str | None) -> str | None:
    """The 11-digit mobile number in ``phone``, or None for a landline, a short number or anything else."""
    if not phone:
        return None
    match = _MOBILE.fullmatch(_SEPARATORS.sub("", phone))
    return match[1] if match else None


# The width of ``Notification.provider_message_id`` (migration 0029): a longer id is not stored at all.
PROVIDER_MESSAGE_ID_MAX = 128


# One message to one recipient over one channel; ``template`` names notifications/templates/
# <template>.{subject,txt,html}.j2 for e-mail and <template>.sms.j2 for SMS.
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
    # The channel this row goes by; a recipient reached both ways has one row per channel.
    # A plain string column (a ``Channel`` value): no database enum type to migrate when a channel is added.
    channel: str = Field(
        default=Channel.EMAIL.value,
        sa_column=Column(String(8), nullable=False, server_default=Channel.EMAIL.value),
    )
    recipient_phone: str | None = Field(default=None, max_length=32)
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
    # The id the provider gave the message when it took it (an SMS gateway's message id, Alibaba Cloud's
    # BizId): what its delivery reports and its support desk name the message by. Set in the write that
    # marks the row sent; none for mail (notifications/mailer.py says why) nor for rows sent before 0029.
    provider_message_id: str | None = Field(default=None, max_length=PROVIDER_MESSAGE_ID_MAX)


# What the admin API returns.
class NotificationPublic(SQLModel):
    id: int
    template: str
    recipient_kind: str
    recipient_name: str
    recipient_email: str | None
    channel: str = Channel.EMAIL.value
    case_number: str | None
    status: NotificationStatus
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    # The SMS provider's id of the sent message (BizId, the gateway's message_id): what to quote to it.
    provider_message_id: str | None = None


# Context keys that are secrets for the recipient alone (the pledge access code, models/pledges/access.py):
# kept only while a mail still has to carry them, so the outbox is not a store of them in clear. A row
# leaves the queue without them whatever its end: sent (the recipient has the secret), dead or
# undeliverable (never sent as it stands; the pledgor gets a fresh code by a re-issue instead).
SECRET_CONTEXT_KEYS = frozenset({"access_code"})
# The notices queued with a secret in their context (registration and import, and the code's re-issue);
# tests/test_access_code_at_rest.py keeps this and the template files in step.
SECRET_TEMPLATES = frozenset({"pledge_registered", "pledge_access_code"})


def without_secrets(context: dict[str, Any]) -> dict[str, Any]:
    """``context`` without ``SECRET_CONTEXT_KEYS`` (the same dict when it has none)."""
    if SECRET_CONTEXT_KEYS.isdisjoint(context):
        return context
    return {k: v for k, v in context.items() if k not in SECRET_CONTEXT_KEYS}


def leave_queue(row: Notification, status: NotificationStatus) -> None:
    """``row`` stops being sent, as ``status``. Sent, the recipient has its secret (an access code);
    dead or undeliverable, it is not sent as it stands any more (``retry_dead`` refuses such a row):
    either way the outbox keeps no copy of the secret. Here, not in notifications/, so the domain can end
    a row too (a re-issued code voids the one a pending notice carries: models/pledges/access.py)."""
    row.status = status
    row.context = without_secrets(row.context)


def secret_removed(template: str, context: dict[str, Any]) -> bool:
    """Whether a row of ``template`` has lost the secret it was queued with, so that sending it again
    would carry no code (or fail to render): the pledgor needs a re-issued code instead."""
    return template in SECRET_TEMPLATES and not SECRET_CONTEXT_KEYS <= context.keys()


# The notices that have an SMS text (notifications/templates/<name>.sms.j2): the complainant's, the
# pledgor's and the breach record subject's, short and with what to do next. Any other notice goes by
# e-mail only. tests/test_sms.py keeps this and the files in step.
SMS_TEMPLATES = frozenset(
    {
        "complaint_received",
        "complaint_not_accepted",
        "complaint_replied",
        "complaint_merged",
        "complaint_return_visit",
        "complaint_closed_unresolved",
        "complaint_redone",
        "complaint_closed",
        "complaint_withdrawn",
        "complaint_awaiting_supplement",
        "complaint_reopened",
        "pledge_registered",
        "pledge_access_code",
        "pledge_reminder",
        "pledge_overdue",
        "pledge_prepublication",
        "pledge_evidence_received",
        "pledge_evidence_accepted",
        "pledge_evidence_rejected",
        "pledge_published",
        "pledge_publication_day_set",
        "pledge_cancelled",
        "pledge_found_false",
        "pledge_false_recorded",
        "deadline_set",
        "objection_received",
        "objection_decision",
        "repair_received",
        "repair_decision",
    }
)
_SMS_KEY_SUFFIX = ":sms"


def preferred_channels(recipient_kind: str) -> frozenset[Channel]:
    """The channels ``SHOUXIN_NOTIFICATION_CHANNELS`` asks for when a recipient can be reached both ways."""
    choice = get_settings().notification_channels_for(recipient_kind)
    if choice == "both":
        return frozenset({Channel.EMAIL, Channel.SMS})
    return frozenset({Channel(choice)})


def _channels(
    template: str, recipient_kind: str, email: str | None, phone: str | None
) -> tuple[list[Channel], Channel, str]:
    """The channels a message goes by, and when there is none the channel and reason of its one
    undeliverable row."""
    sms_on = get_settings().sms_configured
    reachable = [Channel.EMAIL] if email else []
    if sms_on and template in SMS_TEMPLATES and mobile_number(phone):
        reachable.append(Channel.SMS)
    if len(reachable) > 1:
        preferred = preferred_channels(recipient_kind)
        return [channel for channel in reachable if channel in preferred], Channel.EMAIL, ""
    if reachable or not phone:
        return reachable, Channel.EMAIL, NO_EMAIL
    if not sms_on:
        return [], Channel.EMAIL, SMS_OFF
    if template not in SMS_TEMPLATES:
        return [], Channel.EMAIL, NO_SMS_TEXT
    # An SMS was the way to reach this recipient, and the number cannot take one: say so on that channel.
    return [], Channel.SMS, NOT_A_MOBILE


def _row(
    channel: Channel,
    email: str | None,
    phone: str | None,
    error: str | None,
    key: str,
    context: dict[str, Any],
    now: dt.datetime,
    columns: dict[str, Any],
) -> dict[str, Any]:
    # The e-mail row keeps the decision's key as it always had; the SMS row's is suffixed.
    if channel is Channel.EMAIL:
        stored_key = key[:200]
    else:
        stored_key = key[: 200 - len(_SMS_KEY_SUFFIX)] + _SMS_KEY_SUFFIX
    return {
        **columns,
        "recipient_email": email,
        "channel": channel.value,
        "recipient_phone": phone,
        # Never sent without an address: a secret in it would only be stored (staff hand it over instead).
        "context": without_secrets(context) if error else context,
        "status": NotificationStatus.UNDELIVERABLE if error else NotificationStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": error,
        "idempotency_key": stored_key,
        "created_at": now,
        "sent_at": None,
    }


def outbox_rows(
    *,
    template: str,
    recipient_kind: str,
    recipient_name: str,
    recipient_email: str | None,
    key: str,
    context: dict[str, Any],
    now: dt.datetime,
    recipient_phone: str | None = None,
    case_kind: str | None = None,
    case_id: int | None = None,
    case_number: str | None = None,
    flow_run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Every column of the outbox rows of one message, one row per channel it goes by: for ``enqueue``
    and for the bulk inserts of the sweep and the import, so a message is the same whichever path queued
    it.

    ``key`` must be unique for the decision (e.g. the audit event's key plus template and recipient), so a
    re-run of the same decision cannot queue the message twice; the SMS row's key is ``key`` + ``:sms``.
    A recipient with only an e-mail address gets e-mail; with only a mobile number, SMS (when an SMS
    provider is configured and the notice has an SMS text); with both, ``preferred_channels`` decides.
    A landline is kept on the row but never texted. With no way to reach the recipient there is one row,
    undeliverable with the reason, for supervisors to see: never dropped and never a crash.
    """
    email = recipient_email or None
    phone = recipient_phone or None
    columns = {
        "template": template,
        "recipient_kind": recipient_kind,
        "recipient_name": recipient_name,
        "case_kind": case_kind,
        "case_id": case_id,
        "case_number": case_number,
        "flow_run_id": flow_run_id,
    }
    chosen, fallback, reason = _channels(template, recipient_kind, email, phone)
    # _row's arguments by position (one call per row of every bulk path: no keyword dict to build).
    if not chosen:
        return [_row(fallback, email, phone, reason, key, context, now, columns)]
    return [
        _row(channel, email, None, None, key, context, now, columns)
        if channel is Channel.EMAIL
        else _row(channel, None, mobile_number(phone), None, key, context, now, columns)
        for channel in chosen
    ]


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
    """The one e-mail row of a message to a recipient known by e-mail address only (the bulk paths'
    pledgors and departments); the rules are ``outbox_rows``'s."""
    (row,) = outbox_rows(
        template=template,
        recipient_kind=recipient_kind,
        recipient_name=recipient_name,
        recipient_email=recipient_email,
        key=key,
        context=context,
        now=now,
        case_kind=case_kind,
        case_id=case_id,
        case_number=case_number,
        flow_run_id=flow_run_id,
    )
    return row


def key_stem(stored: str) -> str:
    """The part of a stored key that the e-mail and SMS rows of one message share (``_row`` cuts both)."""
    return stored.removesuffix(_SMS_KEY_SUFFIX)[: 200 - len(_SMS_KEY_SUFFIX)]


def queued_channels(*, session: Session, case_kind: str, case_id: int, template: str) -> list[Channel]:
    """The channels the newest ``template`` notice about the case was queued for (``outbox_rows``'s rows
    of one message: an e-mail row, an SMS row, or both, e-mail first), or none: its one row is
    undeliverable (no address), or no such notice was queued. The staff pages say from this how the
    recipient was told, and that a printed notice is the only way when nothing was sent.

    The rows of one message are the newest of the case and template and share its key (the SMS row's with
    ``:sms`` appended); a message has at most one row per channel."""
    newest = session.exec(
        select(Notification)
        .where(Notification.case_kind == case_kind, Notification.case_id == case_id)
        .where(Notification.template == template)
        .order_by(col(Notification.id).desc())
        .limit(len(Channel))
    ).all()
    if not newest:
        return []
    stem = key_stem(newest[0].idempotency_key)
    found = {
        Channel(row.channel)
        for row in newest
        if key_stem(row.idempotency_key) == stem and row.status != NotificationStatus.UNDELIVERABLE
    }
    return [channel for channel in Channel if channel in found]


def delivered_by_other_channel(*, session: Session, rows: Sequence[Notification]) -> dict[int, Channel]:
    """For each of ``rows`` (dead rows) whose message's row on the other channel was sent, that channel:
    the recipient has what the message carried by it. A message's rows share the case, the template and
    the key stem (``key_stem``), as ``queued_channels`` reads them."""
    rows = [n for n in rows if n.case_id is not None]
    if not rows:
        return {}
    sent = session.exec(
        select(Notification)
        .where(Notification.status == NotificationStatus.SENT)
        .where(col(Notification.case_id).in_({n.case_id for n in rows}))
        .where(col(Notification.template).in_({n.template for n in rows}))
    ).all()
    messages = {(s.case_kind, s.case_id, s.template, key_stem(s.idempotency_key), s.channel) for s in sent}
    found: dict[int, Channel] = {}
    for n in rows:
        stem = key_stem(n.idempotency_key)
        for channel in Channel:
            if channel != n.channel and (n.case_kind, n.case_id, n.template, stem, channel) in messages:
                assert n.id is not None
                found[n.id] = channel
    return found


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
    recipient_phone: str | None = None,
    case_kind: str | None = None,
    case_id: int | None = None,
    case_number: str | None = None,
    flow_run_id: str | None = None,
) -> int:
    """Add one message to the outbox in the caller's transaction, one row per channel (the rules are
    ``outbox_rows``'s), and return the id of its first row (the e-mail one when it goes by both).

    One INSERT per row through the table, now, rather than an object the ORM's unit of work inserts at
    the next flush (which cost several times the statement, inside the write transaction:
    docs/benchmarks.md). The caller's pending changes are flushed first, so the statements keep their
    order; a repeated ``key`` fails here (the unique constraint) rather than at the next flush."""
    rows = outbox_rows(
        template=template,
        recipient_kind=recipient_kind,
        recipient_name=recipient_name,
        recipient_email=recipient_email,
        key=key,
        context=context,
        now=utcnow(),
        recipient_phone=recipient_phone,
        case_kind=case_kind,
        case_id=case_id,
        case_number=case_number,
        flow_run_id=flow_run_id,
    )
    session.flush()
    ids: list[int] = [session.execute(_INSERT_NOTIFICATION, values).scalar_one() for values in rows]
    return ids[0]
