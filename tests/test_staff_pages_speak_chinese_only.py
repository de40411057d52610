"""Staff pages say what is wrong in Chinese only, as public pages do, through the same helper
(``web.core.public_message``): form errors, refusals, error pages and the pledge page's publication day.
Each message says on its own what is wrong and how to put it right. The API keeps its "中文 (English)"
answers: integrators read the English.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, EmailStr, Field, ValidationError
from sqlmodel import Session, select

from models.complaint import Complaint
from tests.conftest import Staff
from tests.test_pledges import body
from tests.web_support import post_form, sign_in
from web.core import env, field_errors

# An English gloss, in ASCII or full-width brackets, as the services and pydantic write it.
ENGLISH = re.compile(r"[(（][\x20-\x7e]*[A-Za-z][\x20-\x7e]*[)）]")
FIELD_ERROR = re.compile(r'class="field-error"[^>]*>([^<]*)<')
ALERT = re.compile(r'class="alert error"[^>]*>(.*?)</div>', re.S)


class _Kind(StrEnum):
    LITIGATION = "litigation"
    PETITION = "petition"


class _Form(BaseModel):
    """One field of each kind the staff forms have."""

    name: str
    summary: str = Field(default="两字", min_length=2, max_length=5)
    days: int = Field(default=1, ge=1, le=60)
    deadline: dt.date | None = None
    email: EmailStr | None = None
    route: _Kind = _Kind.LITIGATION
    channel: Literal["window", "phone"] = "window"
    amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    codes: list[str] = Field(default_factory=list, max_length=2)


def _errors(**data: Any) -> dict[str, str]:
    values = {"name": "某公司", **data}  # None: left out
    with pytest.raises(ValidationError) as caught:
        _Form.model_validate({k: v for k, v in values.items() if v is not None})
    return field_errors(caught.value)


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"name": None}, "name", "必填项未填写，请填写后重新提交"),
        ({"summary": "短"}, "summary", "内容过短：至少 2 个字，现为 1 个字，请补充"),
        ({"summary": "太长了太长了"}, "summary", "内容过长：最多 5 个字，现为 6 个字，请删减"),
        ({"days": "三天"}, "days", "应为整数，请只填阿拉伯数字，例如 15"),
        ({"days": "1.5"}, "days", "应为整数，请只填阿拉伯数字，例如 15"),
        ({"days": 0}, "days", "数值过小：不能小于 1"),
        ({"days": 61}, "days", "数值过大：不能大于 60"),
        ({"deadline": "明天"}, "deadline", "日期格式应为 YYYY-MM-DD，例如 2026-03-01"),
        ({"deadline": "2026-02-30"}, "deadline", "日期格式应为 YYYY-MM-DD，例如 2026-03-01"),
        (
            {"email": "bad"},
            "email",
            "电子邮箱格式不正确：请填写完整的地址，例如 name@example.com；没有邮箱请留空",
        ),
        ({"route": "court"}, "route", "不在可选范围内，请从列表中选择"),
        ({"channel": "fax"}, "channel", "不在可选范围内，请从列表中选择"),
        ({"amount": "38万"}, "amount", "金额应为数字，单位元，例如 380000.00"),
        ({"amount": "1.234"}, "amount", "金额最多保留 2 位小数，例如 380000.00"),
        ({"amount": "-1"}, "amount", "数值过小：不能小于 0"),
        ({"amount": "1" * 17}, "amount", "金额过大：最多 16 位数字，单位元，例如 380000.00"),
        ({"codes": ["a", "b", "c"]}, "codes", "项目过多：最多 2 项，现为 3 项，请删减"),
    ],
)
def test_each_common_form_error_says_what_is_wrong_and_how_to_fix_it_in_chinese_only(
    data: dict[str, Any], field: str, expected: str
) -> None:
    assert _errors(**data)[field] == expected


def test_a_validators_own_message_loses_its_english_gloss_on_every_page() -> None:
    class _Contact(BaseModel):
        phone: str

        def model_post_init(self, _: Any) -> None:
            if self.phone == "x":
                raise ValueError("联系电话格式不正确 (invalid phone)")

    with pytest.raises(ValidationError) as caught:
        _Contact.model_validate({"phone": "x"})
    assert field_errors(caught.value) == {"__all__": "联系电话格式不正确"}


def test_the_complaint_registration_form_says_how_to_write_the_amount_without_english(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.intake)
    form = {
        "channel": "window",
        "category": "sme_arrears",
        "complainant_name": "示范建工集团有限公司",
        "complainant_phone": "13800138000",
        "complainant_email": "bad",
        "summary": "短",
        "amount": "38万",
    }
    answer = post_form(client, "/staff/complaints/new", form)
    assert answer.status_code == 422
    shown = FIELD_ERROR.findall(answer.text)
    assert "金额应为数字，单位元，例如 380000.00" in shown
    assert "内容过短：至少 2 个字，现为 1 个字，请补充" in shown
    assert [message for message in shown if ENGLISH.search(message)] == []
    assert "38万" in answer.text  # what was typed stays in the form
    assert session.exec(select(Complaint)).first() is None
    missing = post_form(client, "/staff/complaints/new", {**form, "complainant_name": "", "amount": ""})
    assert "必填项未填写，请填写后重新提交" in FIELD_ERROR.findall(missing.text)
    assert "Field required" not in missing.text


def test_a_refused_pledge_action_and_the_error_pages_show_no_english(
    client: TestClient, staff: Staff
) -> None:
    created = client.post("/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake"))
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    sign_in(client, staff.handler)
    page = f"/staff/pledges/{pid}"
    refused = post_form(client, f"{page}/act/cancel", {"reason": ""}, page=page)
    assert refused.status_code == 422
    assert "请填写理由" in refused.text
    assert "a reason is required" not in refused.text
    missing = client.get("/staff/pledges/99999")
    assert missing.status_code == 404
    assert "承诺 #99999 不存在；请核对编号" in ALERT.search(missing.text).group(1)  # type: ignore[union-attr]
    assert "no pledge" not in missing.text
    forbidden = client.get("/staff/admin/users")
    assert forbidden.status_code == 403
    assert "当前账号无权访问此页面" in forbidden.text
    assert "role not allowed" not in forbidden.text
    for answer in (refused, missing, forbidden):
        assert [m for m in ALERT.findall(answer.text) if ENGLISH.search(m)] == []


def test_the_pledge_pages_publication_day_is_chinese_only_and_the_api_keeps_the_english(
    client: TestClient, staff: Staff
) -> None:
    created = client.post("/api/v1/pledges", json=body(deadline="2027-03-01"), headers=staff.auth("intake"))
    assert created.status_code == 201, created.text
    api_message = created.json()["publication_day_message"]
    assert api_message.startswith("公示日落在 2027 年")
    assert api_message.endswith("(publication day pending: calendar 2027 not loaded)")
    sign_in(client, staff.intake)
    page = client.get(f"/staff/pledges/{created.json()['id']}")
    assert page.status_code == 200
    assert "载入 2027 年国务院放假通知后自动计算" in page.text
    assert "publication day pending" not in page.text


def test_the_api_keeps_the_english_detail_for_integrators(client: TestClient, staff: Staff) -> None:
    answer = client.post(
        "/api/v1/complaints",
        json={"channel": "window", "category": "sme_arrears", "complainant_name": "某公司",
              "complainant_phone": "13800138000", "summary": "拖欠工程款", "amount": "38万"},
        headers=staff.auth("intake"),
    )  # fmt: skip
    assert answer.status_code == 422
    [field] = answer.json()["fields"]
    assert field["message"] == "金额应为数字，单位元，例如 380000.00：Input should be a valid decimal"
    missing = client.get("/api/v1/pledges/99999", headers=staff.auth("intake"))
    assert missing.json()["message"].endswith("(no pledge 99999)")


def test_a_template_shows_a_services_stored_text_through_the_same_helper() -> None:
    # For text a service stored with its gloss (an outbox row's last error, an import row's reason).
    shown = env.from_string("{{ reason|chinese }}").render(reason="未配置短信服务，未发送 (no SMS provider)")
    assert shown == "未配置短信服务，未发送"
