"""The generic SMS gateway's answers as docs/integrations.md's table reads them: an error code in the body
decides, whatever the status (a gateway in front of a provider answers 200 and says in the body that the
message did not go), and the gateway's message id is given as data with the answer of a message it sent."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from notifications.mailer import Outcome
from notifications.sms_http import classify


def _answer(status: int, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


def test_rate_limited_in_a_200_is_retried_not_sent() -> None:
    answer = classify(_answer(200, {"code": "RATE_LIMITED", "message": "slow down"}))
    assert answer.outcome is Outcome.TEMPORARY
    assert "RATE_LIMITED" in (answer.detail or "")
    assert not answer.gateway_down


@pytest.mark.parametrize(
    "body",
    [
        {"code": "INVALID_NUMBER", "message": "bad number"},
        {"code": "TEMPLATE_NOT_APPROVED"},
        {"success": False, "error": "号码格式错误"},
    ],
)
def test_an_error_code_in_a_200_is_dead_with_the_answer(body: dict[str, Any]) -> None:
    answer = classify(_answer(200, body))
    assert answer.outcome is Outcome.PERMANENT
    assert "HTTP 200" in (answer.detail or "")


@pytest.mark.parametrize(
    "body", [{"message_id": "gw-1"}, {"code": "OK", "message_id": "gw-1"}, {"code": 0, "message_id": "gw-1"}]
)
def test_a_2xx_without_an_error_is_sent_and_keeps_the_gateways_message_id(body: dict[str, Any]) -> None:
    answer = classify(_answer(200, body))
    assert answer.outcome is Outcome.SENT
    assert answer.detail == "message_id gw-1"
    assert answer.provider_message_id == "gw-1"  # as data, for the row it marks sent


def test_the_statuses_still_decide_without_a_code() -> None:
    assert classify(_answer(429, {})).outcome is Outcome.TEMPORARY
    assert classify(_answer(503, b"")).gateway_down
    assert classify(_answer(422, {"code": "TEMPLATE_NOT_APPROVED"})).outcome is Outcome.PERMANENT
    assert classify(_answer(202, b"")).outcome is Outcome.SENT
