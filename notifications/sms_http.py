"""A generic HTTP SMS gateway: one signed JSON POST per message, as the credit-platform push.

The body carries the number, the sign name, the notice's template name and provider template code (if
configured), its parameters and the rendered text, so a gateway in front of any provider can use either
form. ``X-Shouxin-Signature`` is ``sha256=`` + the HMAC-SHA256 of the body with
``SHOUXIN_SMS_GATEWAY_SECRET``; ``Idempotency-Key`` is the message's out id, the same on every attempt.
Answers (docs/integrations.md): 429 or ``{"code": "RATE_LIMITED"}`` retry, whatever the status; 408 and
5xx retry, the gateway being down; any other 4xx, and a 2xx whose body names an error code
(``TEMPLATE_NOT_APPROVED``, ``INVALID_NUMBER`` …) dead with the answer; any other 2xx sent, the
gateway's ``message_id`` stored on the row (``Answer.provider_message_id``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from models.settings import Settings
from notifications.mailer import Outcome
from notifications.platform_push import failure_in, json_object, sign
from notifications.sms import Answer, SmsMessage, provider_id

RATE_LIMITED = "RATE_LIMITED"


def payload(message: SmsMessage, settings: Settings) -> dict[str, Any]:
    """The JSON body of one message."""
    return {
        "id": message.out_id,
        "phone": message.phone,
        "sign_name": settings.sms_sign_name,
        "template": message.template,
        "template_code": settings.sms_template_codes.get(message.template),
        "params": message.params,
        "text": message.text,
    }


def classify(response: httpx.Response) -> Answer:
    """The outcome of the gateway's answer to one message. The error code in the body wins over the
    status: a gateway may answer 200 ``{"code": "RATE_LIMITED"}``, and that message was not sent."""
    answer = f"HTTP {response.status_code}: {response.text[:1500]}"
    body = json_object(response)
    code = failure_in(body) if body else None
    if response.status_code == 429 or code == RATE_LIMITED:
        return Answer(Outcome.TEMPORARY, f"触发发送频率限制，稍后重试 ({answer})")
    if response.status_code == 408 or response.status_code >= 500:
        return Answer(Outcome.TEMPORARY, answer, gateway_down=True)
    if response.is_success and code is None:
        # The gateway's own id of the message, what its delivery reports and its operators name it by.
        message_id = provider_id((body or {}).get("message_id"))
        return Answer(
            Outcome.SENT, f"message_id {message_id}" if message_id else answer, provider_message_id=message_id
        )
    return Answer(Outcome.PERMANENT, answer)


class HttpGatewaySms:
    name = "http"

    def __init__(self, settings: Settings) -> None:
        if not settings.sms_gateway_url or not settings.sms_gateway_secret:
            raise ValueError(
                "SHOUXIN_SMS_PROVIDER=http needs SHOUXIN_SMS_GATEWAY_URL and SHOUXIN_SMS_GATEWAY_SECRET"
            )
        self.settings = settings
        self.secret: str = settings.sms_gateway_secret
        self.url = settings.sms_gateway_url
        self.client = httpx.AsyncClient(timeout=settings.sms_timeout_seconds)

    async def send(self, message: SmsMessage) -> Answer:
        body = json.dumps(payload(message, self.settings), ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Shouxin-Signature": sign(body, self.secret),
            "Idempotency-Key": message.out_id,
        }
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # Not connected: the request never left, so no attempt is spent. Otherwise an attempt: the
            # gateway answers a resend of this Idempotency-Key without sending again.
            untried = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            outcome = Outcome.UNTRIED if untried else Outcome.TEMPORARY
            return Answer(outcome, f"{type(exc).__name__}: {exc}", gateway_down=True)
        return classify(response)

    async def aclose(self) -> None:
        await self.client.aclose()
