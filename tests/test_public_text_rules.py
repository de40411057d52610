"""The public side's text follows the rule of every typed text (models/text.py): an objection or repair
request whose text is blank once invisible characters are dropped, holds control characters or is too
long is refused (API and page alike, the page in Chinese with what was typed kept), a rejected objection
is not lodged again by adding invisible characters, and odd input in a page's address or form (a NUL, a
cursor beyond any id) gets a Chinese page, not the API's JSON (public review round 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import api.routes.public
import web.public
from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.lifecycle import BreachState
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form, sign_in

API = "/api/v1"


def _requests(session: Session, breach: PublishedBreach) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_kind == "breach", CaseEvent.case_id == breach.id)
    return [e for e in session.exec(stmt).all() if e.event in ("object", "request_repair")]


def _open_repair(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(PublishedBreach).values(repair_earliest=dt.date(2026, 1, 1)))


def _state(session: Session, breach: PublishedBreach) -> str:
    session.expire_all()
    record = session.get(PublishedBreach, breach.id)
    assert record is not None
    return str(record.state)


def test_a_rejected_objection_is_not_lodged_again_by_adding_invisible_characters(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    url = f"{API}/public/breaches/{breach.number}/objection"
    first = {"access_code": access_code(session, breach), "reason": "材料已于期限内补交", "evidence": "回执"}
    assert client.post(url, json=first).status_code == 201
    rejected = client.post(
        f"{API}/breaches/{breach.id}/actions/reject_objection",
        json={"reason": "逾期属实"},
        headers=staff.auth("supervisor"),
    )
    assert rejected.status_code == 200, rejected.text
    for evidence in ("\u200b", "\u200b\ufeff\u3000", "回\u200b执", "\ufeff回执 "):
        again = client.post(url, json={**first, "evidence": evidence})
        assert again.status_code == 422, (evidence, again.text)
        assert "新的事实" in again.json()["message"]
    assert _state(session, breach) == BreachState.PUBLISHED
    assert len(_requests(session, breach)) == 1
    new_facts = client.post(url, json={**first, "evidence": "审批部门 2026-02-10 出具的材料接收回执"})
    assert new_facts.status_code == 201, new_facts.text


@pytest.mark.parametrize(
    ("kind", "body", "field", "says"),
    [
        ("objection", {"reason": "\u200b\u200b"}, "reason", "at least 1"),
        ("objection", {"reason": "理由\x01\x1b[31m"}, "reason", "控制字符"),
        ("objection", {"reason": "有异议", "evidence": "x\x00y"}, "evidence", "控制字符"),
        ("repair", {"statement": "\u200b", "repair_pledge": "承诺"}, "statement", "at least 1"),
        ("repair", {"statement": "已纠正", "repair_pledge": "\ufeff"}, "repair_pledge", "at least 1"),
        ("repair", {"statement": "已纠正\x00", "repair_pledge": "承诺"}, "statement", "控制字符"),
    ],
)
def test_api_objection_and_repair_text_must_be_visible_and_storable(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    kind: str,
    body: dict[str, str],
    field: str,
    says: str,
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    _open_repair(engine)
    url = f"{API}/public/breaches/{breach.number}/{kind}"
    answer = client.post(url, json={"access_code": access_code(session, breach), **body})
    assert answer.status_code == 422, answer.text
    fields = answer.json()["fields"]
    assert [f["field"] for f in fields] == [field]
    assert says in fields[0]["message"]
    assert _requests(session, breach) == []
    assert _state(session, breach) == BreachState.PUBLISHED


@pytest.mark.parametrize(
    ("reason", "evidence", "says"),
    [
        ("很长" * 3000, "", "异议理由超过 2000 字"),
        ("\u200b\u200b\u200b", "", "请填写异议理由"),  # named at the field left blank
        ("理由\x01\x1b[31m", "", "异议理由含有控制字符"),
        ("材料已于期限内补交", "证明" * 2001, "证明材料说明超过 4000 字"),
    ],
)
def test_the_objection_form_refuses_text_the_api_refuses_and_keeps_what_was_typed(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    reason: str,
    evidence: str,
    says: str,
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    page = f"/register/{breach.number}/objection"
    form = {"access_code": access_code(session, breach), "reason": reason, "evidence": evidence}
    answer = post_form(client, page, form)
    assert answer.status_code == 422, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert says in answer.text
    assert "(longer than" not in answer.text
    assert "(control characters" not in answer.text
    assert reason in answer.text  # what was typed is kept
    assert evidence in answer.text
    assert _requests(session, breach) == []
    assert _state(session, breach) == BreachState.PUBLISHED


def test_the_repair_form_refuses_invisible_text(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    _open_repair(engine)
    page = f"/register/{breach.number}/repair"
    form = {"access_code": access_code(session, breach), "statement": "\u200b", "repair_pledge": "\ufeff"}
    answer = post_form(client, page, form)
    assert answer.status_code == 422, answer.text[:300]
    assert "请填写纠正失信行为的说明" in answer.text  # each blank field named at itself
    assert "请填写信用修复承诺" in answer.text
    assert _requests(session, breach) == []


def test_a_cursor_beyond_any_id_is_refused_as_an_invalid_cursor(client: TestClient) -> None:
    cursor = "2026-01-01:99999999999999999999999"
    page = client.get(f"/register?after={cursor}")
    assert page.status_code == 200  # the search page shows its refusals above an empty list
    assert page.headers["content-type"].startswith("text/html")
    assert "分页游标" in page.text
    answer = client.get(f"{API}/public/breaches", params={"after": cursor})
    assert answer.status_code == 422
    assert "分页游标" in answer.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "form", "status"),
    [
        ("get", "/register?q=a%00b", None, 200),  # the search page shows its refusals above an empty list
        ("get", "/register/X%00Y", None, 422),
        ("get", "/register/X%00Y/objection", None, 422),
        ("get", "/register/X%00Y/repair", None, 422),
        ("post", "/track", {"number": "C\x00X", "password": "ABCDEFGHJKMN"}, 422),
        ("post", "/pledges/status", {"number": "C\x00X", "access_code": "ABCDEFGHJKMN"}, 422),
    ],
)
def test_a_nul_in_a_public_page_input_gets_a_chinese_page_not_json(
    client: TestClient, method: str, path: str, form: dict[str, str] | None, status: int
) -> None:
    if form is None:
        answer = client.get(path)
    else:
        answer = post_form(client, path, form)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert "控制字符" in answer.text
    assert "(control characters" not in answer.text


def test_a_nul_in_a_public_api_address_is_refused_naming_the_parameter(client: TestClient) -> None:
    for path, name in (
        (f"{API}/public/breaches?name=a%00b", "name"),
        (f"{API}/public/breaches/X%00Y", "number"),
        (f"{API}/public/credit/91%00", "credit_code"),
    ):
        answer = client.get(path)
        assert answer.status_code == 422, answer.text
        assert [f["field"] for f in answer.json()["fields"]] == [name]


def test_a_value_the_database_refuses_gets_the_error_page_on_a_page_and_json_on_the_api(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_: Any) -> Any:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(web.public, "breach_by_number", refuse)
    monkeypatch.setattr(api.routes.public, "get_public_record", refuse)
    page = client.get("/register/GS-2026-000001")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "超出允许范围" in page.text
    assert "(a value out of range" not in page.text
    answer = client.get(f"{API}/public/breaches/GS-2026-000001")
    assert answer.status_code == 422
    assert answer.json()["error"] == "ValidationError"


def test_a_nul_in_the_complaint_tracking_request_is_refused_naming_the_field(client: TestClient) -> None:
    body = {"number": "TS-2026-0\x0001", "password": "x"}
    answer = client.post(f"{API}/public/complaints/track", json=body)
    assert answer.status_code == 422, answer.text
    assert [f["field"] for f in answer.json()["fields"]] == ["number"]


def test_a_repeat_objection_names_the_office_day_of_the_rejection_not_the_utc_day(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    url = f"{API}/public/breaches/{breach.number}/objection"
    first = {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"}
    assert client.post(url, json=first).status_code == 201
    rejected = client.post(
        f"{API}/breaches/{breach.id}/actions/reject_objection",
        json={"reason": "逾期属实"},
        headers=staff.auth("supervisor"),
    )
    assert rejected.status_code == 200, rejected.text
    # Rejected at 07:30 on 2026-03-04 in Beijing: still 2026-03-03 in UTC, as the event is stored.
    with engine.begin() as conn:
        conn.execute(
            update(CaseEvent)
            .where(CaseEvent.event == "reject_objection")  # type: ignore[arg-type]
            .values(at=dt.datetime(2026, 3, 3, 23, 30, tzinfo=dt.UTC))
        )
    again = client.post(url, json=first)
    assert again.status_code == 422
    assert "已于2026年3月4日被认定不成立" in again.json()["message"]


def test_a_refused_staff_form_then_a_value_the_database_refuses_still_gets_the_error_page(
    client: TestClient, staff: Staff
) -> None:
    """The refused form rolled the session back (the signed-in user is reloaded for the page); on
    PostgreSQL the out-of-range id then aborts the transaction: the error page starts a fresh one."""
    sign_in(client, staff.intake)
    answer = post_form(client, "/staff/pledges/2147483648/act/nope", {}, page="/staff/pledges")
    assert answer.status_code in (404, 422), answer.text
    assert answer.headers["content-type"].startswith("text/html")
