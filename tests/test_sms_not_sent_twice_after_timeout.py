"""Alibaba Cloud's SendSms is not idempotent (OutId is only echoed in the delivery records): after an
attempt that timed out, the next one looks the OutId up with QuerySendDetails and sends only if Alibaba
Cloud has no record of it; when the lookup fails it sends nothing and the row waits.

The fake holds its answer to the first SendSms until the test releases it, after the client has given up
(a short client timeout): an event, not a sleep."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from flows.deliver_notifications import deliver_due
from models.clock import utcnow
from models.outbox import NotificationStatus
from models.settings import get_settings
from notifications.outbox_service import MAX_ATTEMPTS, retry_dead
from notifications.sms_aliyun import send_dates
from tests.sms_servers import AliyunServer, _acs3_signature_ok
from tests.test_sms_delivery import OK_PHONE, SECRET, _key, _queue_sms, _row, _use_aliyun, db  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")


class RecordingAliyun(AliyunServer):
    """SendSms as ``AliyunServer``, except that the first one is answered only once ``release`` is set
    (``take_held``: whether Alibaba Cloud took that one); QuerySendDetails answers from what was taken, or
    with ``lookup_error`` (HTTP status, code)."""

    def __init__(self, *, take_held: bool) -> None:
        self.release = threading.Event()
        self.take_held = take_held
        self.held = False
        self.lookup_error: tuple[int, str] | None = None
        self.taken: list[dict[str, str]] = []
        super().__init__(SECRET)

    def actions(self) -> list[str]:
        return [str(request["action"]) for request in self.received]

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        if headers.get("x-acs-action") == "QuerySendDetails":
            return self._query(method, target, headers)
        with self._lock:
            hold, self.held = not self.held, True
        if hold and not self.take_held:
            with self._lock:
                self.received.append({"action": "SendSms"})
            self.release.wait()
            return 503, {"Code": "ServiceUnavailable", "Message": "lost", "RequestId": "x"}
        status, answer = super().handle(method, target, headers, body)
        if answer.get("Code") == "OK":
            query = dict(parse_qsl(urlsplit(target).query))
            today = dt.datetime.now(SHANGHAI)
            with self._lock:
                self.taken.append(
                    {"OutId": query["OutId"], "PhoneNum": query["PhoneNumbers"], "day": f"{today:%Y%m%d}"}
                )
        if hold:
            self.release.wait()
        return status, answer

    def _query(self, method: str, target: str, headers: Any) -> tuple[int, dict[str, Any]]:
        query = dict(parse_qsl(urlsplit(target).query))
        with self._lock:
            self.received.append({"action": "QuerySendDetails", **query})
            if not _acs3_signature_ok(method, target, headers, self.secret):
                self.bad_signatures += 1
                return 400, {"Code": "SignatureDoesNotMatch", "Message": "signature mismatch"}
            if self.lookup_error is not None:
                status, code = self.lookup_error
                return status, {"Code": code, "Message": "lookup failed", "RequestId": str(uuid.uuid4())}
            found = [
                {"OutId": t["OutId"], "PhoneNum": t["PhoneNum"], "SendStatus": 3, "SendDate": t["day"]}
                for t in self.taken
                if t["PhoneNum"] == query["PhoneNumber"] and t["day"] == query["SendDate"]
            ]
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "RequestId": str(uuid.uuid4()),
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": found},
        }


def _server(monkeypatch: pytest.MonkeyPatch, *, take_held: bool) -> Iterator[RecordingAliyun]:
    server = RecordingAliyun(take_held=take_held)
    _use_aliyun(monkeypatch, server.port)
    # Short, so that the held first answer comes after the client gave up.
    monkeypatch.setenv("SHOUXIN_SMS_TIMEOUT_SECONDS", "0.3")
    get_settings.cache_clear()
    try:
        yield server
    finally:
        server.release.set()
        server.stop()


@pytest.fixture
def taken_then_timed_out(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingAliyun]:
    yield from _server(monkeypatch, take_held=True)


@pytest.fixture
def lost_then_timed_out(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingAliyun]:
    yield from _server(monkeypatch, take_held=False)


def _first_attempt_times_out(engine: Engine, server: RecordingAliyun) -> tuple[int, dt.datetime]:
    (nid,) = _queue_sms(engine, [OK_PHONE])
    t0 = utcnow()
    assert deliver_due(engine=engine, now=t0) == {"sent": 0, "retry": 1, "dead": 0}
    server.release.set()
    row = _row(engine, nid)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 1)
    return nid, t0


def test_an_sms_taken_before_its_timeout_is_marked_sent_not_sent_again(
    db: Engine,  # noqa: F811
    taken_then_timed_out: RecordingAliyun,
) -> None:
    server = taken_then_timed_out
    nid, t0 = _first_attempt_times_out(db, server)

    assert deliver_due(engine=db, now=t0 + dt.timedelta(minutes=5)) == {"sent": 1, "retry": 0, "dead": 0}
    assert server.delivered[_key(db, nid)] == 1
    assert server.actions() == ["SendSms", "QuerySendDetails"]
    assert server.bad_signatures == 0
    row = _row(db, nid)
    assert row.status == NotificationStatus.SENT
    # QuerySendDetails' records carry no BizId, and the SendSms that had one went unanswered.
    assert row.provider_message_id is None
    lookup = server.received[1]
    assert (lookup["PhoneNumber"], lookup["SendDate"]) == (OK_PHONE, server.taken[0]["day"])


def test_an_sms_lost_before_alibaba_cloud_took_it_is_sent_after_the_lookup_finds_nothing(
    db: Engine,  # noqa: F811
    lost_then_timed_out: RecordingAliyun,
) -> None:
    server = lost_then_timed_out
    nid, t0 = _first_attempt_times_out(db, server)

    assert deliver_due(engine=db, now=t0 + dt.timedelta(minutes=5)) == {"sent": 1, "retry": 0, "dead": 0}
    assert server.actions() == ["SendSms", "QuerySendDetails", "SendSms"]
    assert server.delivered[_key(db, nid)] == 1
    assert _row(db, nid).status == NotificationStatus.SENT


def test_a_failed_lookup_sends_nothing_and_the_row_waits_for_the_next_one(
    db: Engine,  # noqa: F811
    taken_then_timed_out: RecordingAliyun,
) -> None:
    server = taken_then_timed_out
    nid, t0 = _first_attempt_times_out(db, server)
    server.lookup_error = (503, "ServiceUnavailable")

    assert deliver_due(engine=db, now=t0 + dt.timedelta(minutes=5)) == {"sent": 0, "retry": 1, "dead": 0}
    row = _row(db, nid)
    assert row.status == NotificationStatus.PENDING
    assert row.last_error is not None
    assert "查询阿里云发送记录失败" in row.last_error
    assert server.actions() == ["SendSms", "QuerySendDetails"]

    server.lookup_error = None
    assert deliver_due(engine=db, now=t0 + dt.timedelta(hours=2)) == {"sent": 1, "retry": 0, "dead": 0}
    assert server.actions() == ["SendSms", "QuerySendDetails", "QuerySendDetails"]
    assert server.delivered[_key(db, nid)] == 1


def test_a_lookup_refused_for_good_ends_dead_for_the_admin_not_pending_for_ever(
    db: Engine,  # noqa: F811
    taken_then_timed_out: RecordingAliyun,
) -> None:
    """A key without dysms:QuerySendDetails: the lookup never works, so the row must reach the admin's
    dead letters (with the reason) rather than wait unseen and unretryable; still never sent blind."""
    server = taken_then_timed_out
    nid, t0 = _first_attempt_times_out(db, server)
    server.lookup_error = (403, "Forbidden.RAM")
    for run in range(1, 3 * MAX_ATTEMPTS):
        deliver_due(engine=db, now=t0 + dt.timedelta(hours=2 * run))
    row = _row(db, nid)
    assert row.status == NotificationStatus.DEAD
    assert row.last_error is not None
    assert "查询阿里云发送记录失败" in row.last_error
    assert server.actions().count("SendSms") == 1
    with Session(db) as session:
        retry_dead(session=session, notification_id=nid)  # the admin can send it again once the key is fixed
        session.commit()


def test_an_attempt_just_after_midnight_is_looked_up_on_both_days() -> None:
    # 00:00:20 in Beijing; the request may have left before midnight.
    recorded = dt.datetime(2026, 3, 1, 16, 0, 20, tzinfo=dt.UTC)
    assert send_dates([recorded], window=dt.timedelta(seconds=80)) == ["20260301", "20260302"]
    assert send_dates([recorded + dt.timedelta(hours=1)], window=dt.timedelta(seconds=80)) == ["20260302"]
