"""The addresses of the outside systems (credit platform, SMS gateway, 12345, Alibaba Cloud SMS, the Prefect
UI) and the links in mails must be http(s) addresses with a host, and the SMTP port a port: a wrong one
stops every command with one Chinese line naming the variable and what it should be, instead of being
retried for ever ("UnsupportedProtocol") or refused in pydantic's English."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.main import app
from models.db import get_engine
from models.settings import Settings, get_settings


def _refusal(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    """The one message ``Settings`` refuses ``name=value`` with, for that variable alone."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    [error] = refused.value.errors(include_url=False)
    assert error["loc"] == (name.removeprefix("SHOUXIN_").lower(),)
    return str(error["msg"]).removeprefix("Value error, ")


@pytest.mark.parametrize(
    "name",
    [
        "SHOUXIN_CREDIT_PLATFORM_URL",
        "SHOUXIN_SMS_GATEWAY_URL",
        "SHOUXIN_HOTLINE_URL",
        "SHOUXIN_PREFECT_UI_URL",
        "SHOUXIN_PUBLIC_BASE_URL",
    ],
)
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("ftp://x", "协议 ftp:// 不受支持"),
        ("credit.example.gov.cn/push", "缺少 http:// 或 https://"),
        ("https:///push", "缺少主机名"),
        ("http://credit.example.gov.cn:99999/push", "端口应为 1–65535"),
    ],
)
def test_an_outside_systems_address_that_is_not_http_with_a_host_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, why: str
) -> None:
    message = _refusal(monkeypatch, name, value)
    assert why in message
    assert "应为 http:// 或 https:// 开头、带主机名的地址" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHOUXIN_CREDIT_PLATFORM_URL", "https://credit.example.gov.cn/push"),
        ("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:8081/v1/sms"),
        ("SHOUXIN_HOTLINE_URL", ""),  # unset: the push is off
        ("SHOUXIN_PREFECT_UI_URL", ""),
        ("SHOUXIN_ALIYUN_SMS_ENDPOINT", "127.0.0.1:8123"),
        ("SHOUXIN_SMTP_PORT", "2525"),
    ],
)
def test_usable_addresses_and_ports_are_accepted(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    settings = Settings()
    assert str(getattr(settings, name.removeprefix("SHOUXIN_").lower())) == value


@pytest.mark.parametrize("value", ["https://dysmsapi.aliyuncs.com", "dysmsapi.aliyuncs.com/", "", "h:0"])
def test_an_aliyun_sms_endpoint_with_a_scheme_or_a_path_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    message = _refusal(monkeypatch, "SHOUXIN_ALIYUN_SMS_ENDPOINT", value)
    assert "应为主机名（可带端口）" in message


@pytest.mark.parametrize(
    ("value", "why"), [("abc", "不是整数"), ("0", "不在 1–65535 之内"), ("65536", "不在")]
)
def test_an_smtp_port_that_is_no_port_is_refused_in_chinese(
    monkeypatch: pytest.MonkeyPatch, value: str, why: str
) -> None:
    message = _refusal(monkeypatch, "SHOUXIN_SMTP_PORT", value)
    assert message.startswith("邮件服务器端口")
    assert why in message
    assert "Input should be" not in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "SHOUXIN_CREDIT_PLATFORM_URL",
            "ftp://x",
            "SHOUXIN_CREDIT_PLATFORM_URL: 信用平台推送地址：协议 ftp://",
        ),
        ("SHOUXIN_SMTP_PORT", "abc", "SHOUXIN_SMTP_PORT: 邮件服务器端口 'abc' 不是整数"),
    ],
)
@pytest.mark.parametrize("args", [("users", "list"), ("serve",)])
def test_every_command_stops_on_a_bad_integration_setting_with_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHOUXIN_SECRET_KEY", "k" * 48)
    get_settings.cache_clear()
    get_engine.cache_clear()
    result = CliRunner().invoke(app, list(args))
    get_settings.cache_clear()
    get_engine.cache_clear()

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"错误: {expected}")
