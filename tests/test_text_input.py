"""Typed text is storable text: control characters and lone surrogates are refused with a message naming
the field, blank or invisible text counts as empty, and every text column's length is checked before it
is written, on SQLite (which enforces no length) and PostgreSQL (which refuses NUL) alike (security probe
round 2, items 2 and 5)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.errors import ValidationFailed
from models.org import Department, DepartmentLevel
from tests.conftest import Staff
from tests.test_pledges import body


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("matter", "施工\u0001许可", "控制字符"),
        ("pledgor_name", "示范\u0000公司", "控制字符"),
        ("matter", "施工\u0085许可", "控制字符"),
        ("pledgor_name", "示范\n公司", "单行"),
        ("matter", " \u200b\u3000 ", "at least 1"),
    ],
)
def test_pledge_text_that_cannot_be_stored_is_refused_naming_the_field(
    client: TestClient, staff: Staff, field: str, value: str, says: str
) -> None:
    r = client.post("/api/v1/pledges", json=body(**{field: value}), headers=staff.auth("intake"))
    assert r.status_code == 422, r.text
    fields = r.json()["fields"]
    assert [f["field"] for f in fields] == [field]
    assert says in fields[0]["message"]


def test_multi_line_fields_keep_their_line_breaks(client: TestClient, staff: Staff) -> None:
    obligation = "一、施工图审查合格书\n二、\t消防设计审查意见"
    r = client.post("/api/v1/pledges", json=body(obligation=obligation), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    assert r.json()["obligation"] == obligation


def test_an_overlong_text_column_is_refused_before_it_is_written(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(Department(code="LONG", name="部" * 5000, level=DepartmentLevel.CITY))
        with pytest.raises(ValidationFailed, match="department.name"):
            session.flush()


def test_a_nul_character_is_refused_before_the_database_sees_it(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(Department(code="NUL", name="市\u0000住建局", level=DepartmentLevel.CITY))
        with pytest.raises(ValidationFailed, match="控制字符"):
            session.flush()


def test_a_row_stored_before_the_check_can_still_change_its_other_columns(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO department (code, name, level, active) VALUES ('OLD', 'x\x01y', 'CITY', true)"
        )
    with Session(engine) as session:
        dept = session.exec(select(Department).where(Department.code == "OLD")).one()
        dept.code = "OLD2"
        session.flush()
        session.commit()
