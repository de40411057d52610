"""The register's one search box reads a credit code however it is typed (full-width, grouped, lower case)
and answers a mistyped one with the validator's reason, never "no records"; a name is matched with
full-width letters and brackets, Latin case and spaces folded on both sides (models/register/names.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.register.names import name_key
from models.uscc import make_credit_code
from tests.conftest import Staff
from tests.test_register import publish
from web.public_register import typed_credit_code

CODE = make_credit_code("91110105MA0000107")  # 91110105MA0000107A
OTHER = make_credit_code("91440300MA5F00001")
API = "/api/v1"
NO_RECORDS = "没有找到符合条件的公示记录"


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


@pytest.fixture
def records(engine: Engine, session: Session, staff: Staff) -> dict[str, str]:
    assert staff.admin
    alpha, huaxin, person = publish(
        engine, session, ("Alpha Tech（示范）有限公司", CODE), ("华信建设有限公司", OTHER), ("张小三", None)
    )
    return {"alpha": alpha.number, "huaxin": huaxin.number, "person": person.number}


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        _full_width(CODE),
        "9111 0105 MA00 0010 7A",
        "9111-0105-MA00-0010-7A",
        CODE.lower(),
        f"  {_full_width(CODE[:9])} {CODE[9:]} ",
    ],
)
def test_a_credit_code_typed_as_people_type_it_finds_its_record(
    client: TestClient, records: dict[str, str], typed: str
) -> None:
    page = client.get("/register", params={"q": typed})
    assert page.status_code == 200
    assert records["alpha"] in page.text
    assert records["huaxin"] not in page.text
    assert NO_RECORDS not in page.text


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        (CODE[:17], "长度为 17 位，应为 18 位"),
        (_full_width(CODE[:17]), "长度为 17 位，应为 18 位"),
        ("9111 0105 MA00 0010 7", "长度为 17 位，应为 18 位"),
        (CODE[:17] + "B", "第 18 位校验码应为"),
        (CODE + "1", "长度为 19 位"),
    ],
)
def test_a_mistyped_credit_code_is_answered_with_the_validators_reason_not_no_records(
    client: TestClient, records: dict[str, str], typed: str, reason: str
) -> None:
    page = client.get("/register", params={"q": typed})
    assert page.status_code == 200
    assert 'class="alert error"' in page.text
    assert reason in page.text
    assert NO_RECORDS not in page.text
    assert records["alpha"] not in page.text


@pytest.mark.parametrize(
    "name",
    [
        "华信建设有限公司",
        "华 信",
        "Alpha Tech（示范）",
        "ALPHATECHNOLOGYGROUP",
        "Alpha 2026",
        "ABC123456789012345",
    ],
)
def test_a_name_is_never_read_as_a_credit_code(name: str) -> None:
    # The last: 18 characters but letters and digits alike; a code is mostly digits.
    assert typed_credit_code(name) is None or sum(c.isdigit() for c in name) * 2 > len(name)
    assert typed_credit_code("ABCDEFGHJKLMNPQRTU") is None


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("Alpha", "alpha"),
        ("alpha", "alpha"),
        ("ALPHA", "alpha"),
        ("ａｌｐｈａ", "alpha"),
        ("Alpha Tech(示范)", "alpha"),
        ("Alpha Tech（示范）", "alpha"),
        ("alphatech(示范)有限", "alpha"),
        ("华 信", "huaxin"),
        ("华信", "huaxin"),
        ("华　信建设", "huaxin"),
        ("张小三", "person"),
        ("张 小 三", "person"),
    ],
)
def test_a_name_is_found_whatever_its_width_case_or_spaces(
    client: TestClient, records: dict[str, str], typed: str, found: str
) -> None:
    page = client.get("/register", params={"q": typed})
    assert page.status_code == 200
    assert records[found] in page.text, typed
    assert [n for n in records.values() if n in page.text] == [records[found]]
    # The API's name= filter is the same query.
    listed = client.get(f"{API}/public/breaches", params={"name": typed}).json()["items"]
    assert [i["record_number"] for i in listed] == [records[found]]


def test_an_individuals_name_still_matches_only_in_full(client: TestClient, records: dict[str, str]) -> None:
    for typed in ("张", "张小", "张 小"):
        page = client.get("/register", params={"q": typed})
        assert records["person"] not in page.text


def test_no_records_says_to_check_the_spelling_or_try_the_credit_code(
    client: TestClient, records: dict[str, str]
) -> None:
    page = client.get("/register", params={"q": "華信"})  # traditional characters are not folded
    assert NO_RECORDS in page.text
    assert "请核对名称的写法" in page.text
    assert "统一社会信用代码查询" in page.text


def test_the_python_and_sql_folds_agree(engine: Engine, session: Session) -> None:
    from sqlalchemy import literal, select

    from models.register.names import name_key_sql

    for text in ("Alpha Tech（示范）", "ＡＢＣ　ｄｅｆ １２３", "华 信\u00a0建设", "Ωmega ÄB"):
        stored = session.exec(select(name_key_sql(literal(text)))).one()  # type: ignore[call-overload]
        assert stored[0] == name_key(text), text
