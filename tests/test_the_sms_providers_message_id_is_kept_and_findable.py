"""The id an SMS provider gives a text it took (Alibaba Cloud's BizId, the gateway's message_id) is stored
on the notification row in the write that marks it sent, shown where admins look at notifications (the
page, `shouxin notifications list`, the admin API) and found there by it: a delivery report, a support
ticket or a recipient's "I never got the text" leads to the row that sent it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.notifications_cmd import app as notifications_cli
from flows.deliver_notifications import deliver_due
from models.outbox import Notification, NotificationStatus, enqueue
from notifications.catalogue import TEMPLATES
from notifications.mailer import Outcome
from notifications.outbox_service import list_notifications, mark_dead, mark_sent
from notifications.sms import provider_id
from notifications.sms_http import classify
from tests.cli_support import cli_engine, listed_at_80_columns, table_rows  # noqa: F401
from tests.conftest import Staff
from tests.sms_servers import AliyunServer, GatewayServer
from tests.test_sms_delivery import OK_PHONE, _queue_sms, _row, aliyun, db, gateway  # noqa: F401
from tests.test_sms_not_sent_twice_after_timeout import (  # noqa: F401
    RecordingAliyun,
    _first_attempt_times_out,
    lost_then_timed_out,
)
from tests.web_support import sign_in

CASE = TEMPLATES["complaint_received"].sample["case_number"]


def _queue(session: Session, key: str, *, phone: str = OK_PHONE, case_number: str = CASE) -> int:
    notification_id = enqueue(
        session=session,
        template="complaint_received",
        recipient_kind="complainant",
        recipient_name="李四",
        recipient_email=None,
        recipient_phone=phone,
        key=key,
        context=dict(TEMPLATES["complaint_received"].sample),
        case_kind="complaint",
        case_number=case_number,
    )
    session.commit()
    return notification_id


def _sent(session: Session, key: str, provider_message_id: str | None, **queued: Any) -> int:
    """A text queued and marked sent with ``provider_message_id``, as the delivery flow records it."""
    notification_id = _queue(session, key, **queued)
    now = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    mark_sent(
        session=session, notification_id=notification_id, now=now, provider_message_id=provider_message_id
    )
    session.commit()
    return notification_id


@pytest.fixture
def sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.settings import get_settings

    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()


# ------------------------------------------------------------------------------- delivery stores it


def test_a_text_alibaba_cloud_took_keeps_its_biz_id(db: Engine, aliyun: AliyunServer) -> None:  # noqa: F811
    first, second = _queue_sms(db, [OK_PHONE, "13912345678"])
    assert deliver_due(engine=db) == {"sent": 2, "retry": 0, "dead": 0}
    # The fake answers the n-th request with BizId "<n, six digits>^0", as Alibaba Cloud's look.
    assert [(_row(db, n).status, _row(db, n).provider_message_id) for n in (first, second)] == [
        (NotificationStatus.SENT, "000001^0"),
        (NotificationStatus.SENT, "000002^0"),
    ]


def test_a_text_the_gateway_took_keeps_its_message_id(db: Engine, gateway: GatewayServer) -> None:  # noqa: F811
    (nid,) = _queue_sms(db, [OK_PHONE], template="complaint_replied")
    assert deliver_due(engine=db) == {"sent": 1, "retry": 0, "dead": 0}
    row = _row(db, nid)
    assert (row.status, row.provider_message_id, row.last_error) == (NotificationStatus.SENT, "gw-1", None)


def test_a_text_sent_after_a_lookup_found_nothing_keeps_the_biz_id_of_that_send(
    db: Engine,  # noqa: F811
    lost_then_timed_out: RecordingAliyun,  # noqa: F811
) -> None:
    nid, t0 = _first_attempt_times_out(db, lost_then_timed_out)
    assert deliver_due(engine=db, now=t0 + dt.timedelta(minutes=5)) == {"sent": 1, "retry": 0, "dead": 0}
    assert lost_then_timed_out.actions() == ["SendSms", "QuerySendDetails", "SendSms"]
    assert _row(db, nid).provider_message_id == "000003^0"  # the answer to the third request


def test_a_refused_text_keeps_no_provider_id(db: Engine, gateway: GatewayServer) -> None:  # noqa: F811
    gateway.answers[OK_PHONE] = (422, "INVALID_NUMBER", "not a mobile number")
    (nid,) = _queue_sms(db, [OK_PHONE])
    assert deliver_due(engine=db) == {"sent": 0, "retry": 0, "dead": 1}
    assert _row(db, nid).provider_message_id is None


@pytest.mark.parametrize(
    ("answer", "stored"),
    [
        ({"message_id": "gw-20260302-000123"}, "gw-20260302-000123"),
        ({"message_id": "  gw-7 \n"}, "gw-7"),  # blanks around it are not part of it
        ({"message_id": 900619746936498440}, "900619746936498440"),  # a number, as some gateways send
        ({"message_id": "x" * 129}, None),  # longer than the column: not cut into an id nobody knows
        ({"message_id": {"id": "gw-1"}}, None),  # not an id
        ({"message_id": True}, None),
        ({"message_id": "gw-1\x00"}, None),
        ({"message_id": ""}, None),
        ({}, None),  # a gateway that gives no id: sent all the same
    ],
)
def test_the_gateways_answer_gives_the_id_as_data_only_when_it_is_one(
    answer: Any, stored: str | None
) -> None:
    result = classify(httpx.Response(200, json=answer))
    assert (result.outcome, result.provider_message_id) == (Outcome.SENT, stored)


def test_an_id_is_stored_whole_or_not_at_all() -> None:
    assert provider_id("9" * 128) == "9" * 128
    assert provider_id("9" * 129) is None
    assert provider_id(None) is None


def test_the_id_is_stored_in_the_write_that_marks_the_row_sent_and_never_on_a_settled_row(
    session: Session, sms_on: None
) -> None:
    sent = _sent(session, "k-sent", "900619746936498440^0")
    row = session.get(Notification, sent)
    assert row is not None
    assert (row.status, row.attempts, row.provider_message_id) == (
        NotificationStatus.SENT,
        1,
        "900619746936498440^0",
    )

    dead = _queue(session, "k-dead")
    now = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    mark_dead(session=session, notification_id=dead, now=now, error="isv.MOBILE_NUMBER_ILLEGAL")
    # A late "sent" for a row already settled (another run's) changes nothing, its id included.
    mark_sent(session=session, notification_id=dead, now=now, provider_message_id="late^0")
    session.commit()
    row = session.get(Notification, dead)
    assert row is not None
    assert (row.status, row.provider_message_id) == (NotificationStatus.DEAD, None)


# ------------------------------------------------------------------------------ admins find it by it


def test_list_notifications_finds_the_row_a_provider_id_or_a_case_number_names(
    session: Session, sms_on: None
) -> None:
    wanted = _sent(session, "k-1", "900619746936498440^0")
    _sent(session, "k-2", "900619746936498441^0", case_number="TS20260302-0002")
    _queue(session, "k-3", case_number="TS20260302-0002")

    assert [
        n.id for n in list_notifications(session=session, provider_message_id=" 900619746936498440^0 ")
    ] == [wanted]
    assert list_notifications(session=session, provider_message_id="900619746936498440") == []  # exact only
    same_case = list_notifications(session=session, case_number="TS20260302-0002")
    assert [(n.status, n.provider_message_id) for n in same_case] == [
        (NotificationStatus.SENT, "900619746936498441^0"),
        (NotificationStatus.PENDING, None),
    ]


def test_the_admin_notifications_page_finds_a_sent_text_by_its_provider_id_and_shows_it(
    session: Session, sms_on: None, client: Any, staff: Staff
) -> None:
    sent = _sent(session, "page-1", "900619746936498440^0")
    _sent(session, "page-2", "gw-other", case_number="TS20260302-0002")
    sign_in(client, staff.admin)

    page = client.get("/staff/admin/notifications", params={"provider_id": "900619746936498440^0"})
    assert page.status_code == 200
    found = page.text.split('id="found"', 1)[1].split("</table>", 1)[0]
    assert f'<td data-label="ID">{sent}</td>' in found
    assert '<td data-label="状态">已发送</td>' in found
    assert '<td data-label="服务商消息编号" class="provider-id">900619746936498440^0</td>' in found
    assert "2026-03-02 09:00" in found  # sent at, Beijing time
    assert "gw-other" not in found
    assert 'value="900619746936498440^0"' in page.text  # the search stays in its field

    # A recipient names the case: its texts, with the ids to quote to the provider.
    by_case = client.get("/staff/admin/notifications", params={"case": CASE}).text
    assert "900619746936498440^0" in by_case.split('id="found"', 1)[1]

    missing = client.get("/staff/admin/notifications", params={"provider_id": "no-such-id"}).text
    assert 'id="found-none"' in missing
    # Without a search the page lists the queues as before, with no result section.
    plain = client.get("/staff/admin/notifications").text
    assert 'id="notification-search"' in plain
    assert "查找结果" not in plain


def test_a_supervisor_may_search_too(session: Session, sms_on: None, client: Any, staff: Staff) -> None:
    _sent(session, "page-1", "gw-9")
    sign_in(client, staff.supervisor)
    page = client.get("/staff/admin/notifications", params={"provider_id": "gw-9"})
    assert page.status_code == 200
    assert '<td data-label="服务商消息编号" class="provider-id">gw-9</td>' in page.text


def test_the_admin_api_shows_the_provider_id(
    session: Session, sms_on: None, client: Any, staff: Staff
) -> None:
    sent = _sent(session, "api-1", "900619746936498440^0")
    listed = client.get("/api/v1/admin/notifications?status=sent", headers=staff.auth("supervisor")).json()
    assert [(n["id"], n["provider_message_id"]) for n in listed] == [(sent, "900619746936498440^0")]


def test_the_admin_api_finds_a_notification_by_its_provider_id_or_case_number(
    session: Session, sms_on: None, client: Any, staff: Staff
) -> None:
    sent = _sent(session, "api-1", "900619746936498440^0")
    other = _sent(session, "api-2", "gw-other", case_number="TS20260302-0002")
    auth = staff.auth("supervisor")
    by_id = client.get(
        "/api/v1/admin/notifications", params={"provider_message_id": "900619746936498440^0"}, headers=auth
    )
    assert [n["id"] for n in by_id.json()] == [sent]
    by_case = client.get(
        "/api/v1/admin/notifications", params={"case_number": "TS20260302-0002"}, headers=auth
    )
    assert [n["id"] for n in by_case.json()] == [other]
    too_long = client.get(
        "/api/v1/admin/notifications", params={"provider_message_id": "x" * 129}, headers=auth
    )
    assert too_long.status_code == 422


# `shouxin notifications list` opens the settings' database: this module's ``engine`` is that one
# (tests/cli_support.py ``cli_engine``).


def test_list_shows_the_provider_id_and_finds_a_row_by_it(session: Session, sms_on: None) -> None:
    wanted = _sent(session, "cli-1", "900619746936498440^0")
    _sent(session, "cli-2", "gw-other")
    result = CliRunner().invoke(notifications_cli, ["list", "--provider-id", "900619746936498440^0"])
    assert result.exit_code == 0, result.output
    ((row_id, *cells),) = [["".join(c) for c in row] for row in table_rows(result.stdout)]
    assert row_id == str(wanted)
    assert "900619746936498440^0" in cells
    by_case = CliRunner().invoke(notifications_cli, ["list", "--case", CASE, "--status", "sent"])
    assert by_case.exit_code == 0, by_case.output
    assert len(table_rows(by_case.stdout)) == 2


def test_the_id_is_folded_whole_at_80_columns(
    session: Session, sms_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sent(session, "cli-1", "900619746936498440^0")
    listed = listed_at_80_columns(notifications_cli, monkeypatch, "--status", "sent")
    ((*_, provider, _error),) = table_rows(listed.stdout)
    assert "".join(provider) == "900619746936498440^0"
