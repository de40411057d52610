"""The push run's report counts each message by what it became: the last failed attempt is a death
(失败), not a retry, and the later messages of a case stuck behind a dead one are held (暂缓), in the run
that killed it and in every run after, which never claims them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app as shouxin
from models.hotline import MAX_ATTEMPTS, HotlineMessageStatus, backoff
from notifications.hotline_push import push_due
from tests.cli_support import cli_engine  # noqa: F401 - the CLI's database is the test's
from tests.conftest import Staff
from tests.test_complaints_api import act
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results import T0, hotline, messages  # noqa: F401


def _accepted_and_dispatched(client: TestClient, session: Session, staff: Staff) -> int:
    case = post(client, new_hotline_token(session))
    assert case.status_code == 201, case.text
    cid = int(case.json()["id"])
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    return cid


def test_the_run_whose_attempt_is_the_last_reports_it_dead_and_its_followers_held(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    _accepted_and_dispatched(client, session, staff)
    now = T0
    for _ in range(MAX_ATTEMPTS - 1):
        report = push_due(engine=engine, now=now)
        assert (report.retried, report.dead, report.held) == (1, 0, 1)
        now += backoff(messages(session)[0].attempts)
    last = push_due(engine=engine, now=now)
    assert (last.sent, last.retried, last.dead, last.held) == (0, 0, 1, 1)
    first, second = messages(session)
    assert (first.status, first.attempts) == (HotlineMessageStatus.DEAD, MAX_ATTEMPTS)
    assert second.status == HotlineMessageStatus.PENDING


def test_messages_behind_a_refused_one_are_held_in_later_runs_and_the_cli_says_so(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    cid = _accepted_and_dispatched(client, session, staff)
    act(client, staff, "handler", cid, "return_order", reason="不属于本部门职责，请改派市发展改革委")
    hotline.start()
    hotline.refuse = 1
    first = push_due(engine=engine, now=T0)
    assert (first.sent, first.dead, first.held) == (0, 1, 2)

    later = push_due(engine=engine, now=T0 + dt.timedelta(hours=1))
    assert (later.sent, later.retried, later.dead, later.held) == (0, 0, 0, 2)

    printed = CliRunner().invoke(shouxin, ["hotline", "push"])
    assert printed.exit_code == 0, printed.output
    assert "失败 0" in printed.stdout
    assert "暂缓 2" in printed.stdout
