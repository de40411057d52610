"""The register page shows how many records its search finds and narrows them by decision date,
deciding department, subject type and class; its list, its total and its export link all honour the same
filters (models/register/queries.py ``register_select``), and the export refuses what it does not know
instead of ignoring it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.breach import PublishedBreach, Severity
from models.org import Department
from models.uscc import make_credit_code
from tests.conftest import Staff
from tests.test_register import publish
from web.public_register import page_url

API = "/api/v1"
EXPORT = f"{API}/public/breaches/export"


@pytest.fixture
def numbers(engine: Engine, session: Session, staff: Staff) -> dict[str, str]:
    """Four records: an enterprise of 2026-06-15 (严重, D02), an enterprise and an individual of
    2026-02-28 (一般, D01), and an enterprise of 2026-07-01 (一般, D01)."""
    assert staff.admin
    codes = [make_credit_code(f"9144030070846{n:04d}") for n in range(3)]
    june, feb, person, july = publish(
        engine,
        session,
        ("六月建设有限公司", codes[0]),
        ("二月建设有限公司", codes[1]),
        ("张小三", None),
        ("七月建设有限公司", codes[2]),
    )
    d02 = session.exec(select(Department.id).where(Department.code == "D02")).one()
    with engine.begin() as conn:
        conn.execute(
            update(PublishedBreach)
            .where(PublishedBreach.id == june.id)  # type: ignore[arg-type]
            .values(decision_date=dt.date(2026, 6, 15), severity=Severity.SERIOUS, department_id=d02)
        )
        conn.execute(
            update(PublishedBreach)
            .where(PublishedBreach.id == july.id)  # type: ignore[arg-type]
            .values(decision_date=dt.date(2026, 7, 1))
        )
    return {"june": june.number, "feb": feb.number, "person": person.number, "july": july.number}


def _shown(text: str, numbers: dict[str, str]) -> set[str]:
    return {k for k, n in numbers.items() if f'href="/register/{n}"' in text}


def _total(text: str) -> int:
    found = re.search(r"共 (\d+) 条", text)
    assert found, text
    return int(found[1])


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _export_link(client: TestClient, params: dict[str, str]) -> str:
    page = client.get("/register", params=params)
    link = re.search(r'href="([^"]+)" id="export-csv"', page.text)
    assert link, page.text
    return link[1].replace("&amp;", "&")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"june", "feb", "person", "july"}),
        ({"date_from": "2026-06-01"}, {"june", "july"}),
        ({"date_to": "2026-06-30"}, {"june", "feb", "person"}),
        ({"date_from": "2026-06-01", "date_to": "2026-06-30"}, {"june"}),
        ({"department": "D02"}, {"june"}),
        ({"department": "d01"}, {"feb", "person", "july"}),
        ({"subject_kind": "individual"}, {"person"}),
        ({"subject_kind": "enterprise", "severity": "general"}, {"feb", "july"}),
        ({"severity": "serious"}, {"june"}),
        ({"q": "七月", "date_from": "2026-06-01"}, {"july"}),
    ],
)
def test_the_list_its_total_and_its_export_honour_the_same_filters(
    client: TestClient, numbers: dict[str, str], params: dict[str, str], expected: set[str]
) -> None:
    page = client.get("/register", params=params)
    assert page.status_code == 200
    assert _shown(page.text, numbers) == expected
    assert _total(page.text) == len(expected)
    link = _export_link(client, params)
    assert urlsplit(link).path == EXPORT
    rows = _csv(client.get(link).content)
    assert {k for k, n in numbers.items() if any(r[0] == n for r in rows[1:])} == expected
    assert len(rows) == len(expected) + 1
    # The page's filter values go with the link (the search box as the API names it).
    query = parse_qs(urlsplit(link).query)
    for key in ("date_from", "date_to", "subject_kind", "severity"):
        assert query.get(key) == ([params[key]] if key in params else None)
    # The public API's list takes the same filters and finds the same records.
    if "q" not in params:
        api = client.get(f"{API}/public/breaches", params=params)
        assert api.status_code == 200, api.text
        assert {
            k for k, n in numbers.items() if n in {i["record_number"] for i in api.json()["items"]}
        } == expected


def test_the_list_shows_class_and_subject_type_and_the_filters_and_total(
    client: TestClient, numbers: dict[str, str]
) -> None:
    page = client.get("/register")
    assert "<th>失信程度</th>" in page.text
    assert "<th>主体类型</th>" in page.text
    assert ">严重<" in page.text
    assert ">个人<" in page.text
    for name in ("date_from", "date_to", "department", "subject_kind", "severity"):
        assert f'name="{name}"' in page.text
    assert "正在公示的失信记录共 4 条" in page.text
    # Paging keeps the search and the filters.
    assert page_url("七月", {"severity": "general", "other": "x"}, "2026-07-01:4") == (
        "/register?q=%E4%B8%83%E6%9C%88&severity=general&after=2026-07-01%3A4"
    )
    filtered = client.get("/register", params={"severity": "general"})
    assert "符合条件的失信记录共 3 条" in filtered.text


def test_the_export_has_chinese_headers_and_honours_date_from(
    client: TestClient, numbers: dict[str, str]
) -> None:
    rows = _csv(client.get(EXPORT, params={"format": "csv", "date_from": "2026-06-01"}).content)
    assert rows[0][:4] == ["公示记录编号", "失信主体名称", "主体类型", "统一社会信用代码"]
    assert all(not re.fullmatch(r"[A-Za-z_]+", header) for header in rows[0])
    assert sorted(r[0] for r in rows[1:]) == sorted([numbers["june"], numbers["july"]])
    assert {r[rows[0].index("失信程度")] for r in rows[1:]} == {"严重", "一般"}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"department": "NOPE"}, "认定部门代码“NOPE”不存在"),
        ({"subject_kind": "company"}, "主体类型“company”不存在"),
        ({"severity": "minor"}, "失信程度“minor”不存在"),
        ({"date_from": "2026-13-01"}, "日期格式应为 YYYY-MM-DD"),
        ({"date_from": "2026-07-01", "date_to": "2026-06-01"}, "晚于"),
        ({"credit_code": "9111010"}, "应为 18 位"),
        ({"datefrom": "2026-06-01"}, "不认识的字段"),
    ],
)
def test_the_export_refuses_unknown_parameters_and_values_in_chinese(
    client: TestClient, numbers: dict[str, str], params: dict[str, str], words: str
) -> None:
    answer = client.get(EXPORT, params={"format": "csv", **params})
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["message"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"department": "NOPE"}, "认定部门代码“NOPE”不存在"),
        ({"date_from": "6/1/2026"}, "格式应为 YYYY-MM-DD"),
        ({"severity": "minor"}, "失信程度“minor”不存在"),
    ],
)
def test_the_page_says_which_filter_value_it_does_not_know(
    client: TestClient, numbers: dict[str, str], params: dict[str, str], words: str
) -> None:
    page = client.get("/register", params=params)
    assert page.status_code == 200
    assert 'class="alert error"' in page.text
    assert words in page.text
    assert "没有找到" not in page.text
