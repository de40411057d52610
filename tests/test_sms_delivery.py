"""SMS delivery through the outbox against local servers speaking each provider's protocol: Alibaba Cloud
SendSms through its official SDK, and the generic signed HTTP gateway. Error codes → retry or dead letter,
outages lose nothing and deliver each message once by id."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import models.outbox  # noqa: F401  (registers the table)
from flows.deliver_notifications import deliver_due
from models.clock import utcnow
from models.db import make_engine
from models.outbox import NOT_A_MOBILE, Notification, NotificationStatus, enqueue
from models.settings import get_settings
from notifications.catalogue import TEMPLATES
from notifications.outbox_service import retry_dead
from notifications.sms import out_id
from tests.sms_servers import HOST, AliyunServer, GatewayServer

SECRET = "test-sms-secret-0123456789abcdef"
OK_PHONE = "13812345678"
RATE_LIMITED_PHONE = "13900000001"
BAD_TEMPLATE_PHONE = "13900000002"
BAD_NUMBER_PHONE = "13900000003"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine("sqlite:///" + str(tmp_path / "t.db"), create=True)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _use_aliyun(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "aliyun")
    monkeypatch.setenv("SHOUXIN_ALIYUN_SMS_ACCESS_KEY_ID", "LTAI-test-key")
    monkeypatch.setenv("SHOUXIN_ALIYUN_SMS_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("SHOUXIN_ALIYUN_SMS_ENDPOINT", f"{HOST}:{port}")
    monkeypatch.setenv("SHOUXIN_ALIYUN_SMS_PROTOCOL", "http")
    monkeypatch.setenv("SHOUXIN_SMS_TIMEOUT_SECONDS", "5")
    codes = {"complaint_received": "SMS_480005001", "complaint_replied": "SMS_480005002"}
    monkeypatch.setenv("SHOUXIN_SMS_TEMPLATE_CODES", json.dumps(codes))
    get_settings.cache_clear()


def _use_gateway(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", f"http://{HOST}:{port}/v1/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", SECRET)
    monkeypatch.setenv("SHOUXIN_SMS_TIMEOUT_SECONDS", "5")
    get_settings.cache_clear()


@pytest.fixture
def aliyun(monkeypatch: pytest.MonkeyPatch) -> Iterator[AliyunServer]:
    server = AliyunServer(SECRET)
    server.answers = {
        RATE_LIMITED_PHONE: (200, "isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5"),
        BAD_TEMPLATE_PHONE: (200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"),
        BAD_NUMBER_PHONE: (400, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"),
    }
    _use_aliyun(monkeypatch, server.port)
    yield server
    server.stop()


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayServer]:
    server = GatewayServer(SECRET)
    server.answers = {
        RATE_LIMITED_PHONE: (429, "RATE_LIMITED", "too many messages to this number"),
        BAD_TEMPLATE_PHONE: (422, "TEMPLATE_NOT_APPROVED", "template not approved"),
        BAD_NUMBER_PHONE: (422, "INVALID_NUMBER", "not a mobile number"),
    }
    _use_gateway(monkeypatch, server.port)
    yield server
    server.stop()


def _queue_sms(
    engine: Engine, phones: list[str], *, template: str = "complaint_received", prefix: str = "k"
) -> list[int]:
    with Session(engine) as session:
        ids = [
            enqueue(
                session=session,
                template=template,
                recipient_kind="complainant",
                recipient_name="张三",
                recipient_email=None,
                recipient_phone=phone,
                key=f"{prefix}-{index}",
                context=dict(TEMPLATES[template].sample),
                case_kind="complaint",
                case_number=TEMPLATES[template].sample["case_number"],
            )
            for index, phone in enumerate(phones)
        ]
        session.commit()
        return ids


def _row(engine: Engine, notification_id: int) -> Notification:
    with Session(engine) as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        return row


def _key(engine: Engine, notification_id: int) -> str:
    return out_id(notification_id, _row(engine, notification_id).idempotency_key)


# ---------------------------------------------------------------------------------- Alibaba Cloud


def test_aliyun_sendsms_carries_the_template_code_params_and_message_id(
    db: Engine, aliyun: AliyunServer
) -> None:
    (nid,) = _queue_sms(db, ["+86 138-1234-5678"])
    assert deliver_due(engine=db) == {"sent": 1, "retry": 0, "dead": 0}

    assert aliyun.bad_signatures == 0  # signed with the access key secret as the API requires
    (request,) = aliyun.received
    assert request["action"] == "SendSms"
    assert request["PhoneNumbers"] == OK_PHONE
    assert request["SignName"] == "守信平台"
    assert request["TemplateCode"] == "SMS_480005001"
    assert json.loads(request["TemplateParam"]) == {"case_number": "TS20260302-0001"}
    assert request["OutId"] == out_id(nid, "k-0:sms")
    row = _row(db, nid)
    assert (row.status, row.attempts, row.channel) == (NotificationStatus.SENT, 1, "sms")
    assert row.sent_at is not None
    assert deliver_due(engine=db) == {"sent": 0, "retry": 0, "dead": 0}


def test_aliyun_error_codes_are_retried_or_dead_lettered_with_the_reason(
    db: Engine, aliyun: AliyunServer
) -> None:
    limited, bad_template, bad_number, fine = _queue_sms(
        db, [RATE_LIMITED_PHONE, BAD_TEMPLATE_PHONE, BAD_NUMBER_PHONE, OK_PHONE]
    )
    now = utcnow()
    assert deliver_due(engine=db, now=now) == {"sent": 1, "retry": 1, "dead": 2}

    row = _row(db, limited)  # rate limited: later, after the back-off
    assert (row.status, row.attempts, row.next_attempt_at) == (
        NotificationStatus.PENDING,
        1,
        now + dt.timedelta(minutes=1),
    )
    assert row.last_error is not None
    assert "isv.BUSINESS_LIMIT_CONTROL" in row.last_error
    row = _row(db, bad_template)  # the template is not approved: retrying cannot help
    assert row.status == NotificationStatus.DEAD
    assert row.last_error is not None
    assert "短信模板未审核通过或不存在" in row.last_error
    assert "isv.SMS_TEMPLATE_ILLEGAL" in row.last_error
    row = _row(db, bad_number)  # answered with HTTP 400, which the SDK raises: the same mapping
    assert row.status == NotificationStatus.DEAD
    assert row.last_error is not None
    assert "isv.MOBILE_NUMBER_ILLEGAL" in row.last_error
    assert _row(db, fine).status == NotificationStatus.SENT

    # Once the template is approved, an admin retries the dead letter and it goes.
    aliyun.answers.pop(BAD_TEMPLATE_PHONE)
    with Session(db) as session:
        retry_dead(session=session, notification_id=bad_template, now=now)
        session.commit()
    assert deliver_due(engine=db, now=now) == {"sent": 1, "retry": 0, "dead": 0}
    assert aliyun.delivered[_key(db, bad_template)] == 1


def test_a_notice_without_a_configured_template_code_is_dead_with_what_to_set(
    db: Engine, aliyun: AliyunServer
) -> None:
    (nid,) = _queue_sms(db, [OK_PHONE], template="complaint_return_visit")
    assert deliver_due(engine=db) == {"sent": 0, "retry": 0, "dead": 1}
    row = _row(db, nid)
    assert row.last_error is not None
    assert "SHOUXIN_SMS_TEMPLATE_CODES" in row.last_error
    assert aliyun.received == []


def test_aliyun_outage_loses_nothing_and_sends_each_message_once(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    _use_aliyun(monkeypatch, port)
    ids = _queue_sms(db, [f"1380000{index:04d}" for index in range(30)])
    t0 = utcnow()

    # Nothing listening: every message stays pending, no attempt spent (none was made), the error kept.
    assert deliver_due(engine=db, now=t0) == {"sent": 0, "retry": 30, "dead": 0}
    with Session(db) as session:
        rows = list(session.exec(select(Notification)))
    assert {(row.status, row.attempts) for row in rows} == {(NotificationStatus.PENDING, 0)}
    assert all(row.last_error for row in rows)
    assert deliver_due(engine=db, now=t0 + dt.timedelta(seconds=30)) == {"sent": 0, "retry": 0, "dead": 0}

    server = AliyunServer(SECRET, port=port)
    try:
        assert deliver_due(engine=db, now=t0 + dt.timedelta(minutes=2)) == {"sent": 30, "retry": 0, "dead": 0}
        assert deliver_due(engine=db, now=t0 + dt.timedelta(hours=2)) == {"sent": 0, "retry": 0, "dead": 0}
    finally:
        server.stop()
    assert server.delivered == {_key(db, nid): 1 for nid in ids}


def test_a_server_error_holds_the_rest_of_the_batch_for_the_back_off(
    db: Engine, aliyun: AliyunServer
) -> None:
    aliyun.answers[OK_PHONE] = (
        503,
        "ServiceUnavailable",
        "The request has failed due to a temporary failure",
    )
    first, second = _queue_sms(db, [OK_PHONE, "13912345678"])
    assert deliver_due(engine=db) == {"sent": 0, "retry": 2, "dead": 0}
    assert len(aliyun.received) == 1  # the second was not tried against a failing server
    second_row = _row(db, second)
    assert second_row.last_error is not None
    assert "短信服务不可用" in second_row.last_error
    assert _row(db, first).status == NotificationStatus.PENDING


# ------------------------------------------------------------------------------------ HTTP gateway


def test_gateway_gets_a_signed_json_post_with_text_params_and_idempotency_key(
    db: Engine, gateway: GatewayServer
) -> None:
    (nid,) = _queue_sms(db, [OK_PHONE], template="complaint_replied")
    assert deliver_due(engine=db) == {"sent": 1, "retry": 0, "dead": 0}
    assert gateway.bad_signatures == 0
    (request,) = gateway.received
    key = out_id(nid, "k-0:sms")
    assert request["idempotency_key"] == request["id"] == key
    assert request["phone"] == OK_PHONE
    assert request["template"] == "complaint_replied"
    assert request["params"] == {"case_number": "TS20260302-0001"}
    assert request["text"].startswith("您的投诉（编号TS20260302-0001）已办理完毕")
    assert _row(db, nid).status == NotificationStatus.SENT


def test_gateway_error_codes_are_retried_or_dead_lettered(db: Engine, gateway: GatewayServer) -> None:
    limited, bad_template, bad_number, fine = _queue_sms(
        db, [RATE_LIMITED_PHONE, BAD_TEMPLATE_PHONE, BAD_NUMBER_PHONE, OK_PHONE]
    )
    assert deliver_due(engine=db) == {"sent": 1, "retry": 1, "dead": 2}
    assert _row(db, limited).status == NotificationStatus.PENDING
    for nid, code in ((bad_template, "TEMPLATE_NOT_APPROVED"), (bad_number, "INVALID_NUMBER")):
        row = _row(db, nid)
        assert row.status == NotificationStatus.DEAD
        assert row.last_error is not None
        assert code in row.last_error
    assert gateway.delivered == {_key(db, fine): 1}


def test_gateway_outage_loses_nothing_and_sends_each_message_once(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    _use_gateway(monkeypatch, port)
    ids = _queue_sms(db, [f"1370000{index:04d}" for index in range(30)])
    t0 = utcnow()
    assert deliver_due(engine=db, now=t0) == {"sent": 0, "retry": 30, "dead": 0}
    server = GatewayServer(SECRET, port=port)
    try:
        assert deliver_due(engine=db, now=t0 + dt.timedelta(minutes=2)) == {"sent": 30, "retry": 0, "dead": 0}
        assert deliver_due(engine=db, now=t0 + dt.timedelta(hours=2)) == {"sent": 0, "retry": 0, "dead": 0}
    finally:
        server.stop()
    assert server.delivered == {_key(db, nid): 1 for nid in ids}


# --------------------------------------------------------------------------- rows that cannot go


def test_sms_rows_wait_while_no_provider_is_configured(db: Engine, gateway: GatewayServer) -> None:
    (nid,) = _queue_sms(db, [OK_PHONE])
    get_settings().sms_provider = "none"  # turned off after the message was queued
    assert deliver_due(engine=db) == {"sent": 0, "retry": 1, "dead": 0}
    row = _row(db, nid)
    assert row.status == NotificationStatus.PENDING
    assert row.last_error is not None
    assert "未配置短信服务" in row.last_error
    assert gateway.received == []


def test_a_row_whose_number_is_no_longer_a_mobile_is_marked_undeliverable(
    db: Engine, gateway: GatewayServer
) -> None:
    (nid,) = _queue_sms(db, [OK_PHONE])
    with Session(db) as session:
        row = session.get(Notification, nid)
        assert row is not None
        row.recipient_phone = "0571-87654321"
        session.add(row)
        session.commit()
    assert deliver_due(engine=db) == {"sent": 0, "retry": 0, "dead": 0}
    stored: Any = _row(db, nid)
    assert (stored.status, stored.last_error) == (NotificationStatus.UNDELIVERABLE, NOT_A_MOBILE)
    assert gateway.received == []
