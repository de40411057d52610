"""SMS notifications: their texts, the provider interface and sending a batch of them.

An SMS row of the outbox (``Notification.channel == "sms"``) is rendered from
``templates/<template>.sms.j2``: one short zh-CN line with the case number and what to do, using only plain
context variables (no filters), so that the same template is what a cloud provider approves with
``${name}`` placeholders (``approval_text``) and the values it substitutes are ``sms_params``.

Providers (``sms_aliyun.AliyunSms``, ``sms_http.HttpGatewaySms``) answer each message with an ``Answer``:
sent (with the provider's id of the message when it gave one, stored on the row), temporary (retry after
the outbox back-off) or permanent (dead with the reason). Each outcome is reported through ``on_outcome``
the moment the provider answers, so the caller records it before the next message goes out. Every
attempt at one row carries the same ``out_id``: the generic gateway must answer a repeated one without
sending again, while Alibaba Cloud keeps it only as a tracking field, so after an attempt without an
answer (``maybe_sent_at``) that adapter looks the id up before sending again. A gateway that is down
(no answer, 5xx) fails the rest of the batch temporarily without trying them, and without spending their
attempts: the back-off, not a burst of timeouts, decides when to try again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import meta

from models.outbox import PROVIDER_MESSAGE_ID_MAX
from models.settings import Settings, get_settings
from notifications.mailer import BatchResults, Outcome, SendResult
from notifications.outbox_service import MAYBE_SENT_KEY
from notifications.render import ENV


@dataclass(frozen=True)
class SmsMessage:
    notification_id: int
    out_id: str  # the same for every attempt at one row, to look it up or (the gateway) refuse a resend
    phone: str  # 11 digits
    template: str
    text: str
    params: dict[str, str]
    # When earlier attempts ended without an answer once the provider may have had them (``MaybeSent``).
    maybe_sent_at: tuple[dt.datetime, ...] = ()


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    detail: str | None = None  # the provider's answer or the error, kept on the outbox row
    gateway_down: bool = False  # no answer or a server error: the rest of the batch waits too
    # The provider's id of a message it took (``provider_id``), stored on the row marked sent.
    provider_message_id: str | None = None


def provider_id(value: object) -> str | None:
    """The id a provider gave a message, as stored: a string or a number of at most
    ``PROVIDER_MESSAGE_ID_MAX`` printable characters (the column's width), or None. Anything else is not
    kept rather than cut or coerced: an id is only worth storing if it matches the provider's records
    exactly."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    if not text or len(text) > PROVIDER_MESSAGE_ID_MAX or not text.isprintable():
        return None
    return text


class SmsProvider(Protocol):
    """One way of sending an SMS; ``send`` never raises for a delivery problem, it answers."""

    name: str

    async def send(self, message: SmsMessage) -> Answer: ...

    async def aclose(self) -> None: ...


def _source(template: str) -> str:
    loader = ENV.loader
    if loader is None:  # the module's environment always has one; this keeps mypy honest
        raise RuntimeError("template environment without a loader")
    source, _filename, _uptodate = loader.get_source(ENV, f"{template}.sms.j2")
    return source


def sms_variables(template: str) -> tuple[str, ...]:
    """The context keys the SMS text of ``template`` uses, sorted: its provider template's parameters."""
    return tuple(sorted(meta.find_undeclared_variables(ENV.parse(_source(template))) - set(ENV.globals)))


def render_sms(template: str, context: dict[str, Any]) -> str:
    """The text of one SMS, on one line; a missing context key raises ``jinja2.UndefinedError``."""
    text = ENV.get_template(f"{template}.sms.j2").render(context)
    return " ".join(text.split())


def sms_params(template: str, context: dict[str, Any]) -> dict[str, str]:
    """The values a provider substitutes into its approved template (TemplateParam for Alibaba Cloud)."""
    values = {name: context[name] for name in sms_variables(template) if name in context}
    missing = set(sms_variables(template)) - set(values)
    if missing:
        # The same failure rendering gives, so a row missing a key dies the same way on every channel.
        render_sms(template, context)
    return {name: str(value) for name, value in values.items()}


def approval_text(template: str) -> str:
    """The text to submit for a provider's approval: the template with ``${name}`` placeholders."""
    return render_sms(template, {name: "${" + name + "}" for name in sms_variables(template)})


def out_id(notification_id: int, idempotency_key: str) -> str:
    """The id every attempt at one SMS row carries (Alibaba Cloud's OutId, the gateway's Idempotency-Key)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:12]
    return f"shouxin-{notification_id}-{digest}"


def build_sms(
    notification_id: int, idempotency_key: str, phone: str, template: str, context: dict[str, Any]
) -> SmsMessage:
    return SmsMessage(
        notification_id=notification_id,
        out_id=out_id(notification_id, idempotency_key),
        phone=phone,
        template=template,
        text=render_sms(template, context),
        params=sms_params(template, context),
        maybe_sent_at=tuple(dt.datetime.fromisoformat(at) for at in context.get(MAYBE_SENT_KEY, [])),
    )


def provider_from_settings(settings: Settings) -> SmsProvider | None:
    """The configured provider, or None when SMS is off or its settings are incomplete: a key or secret
    missing too, since a request signed with an empty key is one anybody could forge."""
    # The same predicate that decides at queueing time whether SMS is on (models/outbox.py ``_channels``).
    if not settings.sms_configured:
        return None
    if settings.sms_provider == "aliyun":
        from notifications.sms_aliyun import AliyunSms

        return AliyunSms(settings)
    if settings.sms_provider == "http":
        from notifications.sms_http import HttpGatewaySms

        return HttpGatewaySms(settings)
    return None


NO_PROVIDER = (
    "未配置短信服务或配置不完整，未发送 (no SMS provider configured, or its key or URL is missing: not sent)"
)


async def send_sms_batch(
    messages: Sequence[SmsMessage],
    *,
    settings: Settings | None = None,
    on_outcome: Callable[[SendResult], None] | None = None,
    provider: SmsProvider | None = None,
) -> list[SendResult]:
    """Send ``messages`` one by one through the configured provider; one result per message, in order.

    With no provider configured (SMS turned off after these were queued) every message stays pending
    with that reason, spending no attempt: nothing is lost, and an admin sees why it has not gone.
    """
    settings = settings or get_settings()
    results = BatchResults(on_outcome)
    if not messages:
        return results
    provider = provider or provider_from_settings(settings)
    if provider is None:
        results.defer((item.notification_id for item in messages), NO_PROVIDER)
        return results
    try:
        for index, item in enumerate(messages):
            answer = await provider.send(item)
            results.record(
                SendResult(item.notification_id, answer.outcome, answer.detail, answer.provider_message_id)
            )
            if answer.gateway_down:
                results.defer(
                    (rest.notification_id for rest in messages[index + 1 :]),
                    f"短信服务不可用，未发送 (SMS gateway unavailable, not sent): {answer.detail}",
                )
                break
    finally:
        await provider.aclose()
    return results
