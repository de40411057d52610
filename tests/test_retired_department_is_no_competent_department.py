"""A department retired in a reorganisation (撤并) cannot be made another department's 主管部门.

The 主管部门 verifies what its departments sign for; a retired one has nobody to act for it, so the
verification of every complaint against the department under it would wait for ever. The page, the API and
a department file refuse it as new work naming a retired department is refused: naming the successor."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from models.accounts import import_departments
from models.errors import ValidationFailed
from models.org import DepartmentCreate, DepartmentLevel
from tests.conftest import Staff
from tests.test_admin_department_and_email_rules import (
    API,
    DEPARTMENTS,
    FIELD_ERROR,
    _competent_code,
    _department,
)
from tests.test_department_retired import retire
from tests.web_support import post_form, sign_in

NEW = {"code": "D05", "name": "市城市管理局", "level": "city", "email": "cgj@example.gov.cn"}


def test_a_retired_department_is_refused_as_competent_department_naming_its_successor(
    client: TestClient, staff: Staff, session: Session
) -> None:
    retire(client, staff, "D01", "D02")

    sign_in(client, staff.admin)
    refused = post_form(client, DEPARTMENTS, {**NEW, "competent_code": "D01"})
    assert refused.status_code == 422
    message = "".join(FIELD_ERROR.findall(refused.text))
    assert "已撤并" in message
    assert "请改用 D02" in message
    assert _department(session, "D05") is None
    by_api = client.post(
        f"{API}/departments", json=[{**NEW, "competent_code": "D01"}], headers=staff.auth("admin")
    )
    assert by_api.status_code == 422
    assert "请改用 D02" in by_api.json()["message"]
    assert _department(session, "D05") is None
    # An existing department moved under it is refused too, and keeps the one it has.
    item = DepartmentCreate(code="D02", name="市财政局", level=DepartmentLevel.CITY, competent_code="D01")
    with pytest.raises(ValidationFailed, match="请改用 D02"):
        import_departments(session=session, items=[item])
    session.rollback()
    assert _competent_code(session, "D02") == "D00"
    # The successor is accepted.
    chosen = client.post(
        f"{API}/departments", json=[{**NEW, "competent_code": "D02"}], headers=staff.auth("admin")
    )
    assert chosen.status_code == 200, chosen.text
    assert _competent_code(session, "D05") == "D02"
