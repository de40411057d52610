"""The public complaint pages promise only what happens: a receipt that reaches nobody (a phone only while
SMS is off) is not promised, the form says which notices come and by what, the tracking password hint fits
online filers too, a complainant merged into a case paused for its own complainant is not asked for
material, and a withdrawal recorded by staff shows its reason and how to contest it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.lifecycle import WITHDRAWAL_ROUTE
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_complaints_api import API, act, register
from tests.test_online_complaint_submission import FORM, PAGE
from tests.web_support import post_form

WHAT = "请补充厂房改造施工合同复印件及竣工验收单"
REASON = "住建局已于3月2日支付全部劳务分包款，申请撤回投诉"


def _sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()


def _tracked(client: TestClient, created: dict[str, Any]) -> tuple[dict[str, Any], str]:
    good = {"number": created["number"], "password": created["tracking_password"]}
    response = client.post(f"{API}/public/complaints/track", json=good)
    assert response.status_code == 200, response.text
    page = post_form(client, "/track", good)
    assert page.status_code == 200, page.text
    answer: dict[str, Any] = response.json()
    return answer, page.text


@pytest.mark.usefixtures("staff")  # the departments the form names
def test_a_phone_only_filer_is_told_no_receipt_comes_while_sms_is_off(
    client: TestClient,
) -> None:
    answer = post_form(client, PAGE, {**FORM, "complainant_email": ""})
    assert answer.status_code == 201, answer.text
    assert "登记回执将" not in answer.text
    assert 'id="no-receipt"' in answer.text
    assert "只通过电子邮件" in answer.text
    assert "打电话联系您" in answer.text


@pytest.mark.usefixtures("staff")  # the departments the form names
def test_a_filer_with_an_email_is_told_the_receipt_comes_by_email(
    client: TestClient,
) -> None:
    answer = post_form(client, PAGE, FORM)
    assert answer.status_code == 201, answer.text
    assert "登记回执将通过电子邮件发送给您" in answer.text
    assert 'id="no-receipt"' not in answer.text


@pytest.mark.usefixtures("staff")  # the departments the form names
def test_a_phone_only_filer_is_promised_a_text_once_sms_is_on(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sms_on(monkeypatch)
    answer = post_form(client, PAGE, {**FORM, "complainant_email": ""})
    assert answer.status_code == 201, answer.text
    assert "登记回执将通过短信发送给您" in answer.text
    assert 'id="no-receipt"' not in answer.text


def test_the_form_says_which_notices_come_and_recommends_an_email_while_sms_is_off(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = client.get(PAGE).text
    assert "初审结果和办理进展将通过您留下的联系方式告知" not in form
    assert "不予受理的，将告知理由" in form
    assert 'href="/track"' in form
    assert 'id="email-only"' in form
    assert "建议填写电子邮箱" in form
    _sms_on(monkeypatch)
    assert 'id="email-only"' not in client.get(PAGE).text


def test_the_password_hint_fits_a_complainant_who_filed_online(client: TestClient) -> None:
    page = client.get("/track").text
    assert "在线提交后页面显示的" in page


def test_a_complainant_merged_into_a_case_paused_for_its_own_complainant_owes_nothing(
    client: TestClient, staff: Staff
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")
    act(client, staff, "intake", first["id"], "await_complainant", reason=WHAT)
    answer, page = _tracked(client, duplicate)
    assert answer["awaiting_other_complainant"] is True
    assert answer["state_label"] == "待其他投诉人补充（暂停计时）"
    assert answer["steps"][-1]["label"] == "等待其他投诉人补充材料（暂停计时）"
    assert "等待投诉人补充" not in page
    assert 'id="awaiting-other"' in page
    assert "您不需要提交任何材料" in page
    assert WHAT not in page
    own, _ = _tracked(client, first)
    assert (own["awaiting_other_complainant"], own["state_label"]) == (False, "待投诉人补充（暂停计时）")


def test_a_withdrawn_complaint_shows_the_reason_recorded_and_how_to_contest_it(
    client: TestClient, staff: Staff
) -> None:
    created = register(client, staff)
    act(client, staff, "intake", created["id"], "accept")
    act(client, staff, "intake", created["id"], "withdraw", reason=REASON)
    answer, page = _tracked(client, created)
    assert (answer["withdrawal_reason"], answer["withdrawal_route"]) == (REASON, WITHDRAWAL_ROUTE)
    assert 'id="withdrawn"' in page
    assert REASON in page
    assert "12345" in WITHDRAWAL_ROUTE
    assert WITHDRAWAL_ROUTE in page


def test_an_open_complaint_shows_no_withdrawal(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    answer, page = _tracked(client, created)
    assert (answer["withdrawal_reason"], answer["withdrawal_route"]) == (None, None)
    assert 'id="withdrawn"' not in page
