"""Bad input a fuzzer found on the complaint routes is refused as bad input, naming what was wrong: a lone
surrogate in a department code (was a 500), a phone that is no phone number as the only contact (was
registered, and the complainant could never be told the result), a body that is not UTF-8 (was a bare
English 400) and an ``after`` cursor past any id (was a message naming no parameter)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.routes.complaints import MAX_ID
from models.complaint import Complaint
from tests.conftest import Staff
from tests.test_complaint_intake_rules import order
from tests.test_complaints_api import API, BODY
from tests.test_hotline_intake import ORDER, new_hotline_token
from tests.web_support import post_form

# The only contact is the phone: a wrong one leaves nobody to tell the result.
PHONE_ONLY = {**BODY, "complainant_email": None}


def complaints(session: Session) -> list[Complaint]:
    session.expire_all()
    return list(session.exec(select(Complaint)).all())


def refused(response: Any, field: str) -> str:
    """The message of the 422 ``response`` for ``field``, which it must name."""
    assert response.status_code == 422, response.text
    messages = {f["field"]: f["message"] for f in response.json()["fields"]}
    assert field in messages, response.text
    return messages[field]


def raw_json(body: dict[str, Any]) -> bytes:
    # Escaped, as a client would send it: a lone surrogate cannot be encoded as UTF-8 text.
    return json.dumps(body).encode()


def test_a_lone_surrogate_in_a_department_code_is_refused_naming_the_field(
    client: TestClient, staff: Staff, session: Session
) -> None:
    headers = {**staff.auth("intake"), "content-type": "application/json"}
    body = raw_json({**BODY, "respondent_department_code": "\ud800"})
    response = client.post(f"{API}/complaints", content=body, headers=headers)
    assert "控制字符或无效字符" in refused(response, "respondent_department_code")
    # The 12345 order's free text fields the same way, under the order's own names.
    headers = {"Authorization": f"Bearer {new_hotline_token(session)}", "content-type": "application/json"}
    for field in ("respondent_department_code", "channel"):
        body = raw_json({**ORDER, field: "\ud800"})
        response = client.post(f"{API}/intake/work-orders", content=body, headers=headers)
        assert "控制字符或无效字符" in refused(response, field)
    assert complaints(session) == []


@pytest.mark.parametrize("phone", ["not_an_enum", "😀😀😀", "139", "+86 138"])
def test_a_phone_that_is_no_phone_number_is_refused_naming_the_field(
    client: TestClient, staff: Staff, session: Session, phone: str
) -> None:
    staff_api = client.post(
        f"{API}/complaints", json={**PHONE_ONLY, "complainant_phone": phone}, headers=staff.auth("intake")
    )
    assert "联系电话" in refused(staff_api, "complainant_phone")
    public_api = client.post(f"{API}/public/complaints", json={**PHONE_ONLY, "complainant_phone": phone})
    assert "联系电话" in refused(public_api, "complainant_phone")
    assert "联系电话" in refused(order(client, session, caller_phone=phone), "caller_phone")
    assert complaints(session) == []


def test_the_online_form_refuses_a_phone_that_is_no_phone_number_in_chinese(
    client: TestClient, staff: Staff, session: Session
) -> None:
    form = {
        "complainant_name": "示范建材有限公司",
        "complainant_phone": "😀😀",
        "complainant_email": "",
        "respondent_department_code": "D01",
        "category": "sme_arrears",
        "summary": "工程款拖欠两年未付",
    }
    page = post_form(client, "/complaints/new", form)
    assert page.status_code == 422
    assert "联系电话“😀😀”格式不正确" in page.text
    assert complaints(session) == []


def test_a_mobile_is_stored_as_its_digits_and_a_landline_as_written(
    client: TestClient, staff: Staff, session: Session
) -> None:
    for phone in ("+86 138-0000-0001", "0571-87654321转123"):
        response = client.post(
            f"{API}/complaints", json={**PHONE_ONLY, "complainant_phone": phone}, headers=staff.auth("intake")
        )
        assert response.status_code == 201, response.text
    assert order(client, session, caller_phone="010-12345678").status_code == 201
    stored = {c.complainant_phone for c in complaints(session)}
    assert stored == {"13800000001", "0571-87654321转123", "010-12345678"}


@pytest.mark.parametrize(
    "phone",
    ["0471-6234567-8001", "010-62345678-123", "0471-6234567分机8001", "+86-10-62345678"],
)
def test_a_12345_order_keeps_the_phone_forms_switchboards_write(
    client: TestClient, session: Session, phone: str
) -> None:
    # An extension after a dash, 分机, +86 without the trunk 0: refusing them would keep
    # the caller's order out of the system altogether.
    assert order(client, session, caller_phone=phone).status_code == 201


@pytest.mark.parametrize("raw", [b'{"a":"\xff"}', b"\xff\xfe\x00"])
@pytest.mark.parametrize("path", ["/complaints", "/pledges"])
def test_a_json_body_that_is_not_utf8_is_refused_in_chinese(
    client: TestClient, staff: Staff, session: Session, raw: bytes, path: str
) -> None:
    headers = {**staff.auth("intake"), "content-type": "application/json"}
    response = client.post(f"{API}{path}", content=raw, headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "ValidationError"
    assert "UTF-8" in body["message"]
    assert "请求体" in body["message"]
    assert complaints(session) == []


@pytest.mark.parametrize("path", ["/complaints", "/pledges", "/admin/notifications"])
def test_an_after_cursor_past_any_id_is_refused_naming_after(
    client: TestClient, staff: Staff, path: str
) -> None:
    for after in ("9223372036854775808", str(MAX_ID + 1), "-1"):
        response = client.get(f"{API}{path}?after={after}", headers=staff.auth("supervisor"))
        refused(response, "after")
    # The largest id a key holds is a cursor like any other, on both databases.
    largest = client.get(f"{API}{path}?after={MAX_ID}", headers=staff.auth("supervisor"))
    assert largest.status_code == 200, largest.text
