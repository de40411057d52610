"""12345 orders in: a resend is answered as the same case only when it is the same order; one that differs
is refused (409) naming the fields and what to do, with nothing of it stored, rather than silently
dropped. The platform's receipt time must be plausible, and a malformed order id or time is answered by
what the field must look like, in Chinese."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.clock import utcnow
from models.complaint import Complaint
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_complaints_api import act
from tests.test_hotline_intake import ORDER, new_hotline_token, post


def test_an_identical_resend_is_the_same_case_and_a_different_one_is_refused_unstored(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first = post(client, token)
    assert first.status_code == 201, first.text
    case_id = first.json()["id"]
    act(client, staff, "intake", case_id, "accept")

    same = post(client, token)
    assert (same.status_code, same.json()["created"], same.json()["id"]) == (200, False, case_id)

    other = post(client, token, caller_name="李女士", content="另一份诉求内容：拖欠货款。", category="other")
    assert other.status_code == 409, other.text
    body: dict[str, Any] = other.json()
    assert [f["field"] for f in body["fields"]] == ["caller_name", "title", "content", "category"]
    assert body["case_number"] == first.json()["number"]
    assert "caller_name、title、content、category" in body["message"]
    assert "请使用新的工单编号推送" in body["message"]
    assert "联系受理人员" in body["message"]
    again = post(client, token, caller_name="李女士")
    assert again.status_code == 409
    reissue = client.post(
        "/api/v1/intake/work-orders?reissue_tracking_password=true",
        json={**ORDER, "caller_phone": "13900000009"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reissue.status_code == 409  # no new password for an order that is not this one

    session.expire_all()
    case = session.exec(select(Complaint).where(Complaint.id == case_id)).one()
    assert (case.complainant_name, case.description) == (ORDER["caller_name"], ORDER["content"])
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
    assert [e.event for e in events] == ["register", "accept"]


def test_a_resend_of_an_order_with_a_retired_departments_code_and_attachments_is_still_a_copy(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    order = {"respondent_department_code": "D01", "respondent_name": None, "attachments": ["合同.pdf"]}
    assert post(client, token, **order).status_code == 201
    assert post(client, token, **order).status_code == 200
    assert post(client, token, **{**order, "attachments": ["合同.pdf", "发票.pdf"]}).status_code == 409


def test_a_receipt_time_in_the_future_or_long_past_is_refused_in_chinese(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    ahead = post(client, token, received_at="2036-12-08T09:12:00+08:00")
    assert ahead.status_code == 422
    [field] = ahead.json()["fields"]
    assert field["field"] == "received_at"
    assert "受理时间晚于当前时间" in field["message"]
    old = post(client, token, received_at="2019-03-16T09:12:00+08:00")
    assert old.status_code == 422
    assert "受理时间早于一年前" in old.json()["fields"][0]["message"]
    skew = (utcnow() + dt.timedelta(minutes=2)).isoformat()
    assert post(client, token, received_at=skew).status_code == 201  # clocks a little apart


def test_a_malformed_order_id_or_time_says_what_it_must_look_like(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    bad_id = post(client, token, order_id="工单 12")
    assert bad_id.status_code == 422
    message = bad_id.json()["fields"][0]["message"]
    assert "工单编号只能由英文字母、数字和 . _ : - 组成" in message
    assert "String should match" not in message
    for when in ("2026-03-16 早上", "2026-03-16T09:12:00"):
        answer = post(client, token, received_at=when)
        assert answer.status_code == 422
        text = answer.json()["fields"][0]["message"]
        assert "受理时间应为带时区的 ISO 8601 时间，例如 2026-03-16T09:12:00+08:00" in text
        assert "Input should" not in text


def test_a_drill_on_a_pinned_day_takes_orders_dated_on_that_day(
    client: TestClient, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 12345 drill pins today (SHOUXIN_TODAY): its orders are dated on the drill's timeline, not the
    # machine's, and the plausibility check follows the pinned day.
    monkeypatch.setenv("SHOUXIN_TODAY", "2027-01-08")
    get_settings.cache_clear()
    token = new_hotline_token(session)
    assert post(client, token, received_at="2027-01-07T09:00:00+08:00").status_code == 201
    ahead = post(client, token, order_id="GD2027010800002", received_at="2027-01-10T08:30:00+08:00")
    assert ahead.status_code == 422
