"""A form the public reads says what is wrong in Chinese only, as a staff form does.

Both go through the one helper (``web.core.field_errors``), so the pages cannot drift apart with patterns
of their own (tests/test_staff_pages_speak_chinese_only.py covers the staff side).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlmodel import Session

from models.errors import RateLimited
from tests.web_support import post_form
from web.core import field_errors, form_refused

# An English gloss, in ASCII or full-width brackets, as the services and pydantic write it.
ENGLISH = re.compile(r"[(（][\x20-\x7e]*[A-Za-z][\x20-\x7e]*[)）]")


class _Form(BaseModel):
    summary: str = Field(min_length=2)
    amount: int = 0
    phone: str = ""

    @model_validator(mode="after")
    def _phone(self) -> _Form:
        if self.phone == "x":
            raise ValueError("联系电话格式不正确 (invalid phone)")
        return self


def _errors(**data: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _Form.model_validate(data)
    return field_errors(caught.value)


def test_public_field_errors_name_the_problem_in_chinese_without_pydantics_detail() -> None:
    assert _errors(summary="短", amount="abc") == {
        "summary": "内容过短：至少 2 个字，现为 1 个字，请补充",
        "amount": "应为整数，请只填阿拉伯数字，例如 15",
    }


def test_public_field_errors_drop_a_validators_english_gloss() -> None:
    assert _errors(summary="两字", phone="x") == {"__all__": "联系电话格式不正确"}


def test_a_public_forms_refusal_by_the_service_drops_the_english_gloss(session: Session) -> None:
    refusal = RateLimited("请在 5 分钟后再试 (retry later)", retry_after=300)
    assert form_refused(session, refusal) == ({"__all__": "请在 5 分钟后再试"}, 429)


def test_the_online_complaint_form_shows_its_field_errors_in_chinese_only(client: TestClient) -> None:
    form = {
        "complainant_name": "示范建材有限公司",
        "complainant_phone": "",
        "complainant_email": "",
        "respondent_name": "某开发区管委会",
        "category": "sme_arrears",
        "amount": "十二万",
        "summary": "短",
        "description": "",
        "attachments": "",
    }
    answer = post_form(client, "/complaints/new", form)
    assert answer.status_code == 422
    shown = re.findall(r'class="field-error"[^>]*>([^<]*)<', answer.text)
    assert "内容过短：至少 2 个字，现为 1 个字，请补充" in shown
    assert "金额应为数字，单位元，例如 380000.00" in shown
    assert [message for message in shown if ENGLISH.search(message)] == []
