"""Alibaba Cloud SMS (短信服务, API version 2017-05-25) through its official SDK: one SendSms per message.

SendSms takes PhoneNumbers, SignName, TemplateCode (an approved template, configured per notice in
``SHOUXIN_SMS_TEMPLATE_CODES``), TemplateParam (JSON of the template's variables) and OutId (our id for
the message, the same on every attempt). It answers ``{"Code": "OK", "BizId": …, "RequestId": …}`` or an
error code, in the body of a 200 answer or of a 4xx one (which the SDK raises); the codes are mapped here
to retry or dead letter (docs/integrations.md, "SMS").

SendSms is not idempotent: OutId is only echoed in the delivery records, and a second SendSms is a second
SMS, billed. So an attempt that got no answer after its request may have gone out is ``UNANSWERED``, and
the next attempt first looks for the OutId with QuerySendDetails (by number and date): found, the row is
sent; not found, it is sent now; the lookup failing, nothing is sent and the row waits.

The ``BizId`` of an answered SendSms is stored on the row it marks sent (``Answer.provider_message_id``).
It cannot narrow that lookup: a row is looked up only because its attempt got no answer, so it has no
BizId, and QuerySendDetails' records carry none either, so a row found there is marked sent without one
(its OutId, ``sms.out_id`` of the row, is what Alibaba Cloud's records name it by then).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import utils_models as openapi_models
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from models.settings import Settings
from notifications.mailer import Outcome
from notifications.sms import Answer, SmsMessage, provider_id

# QuerySendDetails' SendDate is the mainland date, whatever timezone Shouxin is configured with.
_SEND_DATE_TZ = ZoneInfo("Asia/Shanghai")
_PAGE_SIZE = 50  # QuerySendDetails' largest page
# A number gets a handful of texts a day from one account (the provider's own per-number day limit), so
# a few pages always hold them all.
_MAX_PAGES = 4
# Errors that mean the request never left: nothing can have been sent, so no lookup is needed later.
_NOT_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)

# Codes about this message that no retry can fix: dead, with the reason, for an admin to look at.
PERMANENT_CODES = {
    "isv.SMS_TEMPLATE_ILLEGAL": "短信模板未审核通过或不存在",
    "isv.MOBILE_NUMBER_ILLEGAL": "手机号码格式错误或不存在",
    "isv.SMS_SIGNATURE_ILLEGAL": "短信签名未审核通过或不存在",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少对应参数值",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "模板变量里包含非法关键字",
    "isv.PARAM_LENGTH_LIMIT": "模板变量超出长度限制",
    "isv.INVALID_JSON_PARAM": "TemplateParam 不是合法的 JSON",
    "isv.BLACK_KEY_CONTROL_LIMIT": "短信内容含有禁止发送的关键字",
    "isv.INVALID_PARAMETERS": "参数格式不正确",
    "isv.MOBILE_IN_BLACK": "该手机号码在黑名单中",
}
# Codes that say "not now": rate limits (per number: per minute, hour and day), an account out of
# credit, the provider's own trouble. Anything not listed in either map is retried too, until the outbox
# gives up after its attempt budget, with the answer kept.
TEMPORARY_CODES = {
    "isv.BUSINESS_LIMIT_CONTROL": "触发发送频率限制，稍后重试",
    "isv.DAY_LIMIT_CONTROL": "触发日发送限额，稍后重试",
    "isv.AMOUNT_NOT_ENOUGH": "短信账户余额不足，充值后重试",
    "isv.OUT_OF_SERVICE": "短信业务停机，恢复后重试",
    "isp.SYSTEM_ERROR": "短信服务系统错误，稍后重试",
    "Throttling.User": "调用频率超限，稍后重试",
}


def classify_code(code: str, message: str | None) -> Answer:
    """The outcome of a SendSms answer with ``Code`` = ``code``."""
    if code == "OK":
        return Answer(Outcome.SENT, message)
    if code in PERMANENT_CODES:
        return Answer(Outcome.PERMANENT, f"{PERMANENT_CODES[code]} ({code}: {message or ''})")
    reason = TEMPORARY_CODES.get(code, "短信服务拒绝发送，稍后重试")
    return Answer(Outcome.TEMPORARY, f"{reason} ({code}: {message or ''})")


class AliyunSms:
    name = "aliyun"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        config = openapi_models.Config(
            access_key_id=settings.aliyun_sms_access_key_id or "",
            access_key_secret=settings.aliyun_sms_access_key_secret or "",
            endpoint=settings.aliyun_sms_endpoint,
            protocol=settings.aliyun_sms_protocol,
        )
        self.client = Client(config)
        timeout_ms = int(settings.sms_timeout_seconds * 1000)
        # The outbox retries with its own back-off; the SDK's retries would hide an outage from it.
        self.runtime = RuntimeOptions(connect_timeout=timeout_ms, read_timeout=timeout_ms, autoretry=False)

    async def send(self, message: SmsMessage) -> Answer:
        template_code = self.settings.sms_template_codes.get(message.template)
        if not template_code:
            return Answer(
                Outcome.PERMANENT,
                f"未配置该通知的短信模板编号 (no Alibaba Cloud template code for {message.template}: "
                "set SHOUXIN_SMS_TEMPLATE_CODES)",
            )
        if message.maybe_sent_at:
            earlier = await self._earlier_send(message)
            if earlier is not None:
                return earlier
        request = sms_models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=self.settings.sms_sign_name,
            template_code=template_code,
            template_param=json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            out_id=message.out_id,
        )
        try:
            response = await self.client.send_sms_with_options_async(request, self.runtime)
        except TeaException as exc:
            return _from_exception(exc)
        # Anything else before an answer (a reset connection, a timeout, a malformed reply): retried, and
        # the rest of the batch waits for the back-off.
        except Exception as exc:
            return Answer(_unanswered(exc), f"{type(exc).__name__}: {exc}", gateway_down=True)
        body = response.body
        answer = classify_code(str(body.code or ""), body.message)
        if answer.outcome is Outcome.SENT:
            return Answer(
                Outcome.SENT,
                f"BizId {body.biz_id}, RequestId {body.request_id}",
                provider_message_id=provider_id(body.biz_id),
            )
        return answer

    async def _earlier_send(self, message: SmsMessage) -> Answer | None:
        """Sent, if Alibaba Cloud has a record with the message's OutId on a date an unanswered attempt
        may have reached it; None if it has none; a temporary answer, not sending, if the lookup fails."""
        # The request of an attempt recorded at ``at`` left up to both timeouts earlier, maybe the day before.
        window = dt.timedelta(seconds=2 * self.settings.sms_timeout_seconds + 60)
        for send_date in send_dates(message.maybe_sent_at, window=window):
            for page in range(1, _MAX_PAGES + 1):
                request = sms_models.QuerySendDetailsRequest(
                    phone_number=message.phone, send_date=send_date, page_size=_PAGE_SIZE, current_page=page
                )
                try:
                    response = await self.client.query_send_details_with_options_async(request, self.runtime)
                except Exception as exc:
                    return _lookup_failed(f"{type(exc).__name__}: {exc}", gateway_down=_no_answer(exc))
                body = response.body
                if str(body.code or "") != "OK":
                    return _lookup_failed(f"{body.code}: {body.message or ''}", gateway_down=False)
                records = (
                    (body.sms_send_detail_dtos.sms_send_detail_dto or []) if body.sms_send_detail_dtos else []
                )
                found = next((r for r in records if r.out_id == message.out_id), None)
                if found is not None:
                    return Answer(Outcome.SENT, _already_sent(found.send_date, found.send_status))
                if len(records) < _PAGE_SIZE:
                    break
        return None

    async def aclose(self) -> None:
        return None


def send_dates(moments: Iterable[dt.datetime], *, window: dt.timedelta) -> list[str]:
    """The SendDate values (yyyyMMdd, mainland dates) that attempts recorded at ``moments`` may carry, each
    attempt having started up to ``window`` before it was recorded."""
    days = {
        (at - lag).astimezone(_SEND_DATE_TZ).strftime("%Y%m%d")
        for at in moments
        for lag in (window, dt.timedelta())
    }
    return sorted(days)


def _already_sent(send_date: object, send_status: object) -> str:
    return (
        "阿里云已有该短信的发送记录，未重发 (Alibaba Cloud took it on an earlier attempt, not sent again):"
        f" SendDate {send_date}, SendStatus {send_status}"
    )


def _lookup_failed(detail: str, *, gateway_down: bool) -> Answer:
    # Not sent blind (that could be the second copy). No answer (the provider is down): no attempt spent,
    # as for any outage. A coded refusal (a key without dysms:QuerySendDetails) may never change: it spends
    # an attempt, so the row ends dead on the admin's outbox page, with this reason, to be retried there.
    return Answer(
        Outcome.UNTRIED if gateway_down else Outcome.TEMPORARY,
        f"查询阿里云发送记录失败，暂不重发 (could not look up the earlier attempt, not sent again): {detail}",
        gateway_down=gateway_down,
    )


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and what it wraps: the SDK keeps aiohttp's error as the context of the one it raises."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)


def _unanswered(exc: BaseException) -> Outcome:
    """The outcome of an attempt without an answer: the connection never made, the request cannot have
    been sent (``UNTRIED``); otherwise it may have been (``UNANSWERED``)."""
    if any(isinstance(cause, _NOT_CONNECTED) for cause in _causes(exc)):
        return Outcome.UNTRIED
    return Outcome.UNANSWERED


def _no_answer(exc: BaseException) -> bool:
    """Whether ``exc`` is the SDK's way of saying no answer came (or a 5xx), not a coded refusal."""
    if not isinstance(exc, TeaException):
        return True
    data: dict[str, Any] = exc.data if isinstance(exc.data, dict) else {}
    status = data.get("statusCode")
    return not exc.code or (isinstance(status, int) and status >= 500)


def _from_exception(exc: TeaException) -> Answer:
    data: dict[str, Any] = exc.data if isinstance(exc.data, dict) else {}
    status = data.get("statusCode")
    if not _no_answer(exc):
        return classify_code(str(exc.code), data.get("Message") or exc.message)
    detail = f"{exc.code or type(exc).__name__}: {exc.message}"
    if isinstance(status, int):
        detail = f"HTTP {status} {detail}"
    # A 5xx too: the provider may have taken the message before failing.
    return Answer(_unanswered(exc), detail, gateway_down=True)
