"""The credit website column (政府违约失信投诉专栏): a complainant submits a complaint online without an
account, and it lands in intake's queue like a 12345 or window complaint (RULEBOOK complaints §2), with a
per-address hourly limit and a setting that closes the column."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from models.audit import CaseEvent
from models.complaint import Channel, Complaint
from models.complaints.registration import WEBSITE_ACTOR
from models.lifecycle import ComplaintState
from models.outbox import Notification
from models.settings import get_settings
from notifications.render import render
from tests.conftest import Staff
from tests.web_support import post_form, sign_in

API = "/api/v1"
PAGE = "/complaints/new"
FORM = {
    "complainant_name": "示范建材有限公司",
    "complainant_credit_code": "",
    "complainant_phone": "13812345678",
    "complainant_email": "boss@example.com",
    "respondent_department_code": "D01",
    "respondent_name": "",
    "category": "sme_arrears",
    "amount": "120000.00",
    "summary": "工程款拖欠两年未付",
    "description": "2023 年签订的施工合同，验收后至今未付尾款。",
    "attachments": "施工合同.pdf\n\n验收单.pdf",
}


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.exec(select(func.count()).select_from(Complaint)).one())


def _limit(monkeypatch: pytest.MonkeyPatch, per_hour: int) -> None:
    monkeypatch.setenv("SHOUXIN_PUBLIC_COMPLAINTS_PER_HOUR", str(per_hour))
    get_settings.cache_clear()


def _submit(client: TestClient, **changes: Any) -> Any:
    return post_form(client, PAGE, {**FORM, **changes})


def test_the_page_registers_a_website_case_awaiting_initial_review_and_shows_the_password_once(
    client: TestClient, staff: Staff, session: Session
) -> None:
    form = client.get(PAGE)
    assert form.status_code == 200
    assert "市住房和城乡建设局" in form.text  # departments offered by name
    assert "不予受理" in form.text  # what goes elsewhere (信访, litigation …), before filling in
    assert "信访" in form.text
    answer = _submit(client)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    number = re.search(r'id="number">([^<]+)<', answer.text)
    password = re.search(r'id="password">([^<]+)<', answer.text)
    assert number
    assert password
    assert "不会再通过邮件或短信发送" in answer.text
    assert f'href="/track?number={number.group(1)}"' in answer.text
    complaint = session.exec(select(Complaint)).one()
    assert complaint.number == number.group(1)
    assert complaint.channel == Channel.WEBSITE
    assert complaint.state == ComplaintState.REGISTERED
    assert complaint.registered_by_id is None
    assert complaint.respondent_name == "市住房和城乡建设局"
    assert complaint.attachments == ["施工合同.pdf", "验收单.pdf"]
    [event] = session.exec(select(CaseEvent).where(CaseEvent.case_id == complaint.id)).all()
    assert (event.event, event.actor_name, event.actor_role) == ("register", WEBSITE_ACTOR.name, "public")
    assert event.data["channel"] == "website"
    [mail] = session.exec(select(Notification)).all()
    assert mail.template == "complaint_received"
    assert mail.recipient_email == "boss@example.com"
    assert mail.context["channel_label"] == "信用网站专栏"
    assert password.group(1) not in str(mail.context)
    # The password shown is the case's: it opens the tracking page.
    tracked = post_form(client, "/track", {"number": number.group(1), "password": password.group(1)})
    assert tracked.status_code == 200
    assert 'id="tracking"' in tracked.text


def test_the_first_notice_of_an_online_submission_never_opens_with_the_typed_name(
    client: TestClient, staff: Staff, session: Session
) -> None:
    # Anyone can name any address: the platform's mail must not carry unchecked text as its greeting or
    # as the recipient's name.
    lure = "退款请致电客服010-88886666领取"
    assert _submit(client, complainant_name=lure, complainant_email="victim@example.org").status_code == 201
    [mail] = session.exec(select(Notification)).all()
    assert (mail.recipient_name, mail.context["complainant_name"]) == ("投诉人", "投诉人")
    assert lure not in render("complaint_received", mail.context).text


def test_a_channel_sent_by_the_form_is_ignored(client: TestClient, staff: Staff, session: Session) -> None:
    answer = _submit(client, channel="hotline")
    assert answer.status_code == 201, answer.text
    assert session.exec(select(Complaint)).one().channel == Channel.WEBSITE
    api = client.post(f"{API}/public/complaints", json={**_body(), "channel": "window"})
    assert api.status_code == 201, api.text
    session.expire_all()
    assert {c.channel for c in session.exec(select(Complaint))} == {Channel.WEBSITE}


def test_a_wrong_field_keeps_every_typed_value_and_stores_nothing(
    client: TestClient, staff: Staff, session: Session
) -> None:
    typed = {"summary": "短", "respondent_department_code": "", "respondent_name": "某开发区管委会"}
    answer = _submit(client, **typed)
    assert answer.status_code == 422
    assert 'class="field-error"' in answer.text
    for value in ("示范建材有限公司", "13812345678", "boss@example.com", "某开发区管委会", "120000.00"):
        assert value in answer.text
    assert "施工合同.pdf\n\n验收单.pdf" in answer.text
    assert 'value="sme_arrears" selected' in answer.text
    assert "String should" not in answer.text  # the public reads Chinese only
    no_contact = _submit(client, complainant_phone="", complainant_email="")
    assert no_contact.status_code == 422
    assert "至少填写一项" in no_contact.text
    assert _count(session) == 0
    assert session.exec(select(Notification)).all() == []


def _body(**changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in FORM.items() if v and k != "attachments"}
    return {**body, "attachments": ["施工合同.pdf"], **changes}


def test_the_api_registers_a_website_case_and_answers_the_password_once(
    client: TestClient, staff: Staff, session: Session
) -> None:
    answer = client.post(f"{API}/public/complaints", json=_body())
    assert answer.status_code == 201, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    got = answer.json()
    assert got["state"] == "registered"
    assert got["tracking_path"] == f"/track?number={got['number']}"
    tracked = client.post(
        f"{API}/public/complaints/track", json={"number": got["number"], "password": got["tracking_password"]}
    )
    assert tracked.status_code == 200, tracked.text
    refused = client.post(
        f"{API}/public/complaints", json=_body(complainant_phone=None, complainant_email=None)
    )
    assert refused.status_code == 422
    assert _count(session) == 1


def test_an_address_over_its_hourly_limit_is_answered_429_and_nothing_more_is_stored(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 2)
    assert _submit(client).status_code == 201
    assert client.post(f"{API}/public/complaints", json=_body()).status_code == 201
    page = _submit(client, summary="第三件投诉")
    assert page.status_code == 429
    assert int(page.headers["Retry-After"]) > 0
    assert "每小时最多在线提交 2 件" in page.text
    assert "第三件投诉" in page.text  # the page's own error, the typed values kept
    api = client.post(f"{API}/public/complaints", json=_body())
    assert api.status_code == 429
    assert int(api.headers["Retry-After"]) > 0
    assert "每小时最多在线提交" in api.json()["message"]
    assert _count(session) == 2
    assert len(session.exec(select(Notification)).all()) == 2


def test_a_refused_form_does_not_count_against_the_limit(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 1)
    for _ in range(3):
        assert _submit(client, summary="短").status_code == 422
    assert _submit(client).status_code == 201


def test_the_setting_zero_closes_the_column_and_names_12345(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 0)
    form = client.get(PAGE)
    assert form.status_code == 200
    assert 'id="closed"' in form.text
    assert "12345" in form.text
    assert 'action="/complaints/new"' not in form.text
    # A form drawn before the column closed, sent after (the closed page has no form to take a CSRF from).
    page = post_form(client, PAGE, FORM, page="/track")
    assert page.status_code == 404
    assert "暂停在线受理" in page.text
    api = client.post(f"{API}/public/complaints", json=_body())
    assert api.status_code == 404
    assert "12345" in api.json()["message"]
    assert _count(session) == 0


def test_intake_sees_the_online_case_in_its_queue(client: TestClient, staff: Staff, session: Session) -> None:
    number = client.post(f"{API}/public/complaints", json=_body()).json()["number"]
    listed = client.get(f"{API}/complaints?channel=website&state=registered", headers=staff.auth("intake"))
    assert listed.status_code == 200, listed.text
    assert [item["number"] for item in listed.json()["items"]] == [number]
    sign_in(client, staff.intake)
    assert number in client.get("/staff").text


def test_the_public_pages_link_to_the_online_form(client: TestClient) -> None:
    for path in ("/register", "/track"):
        assert f'href="{PAGE}"' in client.get(path).text


def test_a_body_over_the_cap_gets_the_413_page_and_stores_nothing(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_BYTES", "1024")
    get_settings.cache_clear()
    answer = _submit(client, description="长" * 40_000)  # ~360 KB form-encoded, over 1 KiB + 64 KiB
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert _count(session) == 0
