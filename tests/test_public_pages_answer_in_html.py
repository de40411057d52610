"""The site answers in its own pages: a record from a complaint offers no form its subject can never use
(it has no access code) but says where to file instead, and an unknown path, a wrong method or a
malformed value in the address gets the Chinese error page, while the API under /api/ keeps its JSON."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from models.breach import PublishedBreach
from models.breach_record import offline_requests_only
from tests.conftest import Staff
from tests.test_complaints_api import set_today
from tests.test_publication import CODE
from tests.test_register import publish

API = "/api/v1"


def _complaint_record(engine: Engine, session: Session) -> PublishedBreach:
    """A published record as a complaint leaves it: no pledge behind it, so no access code."""
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    session.execute(
        update(PublishedBreach)
        .where(col(PublishedBreach.id) == breach.id)
        .values(pledge_id=None, source_kind="complaint")
    )
    session.commit()
    return breach


def _form_links(html: str, number: str) -> list[str]:
    return re.findall(rf'href="/register/{number}/(objection|repair)"', html)


def test_a_complaint_record_offers_no_online_forms_and_says_where_to_file_instead(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breach = _complaint_record(engine, session)
    guidance = offline_requests_only(breach.number)
    assert client.get(f"{API}/public/breaches/{breach.number}").json()["source_kind"] == "complaint"
    page = client.get(f"/register/{breach.number}")
    assert page.status_code == 200
    assert _form_links(page.text, breach.number) == []
    assert guidance in page.text
    for kind in ("objection", "repair"):
        form = client.get(f"/register/{breach.number}/{kind}")
        assert form.status_code == 200
        assert guidance in form.text
        assert "<form" not in form.text
        assert "办理码" not in form.text
    # The service refuses such a record in the same words the pages use.
    refused = client.post(
        f"{API}/public/breaches/{breach.number}/objection", json={"access_code": "ABCD", "reason": "不服"}
    )
    assert refused.status_code == 403
    assert refused.json()["message"].startswith(guidance)


def test_a_pledge_record_keeps_its_objection_and_repair_forms(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    assert client.get(f"{API}/public/breaches/{breach.number}").json()["source_kind"] == "pledge"
    page = client.get(f"/register/{breach.number}")
    assert _form_links(page.text, breach.number) == ["objection", "repair"]
    assert "信用办" not in page.text
    set_today(client, breach.repair_earliest)  # the repair form is offered from the earliest repair day
    for kind in ("objection", "repair"):
        form = client.get(f"/register/{breach.number}/{kind}")
        assert f'action="/register/{breach.number}/{kind}"' in form.text


def _error_page(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["Content-Security-Policy"]
    assert 'class="alert error"' in response.text
    assert words in response.text
    assert "Not Found" not in response.text


def test_unknown_paths_wrong_methods_and_malformed_values_answer_with_the_error_page(
    client: TestClient,
) -> None:
    for path in ("/nonexistent", "/staff/nonexistent", "/staff/imports/999"):
        _error_page(client.get(path), 404, "页面不存在")
    _error_page(client.get("/staff/complaints/abc"), 422, "complaint_id：应为整数")
    _error_page(client.get("/staff/admin/calendar?year=abc"), 422, "year：应为整数")
    wrong_method = client.delete("/register")
    _error_page(wrong_method, 405, "不支持该请求方式")
    assert wrong_method.headers["Allow"] == "GET"


def test_the_api_keeps_its_json_answers(client: TestClient) -> None:
    unknown = client.get(f"{API}/nonexistent")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
    wrong_method = client.delete(f"{API}/public/breaches")
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"detail": "Method Not Allowed"})
    malformed = client.get(f"{API}/public/breaches", params={"limit": "abc"})
    assert malformed.status_code == 422
    assert malformed.json()["error"] == "ValidationError"
    assert malformed.json()["fields"][0]["field"] == "limit"
