"""Notifications: templates, message building, the outbox service and delivery against a real SMTP server."""

from __future__ import annotations

import datetime as dt
import socket
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, message_from_string
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import jinja2
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import models.outbox  # noqa: F401  (registers the table)
import notifications.sink  # noqa: F401  (registers the table)
from flows.deliver_notifications import SCHEDULE, deliver_due
from models.clock import utcnow
from models.db import make_engine
from models.errors import Conflict
from models.outbox import SMS_TEMPLATES, Notification, NotificationStatus, enqueue
from models.settings import get_settings
from notifications.catalogue import TEMPLATES, sms_sample
from notifications.mailer import message_id
from notifications.outbox_service import (
    MAX_ATTEMPTS,
    backoff,
    claim_due,
    list_notifications,
    mark_temporary_failure,
    retry_dead,
)
from notifications.render import cn_date, cn_datetime, mask_phone, render
from notifications.sink import list_sink_messages, start_sink
from notifications.sms import render_sms

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> int:
    chosen = _free_port()
    monkeypatch.setenv("SHOUXIN_SMTP_HOST", HOST)
    monkeypatch.setenv("SHOUXIN_SMTP_PORT", str(chosen))
    monkeypatch.setenv("SHOUXIN_SMTP_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("SHOUXIN_MAIL_FROM", "守信平台 <noreply@xinyong.example.gov.cn>")
    get_settings.cache_clear()
    return chosen


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine("sqlite:///" + str(tmp_path / "t.db"), create=True)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sink(db: Engine, port: int) -> Iterator[Controller]:
    controller = start_sink(db, host=HOST, port=port)
    yield controller
    controller.stop()


class RejectingHandler:
    """Refuses recipients whose address starts with a code: ``bad@`` gets 550, ``later@`` gets 451."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if address.startswith("bad@"):
            return "550 5.1.1 <bad@example.com>: Recipient address rejected: User unknown"
        if address.startswith("later@"):
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.received.append(message_from_bytes(envelope.original_content, policy=default_policy))
        return "250 Message accepted for delivery"


@pytest.fixture
def rejecting(port: int) -> Iterator[RejectingHandler]:
    handler = RejectingHandler()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    yield handler
    controller.stop()


def _queue(
    engine: Engine,
    count: int = 1,
    *,
    email: str | None = "zhangsan@example.com",
    template: str = "complaint_received",
    context: dict[str, Any] | None = None,
    prefix: str = "k",
) -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        ids = [
            enqueue(
                session=session,
                template=template,
                recipient_kind="complainant",
                recipient_name="张三",
                recipient_email=email,
                key=f"{prefix}-{index}",
                context=context if context is not None else dict(TEMPLATES[template].sample),
                case_kind="complaint",
                case_number="TS20260302-0001",
            )
            for index in range(count)
        ]
        session.commit()
        return ids


def _row(engine: Engine, notification_id: int) -> Notification:
    with Session(engine) as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        return row


# ----------------------------------------------------------------------------------------- templates


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_renders_its_sample(name: str) -> None:
    spec = TEMPLATES[name]
    assert set(spec.required) == set(spec.sample)
    message = render(name, spec.sample)
    assert message.subject.startswith("【守信平台】")
    assert "\n" not in message.subject
    for part in (message.text, message.html):
        assert "XX市" not in part  # the shipped placeholder 落款 is never printed
        assert "请勿直接回复" in part
    assert message.html.lstrip().startswith("<!DOCTYPE html>")
    # Every ISO date in the sample appears in the official form, never raw.
    for value in spec.sample.values():
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
            assert value not in message.text
            assert cn_date(value) in message.text
    # A notice that may go by SMS renders its SMS text from the same sample (tests/test_sms.py: the rest).
    if name in SMS_TEMPLATES:
        number = (
            spec.sample.get("case_number") or spec.sample.get("pledge_number") or spec.sample["record_number"]
        )
        assert number in render_sms(name, sms_sample(name))


@pytest.mark.parametrize(
    ("name", "key"), [(name, key) for name, spec in sorted(TEMPLATES.items()) for key in spec.required]
)
def test_a_missing_key_raises(name: str, key: str) -> None:
    context = {k: v for k, v in TEMPLATES[name].sample.items() if k != key}
    with pytest.raises(jinja2.UndefinedError):
        render(name, context)


def test_html_escapes_user_values_and_text_keeps_them() -> None:
    context = dict(TEMPLATES["complaint_replied"].sample, reply_text="<script>alert('x')</script>")
    message = render("complaint_replied", context)
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "<script>alert('x')</script>" in message.text


def test_subject_cannot_carry_a_header() -> None:
    context = dict(TEMPLATES["complaint_received"].sample, case_number="X\r\nBcc: evil@example.com")
    assert "\n" not in render("complaint_received", context).subject


def test_variants_and_labels() -> None:
    warning = dict(TEMPLATES["deadline_warning"].sample, level="red", working_days_left=-2)
    assert "红牌预警" in render("deadline_warning", warning).subject
    assert "已超过期限2个工作日" in render("deadline_warning", warning).text
    with pytest.raises(jinja2.UndefinedError):
        render("deadline_warning", dict(warning, level="purple"))
    for step, label in [("remind", "催办"), ("supervise", "督办"), ("escalate", "提级办理")]:
        notice = dict(TEMPLATES["supervision_notice"].sample, step=step)
        assert label in render("supervision_notice", notice).subject
    registered = dict(TEMPLATES["pledge_registered"].sample, publication_day=None)
    assert "依规推送" in render("pledge_registered", registered).text
    refused = dict(TEMPLATES["extension_decision"].sample, approved=False, new_deadline=None)
    assert "不予批准" in render("extension_decision", refused).text
    digest = render("daily_digest", {"digest_date": "2026-03-02", "rows": []})
    assert "无超期或临期" in digest.text


def test_filters() -> None:
    assert cn_date("2026-03-02") == "2026年3月2日"
    assert cn_date(dt.date(2026, 12, 31)) == "2026年12月31日"
    # 20:00 UTC on 1 March is already 2 March in Asia/Shanghai.
    assert cn_date(dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)) == "2026年3月2日"
    assert cn_datetime("2026-03-02T06:05:00+00:00") == "2026年3月2日 14:05"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138 1234 5678") == "138****5678"
    assert "5678" not in mask_phone("5678")


def test_issuer_name_from_context() -> None:
    context = dict(
        TEMPLATES["complaint_return_visit"].sample, issuer_name="呼和浩特市社会信用体系建设领导小组办公室"
    )
    assert "呼和浩特市社会信用体系建设领导小组办公室" in render("complaint_return_visit", context).html


def test_schedule_is_declared() -> None:
    assert SCHEDULE == {"cron": "* * * * *", "timezone": "Asia/Shanghai"}


# ------------------------------------------------------------------------------------ outbox service


def test_backoff_doubles_to_an_hour_then_dead(db: Engine) -> None:
    assert [backoff(n) for n in (1, 2, 3, 7, 8, 11)] == [
        dt.timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)
    ]
    (nid,) = _queue(db)
    now = utcnow()
    with Session(db) as session:
        for attempt in range(1, MAX_ATTEMPTS):
            row = mark_temporary_failure(session=session, notification_id=nid, now=now, error="421")
            assert row.status == NotificationStatus.PENDING
            assert row.next_attempt_at == now + backoff(attempt)
        row = mark_temporary_failure(session=session, notification_id=nid, now=now, error="421 busy")
        assert row.status == NotificationStatus.DEAD
        assert row.attempts == MAX_ATTEMPTS
        session.commit()


def test_claim_is_oldest_first_limited_and_leased(db: Engine) -> None:
    ids = _queue(db, 5)
    now = utcnow() + dt.timedelta(seconds=1)
    with Session(db) as session:
        assert claim_due(session=session, now=now, limit=3) == ids[:3]
        assert claim_due(session=session, now=now, limit=10) == ids[3:]
        assert claim_due(session=session, now=now, limit=10) == []
        session.commit()
    with Session(db) as session:
        # A worker that died holding the lease gives the rows back when the lease runs out.
        assert claim_due(session=session, now=now + dt.timedelta(minutes=11), limit=10) == ids


def test_list_notifications_pages_by_id(db: Engine) -> None:
    ids = _queue(db, 5)
    _queue(db, 1, email=None, prefix="none")
    with Session(db) as session:
        first = list_notifications(session=session, status=NotificationStatus.PENDING, limit=2)
        assert [row.id for row in first] == ids[:2]
        rest = list_notifications(session=session, status=NotificationStatus.PENDING, after_id=ids[1])
        assert [row.id for row in rest] == ids[2:]
        undeliverable = list_notifications(session=session, status=NotificationStatus.UNDELIVERABLE)
        assert len(undeliverable) == 1


# ---------------------------------------------------------------------------------------- delivery


def test_delivery_headers_parts_and_chinese_text(db: Engine, sink: Controller) -> None:
    (nid,) = _queue(db)
    assert deliver_due(engine=db) == {"sent": 1, "retry": 0, "dead": 0}

    row = _row(db, nid)
    assert row.status == NotificationStatus.SENT
    assert row.attempts == 1
    assert row.sent_at is not None
    with Session(db) as session:
        (stored,) = list_sink_messages(session=session, limit=10)
    assert stored.rcpt_tos == ["zhangsan@example.com"]
    assert stored.subject == "【守信平台】您的投诉已登记（投诉编号：TS20260302-0001）"
    expected_id = message_id(nid, "k-0")
    assert stored.message_id == expected_id
    assert expected_id.startswith(f"<notification-{nid}-")
    assert expected_id.endswith("@xinyong.example.gov.cn>")

    # The wire form is 7-bit headers; decoding gives the Chinese back intact.
    raw_headers = stored.raw.split("\r\n\r\n", 1)[0]
    assert raw_headers.isascii()
    message = message_from_string(stored.raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert message["X-Shouxin-Notification"] == str(nid)
    assert message["To"].addresses[0].display_name == "张三"
    assert message["To"].addresses[0].addr_spec == "zhangsan@example.com"
    assert message["From"].addresses[0].display_name == "守信平台"
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "您于2026年3月2日通过12345热线提交的政府违约失信投诉已登记" in text.get_content()
    assert "XX市" not in html.get_content()
    assert "本邮件由系统自动发送，请勿直接回复" in html.get_content()

    # Nothing is due any more: a second run sends nothing.
    assert deliver_due(engine=db) == {"sent": 0, "retry": 0, "dead": 0}


def test_5xx_rejection_is_dead_with_the_answer_and_retry_makes_it_pending(
    db: Engine, rejecting: RejectingHandler
) -> None:
    (bad,) = _queue(db, email="bad@example.com", prefix="bad")
    (good,) = _queue(db, email="good@example.com", prefix="good")
    assert deliver_due(engine=db) == {"sent": 1, "retry": 0, "dead": 1}

    # The refusal did not stop the batch: the next message went over the same connection.
    assert [m["X-Shouxin-Notification"] for m in rejecting.received] == [str(good)]
    row = _row(db, bad)
    assert row.status == NotificationStatus.DEAD
    assert row.last_error is not None
    assert "550" in row.last_error
    assert "User unknown" in row.last_error

    with Session(db) as session:
        retry_dead(session=session, notification_id=bad)
        session.commit()
    row = _row(db, bad)
    assert row.status == NotificationStatus.PENDING
    assert row.attempts == 0

    with Session(db) as session, pytest.raises(Conflict, match="只能重发"):
        retry_dead(session=session, notification_id=good)


def test_4xx_rejection_is_retried_later(db: Engine, rejecting: RejectingHandler) -> None:
    (nid,) = _queue(db, email="later@example.com")
    now = utcnow()
    assert deliver_due(engine=db, now=now) == {"sent": 0, "retry": 1, "dead": 0}
    row = _row(db, nid)
    assert row.status == NotificationStatus.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at == now + dt.timedelta(minutes=1)
    assert row.last_error is not None
    assert "451 4.3.0" in row.last_error
    assert rejecting.received == []


def test_undeliverable_is_never_sent(db: Engine, sink: Controller) -> None:
    (nid,) = _queue(db, email=None)
    assert _row(db, nid).status == NotificationStatus.UNDELIVERABLE
    assert deliver_due(engine=db, now=utcnow() + dt.timedelta(days=1)) == {"sent": 0, "retry": 0, "dead": 0}
    with Session(db) as session:
        assert list_sink_messages(session=session, limit=10) == []
    assert _row(db, nid).status == NotificationStatus.UNDELIVERABLE


def test_a_row_that_cannot_render_is_dead_and_does_not_block_the_batch(db: Engine, sink: Controller) -> None:
    (broken,) = _queue(db, context={"case_number": "TS1"}, prefix="broken")
    (fine,) = _queue(db, prefix="fine")
    assert deliver_due(engine=db) == {"sent": 1, "retry": 0, "dead": 1}
    row = _row(db, broken)
    assert row.status == NotificationStatus.DEAD
    assert row.last_error is not None
    assert "UndefinedError" in row.last_error
    assert _row(db, fine).status == NotificationStatus.SENT


def test_smtp_outage_loses_nothing_and_sends_each_message_once(db: Engine, port: int) -> None:
    ids = _queue(db, 200)
    t0 = utcnow()

    # No server listening: every message stays pending, none of its attempts spent (none was made).
    assert deliver_due(engine=db, now=t0) == {"sent": 0, "retry": 200, "dead": 0}
    with Session(db) as session:
        rows = list(session.exec(select(Notification)))
    assert len(rows) == 200
    assert {row.status for row in rows} == {NotificationStatus.PENDING}
    assert {row.attempts for row in rows} == {0}
    assert all(row.last_error and "connect" in row.last_error for row in rows)

    # Before the back-off has passed nothing is due.
    assert deliver_due(engine=db, now=t0 + dt.timedelta(seconds=30)) == {"sent": 0, "retry": 0, "dead": 0}

    controller = start_sink(db, host=HOST, port=port)
    try:
        assert deliver_due(engine=db, now=t0 + dt.timedelta(minutes=2)) == {
            "sent": 200,
            "retry": 0,
            "dead": 0,
        }
        assert deliver_due(engine=db, now=t0 + dt.timedelta(hours=2)) == {"sent": 0, "retry": 0, "dead": 0}
    finally:
        controller.stop()

    with Session(db) as session:
        received = list_sink_messages(session=session, limit=1000)
        rows = list(session.exec(select(Notification)))
    per_id = Counter(message.message_id for message in received)
    assert len(received) == 200
    assert per_id == Counter({message_id(nid, f"k-{index}"): 1 for index, nid in enumerate(ids)})
    assert {row.status for row in rows} == {NotificationStatus.SENT}
    assert {row.attempts for row in rows} == {1}


def test_claim_lease_covers_a_slow_servers_worst_case_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    from notifications.outbox_service import CLAIM_LEASE, claim_lease

    monkeypatch.setenv("SHOUXIN_SMTP_TIMEOUT_SECONDS", "10")
    get_settings.cache_clear()
    assert claim_lease(1) == CLAIM_LEASE  # never shorter than the floor
    # 100 messages, each able to wait 10 s on each of 3 commands: 50 minutes plus a margin.
    assert claim_lease(100) >= dt.timedelta(seconds=100 * 30)


def test_the_mails_give_the_addresses_of_the_public_pages_they_send_readers_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The registration mail carries the access code and the published mail invites an objection: a pledgor
    # holding only the mail must find the pages, at the address the deployment serves them on when the
    # mail is rendered (a mail queued before the address changed included). Likewise the re-issued code's
    # mail and the complainant's receipt.
    monkeypatch.setenv("SHOUXIN_PUBLIC_BASE_URL", "https://xy.example.gov.cn/")
    get_settings.cache_clear()
    try:
        with_code = dict(TEMPLATES["pledge_registered"].sample, access_code="ABCD-EFGH-JKMN")
        registered = render("pledge_registered", with_code)
        published = render("pledge_published", TEMPLATES["pledge_published"].sample)
        reissued = render("pledge_access_code", TEMPLATES["pledge_access_code"].sample)
        received = render("complaint_received", TEMPLATES["complaint_received"].sample)
    finally:
        monkeypatch.delenv("SHOUXIN_PUBLIC_BASE_URL")
        get_settings.cache_clear()
    case = TEMPLATES["complaint_received"].sample["case_number"]
    for part in (reissued.text, reissued.html):
        assert "https://xy.example.gov.cn/register" in part
    for part in (received.text, received.html):
        assert f"https://xy.example.gov.cn/track?number={case}" in part
    record = TEMPLATES["pledge_published"].sample["record_number"]
    for part in (registered.text, registered.html):
        assert "https://xy.example.gov.cn/pledges/evidence" in part
        assert "https://xy.example.gov.cn/pledges/status" in part
    for part in (published.text, published.html):
        assert f"https://xy.example.gov.cn/register/{record}/objection" in part
        assert f"https://xy.example.gov.cn/register/{record}/repair" in part
