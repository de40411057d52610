"""A message that was never handed to a provider (none configured, the connection refused, the rest of a
batch behind a failing gateway) waits with the reason but spends no attempt, so no outage can make it dead
(a dead access-code notice would lose its code). A real refusal still goes dead, a real attempt still
counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from flows.deliver_notifications import deliver_due
from models.clock import utcnow
from models.outbox import NotificationStatus
from models.settings import get_settings
from notifications.outbox_service import MAX_ATTEMPTS
from notifications.sms import NO_PROVIDER
from tests.sms_servers import GatewayServer
from tests.test_notifications import _queue, port  # noqa: F401
from tests.test_notifications import _row as _mail_row
from tests.test_sms_delivery import (  # noqa: F401
    OK_PHONE,
    SECRET,
    _free_port,
    _key,
    _queue_sms,
    _row,
    _use_aliyun,
    _use_gateway,
    db,
)

# More runs than the attempt budget, each after the longest back-off.
RUNS = MAX_ATTEMPTS + 3
HOUR = dt.timedelta(hours=1, minutes=1)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayServer]:
    server = GatewayServer(SECRET)
    _use_gateway(monkeypatch, server.port)
    yield server
    server.stop()


def _runs(engine: Engine, start: dt.datetime, count: int = RUNS) -> dt.datetime:
    at = start
    for _ in range(count):
        deliver_due(engine=engine, now=at)
        at += HOUR
    return at


def test_sms_waits_without_dying_while_no_provider_is_configured_then_goes_once(
    db: Engine,  # noqa: F811
    gateway: GatewayServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (nid,) = _queue_sms(db, [OK_PHONE])
    monkeypatch.delenv("SHOUXIN_SMS_GATEWAY_SECRET")
    get_settings.cache_clear()
    later = _runs(db, utcnow())
    row = _row(db, nid)
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.PENDING, 0, NO_PROVIDER)

    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", SECRET)
    get_settings.cache_clear()
    assert deliver_due(engine=db, now=later) == {"sent": 1, "retry": 0, "dead": 0}
    assert gateway.delivered == {_key(db, nid): 1}


def test_sms_waits_without_dying_while_alibaba_cloud_refuses_connections(
    db: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _use_aliyun(monkeypatch, _free_port())  # nothing listens there
    ids = _queue_sms(db, [OK_PHONE, "13912345678"])
    _runs(db, utcnow())
    for nid in ids:
        row = _row(db, nid)
        assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
        assert row.last_error is not None
        assert "Cannot connect" in row.last_error


def test_sms_waits_without_dying_while_the_http_gateway_refuses_connections(
    db: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _use_gateway(monkeypatch, _free_port())  # nothing listens there
    ids = _queue_sms(db, [OK_PHONE, "13912345678"])
    _runs(db, utcnow())
    for nid in ids:
        row = _row(db, nid)
        assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
        assert row.last_error is not None
        assert "ConnectError" in row.last_error


def test_mail_waits_without_dying_while_the_smtp_server_refuses_connections(
    db: Engine,  # noqa: F811
    port: int,  # noqa: F811
) -> None:
    (nid,) = _queue(db)
    _runs(db, utcnow())
    row = _mail_row(db, nid)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    assert row.last_error is not None
    assert "connect" in row.last_error


def test_an_untried_row_waits_longer_the_longer_it_has_waited(
    db: Engine,  # noqa: F811
    gateway: GatewayServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (nid,) = _queue_sms(db, [OK_PHONE])  # queued while SMS was on, then its secret removed
    monkeypatch.delenv("SHOUXIN_SMS_GATEWAY_SECRET")
    get_settings.cache_clear()
    created = _row(db, nid).created_at
    deliver_due(engine=db, now=created)
    assert _row(db, nid).next_attempt_at == created + dt.timedelta(minutes=1)
    deliver_due(engine=db, now=created + dt.timedelta(minutes=20))
    assert _row(db, nid).next_attempt_at == created + dt.timedelta(minutes=40)
    deliver_due(engine=db, now=created + dt.timedelta(hours=5))
    assert _row(db, nid).next_attempt_at == created + dt.timedelta(hours=6)


def test_a_real_refusal_still_goes_dead_and_a_real_failure_still_counts(
    db: Engine,  # noqa: F811
    gateway: GatewayServer,
) -> None:
    refused, failing, behind = _queue_sms(db, ["13900000002", "13900000001", "13912345678"])
    gateway.answers = {
        "13900000002": (422, "TEMPLATE_NOT_APPROVED", "template not approved"),
        "13900000001": (503, "UNAVAILABLE", "down"),
    }
    assert deliver_due(engine=db, now=utcnow()) == {"sent": 0, "retry": 2, "dead": 1}
    dead = _row(db, refused)
    assert (dead.status, dead.attempts) == (NotificationStatus.DEAD, 1)
    assert _row(db, failing).attempts == 1
    assert _row(db, behind).attempts == 0  # held behind the failing gateway, never tried
