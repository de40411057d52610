"""A case paused for the complainant's supplement (等待投诉人补充（暂停计时）) tells that complainant what to
supply: the tracking page and the public API show the reason staff gave while the case waits, and a notice
goes out by mail (or SMS) saying what, how to hand it in and that the clock is paused. A complainant merged
into the case was not the one asked. Also: a refusal to "其他" route without details is refused at the field
the page labels 其他渠道说明."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification
from models.settings import get_settings
from notifications.render import render
from notifications.sms import render_sms
from tests.conftest import Staff
from tests.test_complaints_api import API, act, register
from tests.web_support import post_form, sign_in

WHAT = "请投诉人补充招商引资协议复印件及奖励承诺文件"
STAFF_NOTE = "内部：已电话联系过区招商局"
TEMPLATE = "complaint_awaiting_supplement"


def _tracked(client: TestClient, created: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The public API's answer and the tracking page, for the complainant's number and password."""
    good = {"number": created["number"], "password": created["tracking_password"]}
    response = client.post(f"{API}/public/complaints/track", json=good)
    assert response.status_code == 200, response.text
    page = post_form(client, "/track", good)
    assert page.status_code == 200, page.text
    answer: dict[str, Any] = response.json()
    return answer, page.text


def _notices(session: Session, cid: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == TEMPLATE)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def _pause(client: TestClient, staff: Staff, cid: int) -> None:
    act(client, staff, "intake", cid, "await_complainant", reason=WHAT, note=STAFF_NOTE)


def test_a_paused_case_shows_its_complainant_what_to_supply_on_the_page_and_in_the_api(
    client: TestClient, staff: Staff
) -> None:
    created = register(client, staff)
    act(client, staff, "intake", created["id"], "accept")
    _pause(client, staff, created["id"])
    answer, page = _tracked(client, created)
    assert answer["state_label"] == "待投诉人补充（暂停计时）"
    assert answer["supplement_requested"] == WHAT
    assert 'id="supplement-requested"' in page
    assert WHAT in page
    assert "12345" in page
    assert "诚信建设投诉窗口" in page
    for private in (STAFF_NOTE, "受理员小王"):
        assert private not in repr(answer)
        assert private not in page


def test_a_resumed_case_no_longer_shows_the_request(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    act(client, staff, "intake", created["id"], "accept")
    _pause(client, staff, created["id"])
    act(client, staff, "intake", created["id"], "resume", note="投诉人已到窗口补充材料")
    answer, page = _tracked(client, created)
    assert answer["supplement_requested"] is None
    assert 'id="supplement-requested"' not in page
    assert WHAT not in page


def test_the_complainant_is_mailed_what_to_supply_how_and_that_the_clock_is_paused(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    cid = created["id"]
    act(client, staff, "intake", cid, "accept")
    _pause(client, staff, cid)
    [mail] = _notices(session, cid)
    assert (mail.recipient_kind, mail.recipient_email) == ("complainant", "boss@example.com")
    message = render(TEMPLATE, mail.context)
    assert created["number"] in message.subject
    for part in (message.text, message.html):
        assert WHAT in part
        assert "12345" in part
        assert "诚信建设投诉窗口" in part
        assert "暂停计时" in part
        assert STAFF_NOTE not in part
    # Resuming sends nothing more of it.
    act(client, staff, "intake", cid, "resume")
    assert len(_notices(session, cid)) == 1


def test_a_complainant_with_only_a_mobile_is_texted_without_the_request_itself(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()
    created = register(client, staff, complainant_email=None)
    act(client, staff, "intake", created["id"], "accept")
    _pause(client, staff, created["id"])
    [sms] = _notices(session, created["id"])
    assert (sms.channel, sms.recipient_phone) == ("sms", "13800000001")
    text = render_sms(TEMPLATE, sms.context)
    assert created["number"] in text
    assert "暂停计时" in text
    assert WHAT not in text


def test_a_complainant_merged_into_the_paused_case_is_neither_asked_nor_shown_the_request(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")
    _pause(client, staff, first["id"])
    assert [n.recipient_email for n in _notices(session, first["id"])] == ["boss@example.com"]
    assert _notices(session, duplicate["id"]) == []
    answer, page = _tracked(client, duplicate)
    assert answer["merged_into"] == first["number"]
    assert answer["supplement_requested"] is None
    assert WHAT not in page


def test_a_refusal_to_another_route_without_details_is_refused_at_the_field_it_names(
    client: TestClient, staff: Staff
) -> None:
    cid = register(client, staff)["id"]
    sign_in(client, staff.intake)
    response = post_form(
        client,
        f"/staff/complaints/{cid}/act/reject",
        {"reason": "不属于受理范围", "route": "other"},
        page=f"/staff/complaints/{cid}",
    )
    assert response.status_code == 422, response.text
    form = response.text.split(f'action="/staff/complaints/{cid}/act/reject"', 1)[1].split("</form>", 1)[0]
    after_field = form.split('name="route_detail"', 1)[1]
    assert '<span class="field-error" role="alert">渠道为“其他”时请填写其他渠道说明' in after_field
    assert 'class="alert error"' not in response.text


def test_the_pause_form_tells_staff_its_reason_is_shown_to_the_complainant(
    client: TestClient, staff: Staff
) -> None:
    cid = register(client, staff)["id"]
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{cid}").text
    form = page.split(f'action="/staff/complaints/{cid}/act/await_complainant"', 1)[1].split("</form>", 1)[0]
    assert "需投诉人补充的内容（将告知投诉人）" in form
