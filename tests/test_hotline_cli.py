"""`shouxin hotline list / retry` on the 12345 results' dead letters: a message the platform never took
within its attempts is listed as dead with the reason of its last failure, ``retry`` makes it due again
(and the platform, back up, takes it), and a retry of an id that is no dead letter is one line on stderr
and a non-zero exit. The platform is the local server of tests/test_hotline_results.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.hotline_cmd import app
from cli.main import app as shouxin
from models.clock import utcnow
from models.hotline import MAX_ATTEMPTS, HotlineMessageStatus
from notifications.hotline_push import push_due
from tests.cli_support import cli_engine, listed_at_80_columns, table_rows  # noqa: F401
from tests.conftest import Staff
from tests.test_complaints_api import act
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results import T0, hotline, messages  # noqa: F401


def dead_message(client: TestClient, engine: Engine, session: Session, staff: Staff, **order: Any) -> Any:
    """A case registered from a 12345 order (``order`` overriding the sample's fields) and accepted, its
    result message dead after ``MAX_ATTEMPTS`` pushes to a platform that is down, each after the previous
    one's back-off (at most an hour)."""
    case = post(client, new_hotline_token(session), **order)
    assert case.status_code == 201, case.text
    act(client, staff, "intake", case.json()["id"], "accept")
    for attempt in range(MAX_ATTEMPTS):
        push_due(engine=engine, now=T0 + dt.timedelta(hours=2 * attempt))
    [dead] = messages(session)
    assert dead.last_error is not None
    return dead


def test_a_message_undelivered_past_its_attempts_is_listed_with_its_reason_and_retry_makes_it_due(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    dead = dead_message(client, engine, session, staff)
    assert (dead.status, dead.attempts) == (HotlineMessageStatus.DEAD, MAX_ATTEMPTS)
    assert "ConnectError" in dead.last_error

    runner = CliRunner()
    listed = runner.invoke(shouxin, ["hotline", "list", "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if dead.message_id in line]
    assert "GD2026031600012" in row  # the platform's order number
    assert "accepted" in row
    assert f" {MAX_ATTEMPTS} " in row
    assert dead.last_error[:60] in row  # why it died
    assert dead.message_id not in runner.invoke(shouxin, ["hotline", "list", "--status", "sent"]).stdout

    retried = runner.invoke(shouxin, ["hotline", "retry", str(dead.id)])
    assert retried.exit_code == 0, retried.output
    assert f"#{dead.id}" in retried.stdout
    [again] = messages(session)
    assert (again.status, again.attempts) == (HotlineMessageStatus.PENDING, 0)
    assert again.next_attempt_at <= utcnow()  # due now, not after a back-off
    assert again.last_error == dead.last_error  # the reason stays until the next attempt

    hotline.start()
    assert push_due(engine=engine, now=utcnow()).sent == 1
    assert list(hotline.taken) == [dead.message_id]
    assert [m.status for m in messages(session)] == [HotlineMessageStatus.SENT]


def test_a_retry_of_an_unknown_or_undead_message_exits_non_zero_with_one_line(
    client: TestClient, session: Session, staff: Staff
) -> None:
    runner = CliRunner()
    unknown = runner.invoke(shouxin, ["hotline", "retry", "999"])
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    assert unknown.stderr.strip().splitlines() == [
        "错误: 12345 回传消息 999 不存在 (hotline message not found)"
    ]

    case = post(client, new_hotline_token(session)).json()
    act(client, staff, "intake", case["id"], "accept")
    [pending] = messages(session)
    waiting = runner.invoke(shouxin, ["hotline", "retry", str(pending.id)])
    assert waiting.exit_code == 1
    assert len(waiting.stderr.strip().splitlines()) == 1
    assert "只能重发发送失败（dead）的回传消息" in waiting.stderr
    assert [m.status for m in messages(session)] == [HotlineMessageStatus.PENDING]


def test_an_80_column_listing_prints_each_message_and_order_number_whole_to_be_copied(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead = dead_message(client, engine, session, staff)
    listed = listed_at_80_columns(app, monkeypatch, "--status", "dead")
    [row] = [line for line in listed.stdout.splitlines() if dead.message_id in line]
    assert "GD2026031600012" in row
    assert "…" not in listed.stdout  # nothing cut: the reason folds over the lines below


@pytest.mark.parametrize("length", [40, 64])
def test_an_80_column_listing_folds_a_long_order_number_and_keeps_every_other_column(
    length: int,
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id = ("GD2026031600012-" + "0123456789" * 7)[:length]  # the platform's may be 64 characters
    dead = dead_message(client, engine, session, staff, order_id=order_id)

    listed = listed_at_80_columns(app, monkeypatch, "--status", "dead")
    assert "…" not in listed.stdout
    [[ids, message_ids, order_ids, stages, statuses, attempts, errors]] = table_rows(listed.stdout)
    assert ids[0] == str(dead.id)  # whole on the row's first line, to be copied into `retry`
    assert message_ids[0] == dead.message_id
    assert "".join(order_ids) == order_id  # folded, not cut
    assert (stages[0], statuses[0], attempts[0]) == ("accepted", "dead", str(MAX_ATTEMPTS))
    assert "".join(errors).replace(" ", "") == dead.last_error[:60].replace(" ", "")
