"""What is stuck on the way to 12345, and why, where an administrator looks: the health check warns of dead
messages and of a URL without its signing key; the 12345 回传 page and `shouxin hotline list` show each
message's order id, when it goes next, and for one held behind an earlier message which one; both filter
by order id."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app as shouxin
from models.hotline import backoff
from models.settings import get_settings
from notifications.hotline_push import push_due
from tests.cli_support import cli_engine  # noqa: F401 - the CLI's database is the test's
from tests.conftest import Staff
from tests.test_complaints_api import API, act
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results import T0, hotline, messages  # noqa: F401
from tests.web_support import sign_in


def _two_orders_one_dead(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    token = new_hotline_token(session)
    for order_id in ("GD2026031600012", "GD2026031600099"):
        case = post(client, token, order_id=order_id)
        assert case.status_code == 201, case.text
        act(client, staff, "intake", case.json()["id"], "accept")
        act(client, staff, "intake", case.json()["id"], "dispatch", lead_department_code="D01")
    hotline.start()
    hotline.refuse = 1  # the first order's first message; the second order's platform is down meanwhile
    report = push_due(engine=engine, now=T0)
    assert report.dead == 1


def test_health_warns_of_dead_messages_and_of_what_waits_behind_them(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    _two_orders_one_dead(client, engine, session, staff, hotline)
    warnings = client.get(f"{API}/health").json()["warnings"]
    [warning] = [w for w in warnings if "12345" in w]
    assert warning.startswith("1 条 12345 回传消息发送失败，另有 1 条")
    assert "shouxin hotline retry --all-dead" in warning


def test_a_hotline_url_without_its_secret_is_warned_on_health_and_on_the_page(
    client: TestClient, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_HOTLINE_URL", "http://127.0.0.1:9/results")
    monkeypatch.delenv("SHOUXIN_HOTLINE_SECRET", raising=False)
    get_settings.cache_clear()
    warnings = client.get(f"{API}/health").json()["warnings"]
    assert any("未配置签名密钥 SHOUXIN_HOTLINE_SECRET" in w for w in warnings)
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/hotline")
    assert 'id="hotline-unsigned"' in page.text
    assert 'id="hotline-unconfigured"' not in page.text


def test_the_page_shows_order_ids_next_attempts_and_what_each_held_message_waits_for(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    _two_orders_one_dead(client, engine, session, staff, hotline)
    dead, held, _, _ = messages(session)
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/hotline").text
    assert "GD2026031600099" in page
    row = page.split(f'id="hotline-message-{held.id}"')[1].split("</tr>")[0]
    assert f"排在 {dead.message_id}（发送失败，待管理员重新发送或人工处理）之后" in row
    assert "暂缓" in row

    one = client.get("/staff/admin/hotline?order_id=GD2026031600099").text
    assert "GD2026031600012" not in one.split('id="hotline-messages"')[1]
    assert "（显示 2 条）" in one


def test_the_list_shows_when_each_message_goes_and_filters_by_order(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    _two_orders_one_dead(client, engine, session, staff, hotline)
    dead = messages(session)[0]
    listed = CliRunner().invoke(shouxin, ["hotline", "list", "--order-id", "GD2026031600012"])
    assert listed.exit_code == 0, listed.output
    assert "GD2026031600099" not in listed.stdout
    assert f"排在 #{dead.id}" in listed.stdout
    other = CliRunner().invoke(shouxin, ["hotline", "list", "--order-id", "GD2026031600099"])
    assert "GD2026031600012" not in other.stdout
    assert "sent" in other.stdout


def test_a_message_in_back_off_shows_its_next_attempt_on_the_list_and_the_page(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    case = post(client, new_hotline_token(session))
    act(client, staff, "intake", case.json()["id"], "accept")
    assert push_due(engine=engine, now=T0).retried == 1  # the platform is down
    [waiting] = messages(session)
    due = waiting.next_attempt_at.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M")
    assert waiting.next_attempt_at == T0 + backoff(1)
    assert due in CliRunner().invoke(shouxin, ["hotline", "list"]).stdout
    sign_in(client, staff.admin)
    assert due in client.get("/staff/admin/hotline").text
