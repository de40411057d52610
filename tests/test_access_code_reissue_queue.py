"""A re-issued access code voids the old one, so a notice still waiting to be sent with the old code (the
registration notice or an earlier re-issue's, backing off after a temporary failure) leaves the queue: sent
later it would hand the pledgor a code that no longer works, and the outbox would keep the void code in
clear. Notices already sent are history and stay as they are."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Channel, Notification, NotificationStatus
from models.pledges.access import SUPERSEDED
from models.settings import get_settings
from notifications.outbox_service import claim_due, mark_sent, mark_temporary_failure
from tests.conftest import Staff
from tests.test_access_code_at_rest import _mail
from tests.test_pledges import body, registered
from tests.web_support import sign_in

API = "/api/v1"
NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def _reissue(client: TestClient, staff: Staff, pledge_id: int) -> str:
    answer = client.post(f"{API}/pledges/{pledge_id}/access-code", json={}, headers=staff.auth("handler"))
    assert answer.status_code == 200, answer.text
    code: str = answer.json()["access_code"]
    return code


def _rows(session: Session, number: str, template: str) -> list[Notification]:
    session.expire_all()
    query = select(Notification).where(Notification.case_number == number, Notification.template == template)
    return list(session.exec(query.order_by(col(Notification.id))))


def _retrying(session: Session, row: Notification) -> None:
    """``row`` failed once and waits for its next attempt, still pending with its code."""
    assert row.id is not None
    mark_temporary_failure(session=session, notification_id=row.id, now=NOW, error="421 try again later")
    session.commit()


def _assert_superseded(row: Notification, code: str) -> None:
    assert row.status == NotificationStatus.UNDELIVERABLE
    assert row.last_error == SUPERSEDED
    assert code not in json.dumps(row.context)
    assert row.context["pledge_number"] == row.case_number  # the rest of the record stays


def test_a_registration_notice_still_retrying_is_not_sent_with_the_code_a_reissue_voided(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    _retrying(session, _mail(session, created["number"]))
    new_code = _reissue(client, staff, created["id"])
    _assert_superseded(_mail(session, created["number"]), created["access_code"])
    fresh = _mail(session, created["number"], "pledge_access_code")
    assert fresh.status == NotificationStatus.PENDING
    assert fresh.context["access_code"] == new_code
    # Only the new code's notice is ever claimed for delivery again, whenever the worker next looks.
    later = max(NOW, fresh.next_attempt_at) + dt.timedelta(days=1)
    assert claim_due(session=session, now=later, limit=10) == [fresh.id]


def test_the_admin_page_shows_a_superseded_notice_without_asking_staff_to_deliver_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    _retrying(session, _mail(session, created["number"]))
    _reissue(client, staff, created["id"])
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/notifications").text
    superseded = page.split(SUPERSEDED[:12])[0].rsplit("<tr>", 1)[1]  # the superseded row's cells
    assert "请致电" not in superseded
    assert "书面送达" not in superseded


def test_a_second_reissue_ends_the_first_reissues_notice_still_pending(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    first = _reissue(client, staff, created["id"])
    second = _reissue(client, staff, created["id"])
    older, newer = _rows(session, created["number"], "pledge_access_code")
    _assert_superseded(older, first)
    assert newer.status == NotificationStatus.PENDING
    assert newer.context["access_code"] == second
    _assert_superseded(_mail(session, created["number"]), created["access_code"])


def test_a_notice_already_sent_is_history_and_left_as_it_was(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    sent = _mail(session, created["number"])
    assert sent.id is not None
    mark_sent(session=session, notification_id=sent.id, now=NOW)
    session.commit()
    _reissue(client, staff, created["id"])
    after = _mail(session, created["number"])
    assert after.status == NotificationStatus.SENT
    assert after.sent_at is not None
    assert after.last_error is None


def test_the_registration_text_message_is_ended_with_the_mail(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()
    answer = client.post(
        f"{API}/pledges",
        json=body(deadline="2026-04-30", pledgor_phone="138 1234 5678"),
        headers=staff.auth("intake"),
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    rows = _rows(session, created["number"], "pledge_registered")
    assert {row.channel for row in rows} == {Channel.EMAIL.value, Channel.SMS.value}
    for row in rows:
        _retrying(session, row)
    _reissue(client, staff, created["id"])
    for row in _rows(session, created["number"], "pledge_registered"):
        _assert_superseded(row, created["access_code"])


def test_another_pledges_pending_notice_keeps_its_code(
    client: TestClient, staff: Staff, session: Session
) -> None:
    mine = registered(client, staff)
    other = registered(client, staff)
    _reissue(client, staff, mine["id"])
    untouched = _mail(session, other["number"])
    assert untouched.status == NotificationStatus.PENDING
    assert untouched.context["access_code"] == other["access_code"]
