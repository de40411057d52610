"""Building and sending outbox e-mails over SMTP.

A batch goes over ONE connection: opening a TLS session and logging in per message is what makes a mail
server throttle or block a sender. Each outcome is reported through ``on_outcome`` the moment the server
answers, so the caller can record it before the next message goes out; a crash mid-batch then re-sends
at most the one message in flight, and its stable Message-ID lets the recipient's client recognise it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from enum import StrEnum

import aiosmtplib

from models.clock import utcnow
from models.outbox import Notification
from models.settings import Settings, get_settings
from notifications.render import RenderedMessage


class Outcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # try again later with back-off
    PERMANENT = "permanent"  # the server refused this message for good; retrying will not help
    # Temporary too, told apart for the outbox (notifications/outbox_service.py mark_temporary_failure):
    UNTRIED = "untried"  # never handed to the server (none configured, it is down): no attempt is spent
    UNANSWERED = "unanswered"  # no answer once the request may have arrived: the next attempt asks first


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    recipient: str
    message: EmailMessage


@dataclass(frozen=True)
class SendResult:
    notification_id: int
    outcome: Outcome
    detail: str | None = None  # the server's answer or the error, kept on the outbox row
    # The provider's id of a sent message (an SMS's BizId or gateway message id), stored when it is marked
    # sent. Never set for mail: see ``_send_each``.
    provider_message_id: str | None = None


class BatchResults(list[SendResult]):
    """One result per message of a batch (mail or SMS), in order; each is passed to ``on_outcome`` the
    moment it is known, so the caller records it before the next message goes out."""

    def __init__(self, on_outcome: Callable[[SendResult], None] | None) -> None:
        super().__init__()
        self._on_outcome = on_outcome

    def record(self, result: SendResult) -> None:
        self.append(result)
        if self._on_outcome is not None:
            self._on_outcome(result)

    def defer(self, notification_ids: Iterable[int], detail: str) -> None:
        """A temporary result with ``detail`` for each message not handed to the server: tried again after
        the back-off without spending an attempt (``UNTRIED``), since nothing about it has failed."""
        for notification_id in notification_ids:
            self.record(SendResult(notification_id, Outcome.UNTRIED, detail))


def _mail_from(settings: Settings) -> Address:
    name, addr = parseaddr(settings.mail_from)
    username, _, domain = addr.partition("@")
    return Address(display_name=name, username=username, domain=domain)


def message_id(notification_id: int, idempotency_key: str, settings: Settings | None = None) -> str:
    """The same id for every attempt at one row, so a resend after a crash is recognisable."""
    settings = settings or get_settings()
    domain = _mail_from(settings).domain or "shouxin.local"
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:12]
    return f"<notification-{notification_id}-{digest}@{domain}>"


def build_message(
    notification: Notification, rendered: RenderedMessage, *, settings: Settings | None = None
) -> EmailMessage:
    """A multipart/alternative UTF-8 message (text first, so clients prefer the HTML last part)."""
    settings = settings or get_settings()
    if notification.id is None or not notification.recipient_email:
        raise ValueError("only a stored notification with an address can be built into a message")
    username, _, domain = notification.recipient_email.partition("@")
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = rendered.subject
    msg["From"] = _mail_from(settings)
    msg["To"] = Address(display_name=notification.recipient_name, username=username, domain=domain)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id(notification.id, notification.idempotency_key, settings)
    msg["X-Shouxin-Notification"] = str(notification.id)
    # RFC 3834: tells vacation responders not to answer a mailbox nobody reads.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg


def _client(settings: Settings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_seconds,
        use_tls=settings.smtp_tls,
        # False rather than aiosmtplib's "upgrade if offered": the operator decides, not the server.
        start_tls=settings.smtp_starttls and not settings.smtp_tls,
        # With a username aiosmtplib logs in as part of connect(), so a refused login is a connect failure.
        username=settings.smtp_username or None,
        password=settings.smtp_password if settings.smtp_username else None,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{err.recipient}: {err.code} {err.message}" for err in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def classify(exc: BaseException) -> Outcome:
    """5xx answers about this message are permanent; 4xx, timeouts and lost connections are temporary."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [err.code for err in exc.recipients]
        return Outcome.PERMANENT if codes and all(code >= 500 for code in codes) else Outcome.TEMPORARY
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500:
        return Outcome.PERMANENT
    return Outcome.TEMPORARY


def _connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPTimeoutError | OSError)


_SEND_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


async def _send_each(
    client: aiosmtplib.SMTP, messages: Sequence[OutgoingMessage], results: BatchResults
) -> None:
    for index, item in enumerate(messages):
        try:
            _errors, answer = await client.send_message(item.message, recipients=[item.recipient])
        except _SEND_ERRORS as exc:
            results.record(SendResult(item.notification_id, classify(exc), _describe(exc)))
            if _connection_lost(exc) or not client.is_connected:
                results.defer(
                    (rest.notification_id for rest in messages[index + 1 :]),
                    f"连接中断，未发送 (connection lost before sending): {_describe(exc)}",
                )
                return
            continue
        # One recipient per message, so acceptance is all or nothing. The answer often names the relay's
        # queue id, but as free text in each server's own words ("Ok: queued as 4Xy…", "OK id=1rA…",
        # none at all), and only the first hop's: no provider id is read from it. The Message-ID this
        # module sets is what every relay logs and the recipient's client shows, and it names the row.
        results.record(SendResult(item.notification_id, Outcome.SENT, answer or None))


async def send_batch(
    messages: Sequence[OutgoingMessage],
    *,
    settings: Settings | None = None,
    on_outcome: Callable[[SendResult], None] | None = None,
) -> list[SendResult]:
    """Send ``messages`` over one SMTP connection and return one result per message, in order.

    A failure to connect or log in is not about any message: every message gets a temporary result with
    that error, which spends none of its attempts. A connection lost mid-batch fails the rest temporarily
    too (nor do they spend one), since reconnecting inside a batch would hide an unhealthy server from the
    back-off.
    """
    settings = settings or get_settings()
    results = BatchResults(on_outcome)
    if not messages:
        return results
    client = _client(settings)
    try:
        await client.connect()
    except _SEND_ERRORS as exc:
        client.close()
        results.defer(
            (item.notification_id for item in messages),
            f"无法连接邮件服务器 (connect/login failed): {_describe(exc)}",
        )
        return results
    try:
        await _send_each(client, messages, results)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except _SEND_ERRORS:
                client.close()
    return results
