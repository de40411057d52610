"""An SMS provider chosen without the keys it needs is SMS off, and the health check says so.

Such a provider can send nothing, so queueing SMS for it would leave every text waiting for ever and never
mark a mobile-only recipient undeliverable (请致电): the channels are chosen as if no provider were set."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from models.outbox import SMS_OFF, NotificationStatus
from models.settings import Settings, get_settings
from notifications.sms import provider_from_settings
from tests.test_sms import MOBILE, _rows, _shape


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"SHOUXIN_SMS_PROVIDER": "aliyun"}, "SHOUXIN_ALIYUN_SMS_ACCESS_KEY_ID"),
        (
            {"SHOUXIN_SMS_PROVIDER": "aliyun", "SHOUXIN_ALIYUN_SMS_ACCESS_KEY_ID": "LTAI-test-key"},
            "SHOUXIN_ALIYUN_SMS_ACCESS_KEY_SECRET",
        ),
        ({"SHOUXIN_SMS_PROVIDER": "http"}, "SHOUXIN_SMS_GATEWAY_URL"),
        (
            {"SHOUXIN_SMS_PROVIDER": "http", "SHOUXIN_SMS_GATEWAY_URL": "http://127.0.0.1:9/sms"},
            "SHOUXIN_SMS_GATEWAY_SECRET",
        ),
    ],
)
def test_a_provider_missing_a_key_leaves_a_mobile_only_recipient_undeliverable_and_warns(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], missing: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    assert not get_settings().sms_configured
    assert provider_from_settings(get_settings()) is None

    assert _shape(_rows(None, MOBILE)) == [("email", NotificationStatus.UNDELIVERABLE, None, MOBILE, SMS_OFF)]
    assert [r["channel"] for r in _rows("z@example.com", MOBILE)] == ["email"]
    warnings = client.get("/api/v1/health").json()["warnings"]
    [sms] = [w for w in warnings if "短信" in w]
    assert missing in sms
    assert "无法送达" in sms


def test_a_fully_configured_provider_texts_and_no_warning_is_given(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()

    assert [(r["channel"], r["status"]) for r in _rows(None, MOBILE)] == [("sms", NotificationStatus.PENDING)]
    assert not [w for w in client.get("/api/v1/health").json()["warnings"] if "短信" in w]


def test_no_provider_chosen_is_off_without_a_warning() -> None:
    settings = Settings(sms_provider="none")
    assert not settings.sms_configured
    assert settings.sms_missing() == []
