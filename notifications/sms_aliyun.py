"""Alibaba Cloud SMS (短信服务, API version 2017-05-25) through its official SDK: one SendSms per message.

SendSms takes PhoneNumbers, SignName, TemplateCode (an approved template, configured per notice in
``SHOUXIN_SMS_TEMPLATE_CODES``), TemplateParam (JSON of the template's variables) and OutId (our id for
the message, the same on every attempt). It answers ``{"Code": "OK", "BizId": …, "RequestId": …}`` or an
error code, in the body of a 200 answer or of a 4xx one (which the SDK raises); the codes are mapped here
to retry or dead letter (docs/integrations.md, "SMS").
"""

from __future__ import annotations

import json
from typing import Any

from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import utils_models as openapi_models
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from models.settings import Settings
from notifications.mailer import Outcome
from notifications.sms import Answer, SmsMessage

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
        # Anything else before an answer (a reset connection, a timeout, a malformed reply) is an attempt
        # that did not get through: retried, and the rest of the batch waits for the back-off.
        except Exception as exc:
            return Answer(Outcome.TEMPORARY, f"{type(exc).__name__}: {exc}", gateway_down=True)
        body = response.body
        answer = classify_code(str(body.code or ""), body.message)
        if answer.outcome is Outcome.SENT:
            return Answer(Outcome.SENT, f"BizId {body.biz_id}, RequestId {body.request_id}")
        return answer

    async def aclose(self) -> None:
        return None


def _from_exception(exc: TeaException) -> Answer:
    data: dict[str, Any] = exc.data if isinstance(exc.data, dict) else {}
    status = data.get("statusCode")
    if exc.code and not (isinstance(status, int) and status >= 500):
        return classify_code(str(exc.code), data.get("Message") or exc.message)
    detail = f"{exc.code or type(exc).__name__}: {exc.message}"
    if isinstance(status, int):
        detail = f"HTTP {status} {detail}"
    return Answer(Outcome.TEMPORARY, detail, gateway_down=True)
