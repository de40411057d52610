"""A bug answers 500 in Chinese with a reference the user can quote and the log names, on the API as JSON and
on the pages as the error page, and never shows the error's own text (it may hold personal data)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.main import create_app
from models.clock import Clock

SECRET = "13800000000 的内部错误"


@pytest.fixture
def failing_client(engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    def broken(**_: object) -> None:
        raise RuntimeError(SECRET)

    monkeypatch.setattr("api.routes.public.list_register", broken)
    monkeypatch.setattr("web.public.list_register", broken)
    app = create_app(engine=engine, clock=clock, check_schema=False)
    # The server's own exception is re-raised after the answer (for the ASGI server's log): read the answer.
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def reference_in(text: str) -> str:
    match = re.search(r"错误编号 ([0-9a-f]{8})", text)
    assert match, text
    return match.group(1)


def test_an_api_bug_answers_500_json_with_a_reference_in_the_log(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        r = failing_client.get("/api/v1/public/breaches")
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "InternalError"
    assert SECRET not in r.text
    reference = reference_in(body["message"])
    assert any(reference in m and "/api/v1/public/breaches" in m for m in caplog.messages)


def test_a_page_bug_answers_the_500_error_page_in_chinese(failing_client: TestClient) -> None:
    r = failing_client.get("/register")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "服务器内部错误" in r.text
    reference_in(r.text)
    assert SECRET not in r.text
