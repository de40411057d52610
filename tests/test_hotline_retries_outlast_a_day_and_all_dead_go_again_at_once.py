"""A 12345 outage of a day (an overnight maintenance window and then some) kills no message: the retry
budget's back-off adds up to more than a day, and the documentation says how long, as computed. When
messages did die, one command or one button puts every dead message back in the queue and says how many."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app as shouxin
from models.hotline import MAX_ATTEMPTS, HotlineMessageStatus, backoff, retry_window
from notifications.hotline_push import push_due
from tests.cli_support import cli_engine  # noqa: F401 - the CLI's database is the test's
from tests.conftest import Staff
from tests.test_complaints_api import act
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results import T0, hotline, messages  # noqa: F401
from tests.web_support import post_form, sign_in

DOCS = Path(__file__).resolve().parent.parent / "docs" / "integrations.md"


def test_the_back_off_of_every_attempt_adds_up_to_more_than_a_day_as_documented() -> None:
    total = sum((backoff(n) for n in range(1, MAX_ATTEMPTS)), dt.timedelta())
    assert retry_window() == total
    assert total >= dt.timedelta(days=1)
    minutes = int(total.total_seconds() // 60)
    section = DOCS.read_text(encoding="utf-8").split("## 信用平台")[0]
    assert f"after {MAX_ATTEMPTS} attempts" in section
    assert f"{minutes:,} minutes" in section  # the figure the docs give is the computed one


def _dead_orders(client: TestClient, engine: Engine, session: Session, staff: Staff, count: int) -> None:
    token = new_hotline_token(session)
    for n in range(count):
        case = post(client, token, order_id=f"GD20260316{n:05d}")
        assert case.status_code == 201, case.text
        act(client, staff, "intake", case.json()["id"], "accept")


def test_a_day_long_outage_kills_nothing_and_delivery_resumes_when_the_platform_is_back(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    _dead_orders(client, engine, session, staff, 1)
    now, outage_ends = T0, T0 + dt.timedelta(hours=24)
    while now < outage_ends:  # each run that finds the message due, with the platform down
        push_due(engine=engine, now=now)
        now += backoff(messages(session)[0].attempts)
    [message] = messages(session)
    assert message.status == HotlineMessageStatus.PENDING
    hotline.start()
    assert push_due(engine=engine, now=outage_ends + dt.timedelta(hours=1)).sent == 1


def test_every_dead_message_goes_back_in_the_queue_with_one_command_that_counts_them(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    _dead_orders(client, engine, session, staff, 3)
    hotline.start()
    hotline.refuse = 3
    assert push_due(engine=engine, now=T0).dead == 3

    runner = CliRunner()
    assert runner.invoke(shouxin, ["hotline", "retry"]).exit_code == 1  # neither an id nor --all-dead
    requeued = runner.invoke(shouxin, ["hotline", "retry", "--all-dead"])
    assert requeued.exit_code == 0, requeued.output
    assert "已将 3 条失败的回传消息重新排队" in requeued.stdout
    assert {(m.status, m.attempts) for m in messages(session)} == {(HotlineMessageStatus.PENDING, 0)}
    assert push_due(engine=engine, now=T0 + dt.timedelta(minutes=1)).sent == 3


def test_the_page_retries_every_dead_message_with_one_button_and_says_how_many(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    _dead_orders(client, engine, session, staff, 2)
    hotline.start()
    hotline.refuse = 2
    assert push_due(engine=engine, now=T0).dead == 2

    sign_in(client, staff.admin)
    assert 'id="retry-all-dead"' in client.get("/staff/admin/hotline?status=dead").text
    answer = post_form(client, "/staff/admin/hotline/retry-dead", {}, page="/staff/admin/hotline")
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"])
    assert re.search(r"已将 2 条发送失败的消息重新列入待发送", page.text)
    assert [m.status for m in messages(session)] == [HotlineMessageStatus.PENDING] * 2
