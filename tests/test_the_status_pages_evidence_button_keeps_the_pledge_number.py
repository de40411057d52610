"""After a pledgor looks a pledge up on /pledges/status, its "提交履约材料" button opens the evidence form
with the pledge number filled in (never the access code: it must not travel in an address), in a real
headless Chromium against uvicorn (tests/web_support.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session

from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    Live,
    Pages,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    running,
    seed_staff,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "status_button")
    with Session(engine) as session:
        tokens = seed_staff(session)
    with running(engine, tokens, today=dt.date(2026, 9, 1)) as served:
        yield served


def test_the_evidence_button_opens_the_form_with_the_number_and_without_the_code(
    pages: Pages, live: Live
) -> None:
    created = httpx.post(
        f"{live.url}/api/v1/pledges",
        json={
            "pledgor_kind": "enterprise",
            "pledgor_name": "甲建设有限公司",
            "pledgor_credit_code": "91440300708461136T",
            "pledgor_email": "a@example.com",
            "matter": "建筑工程施工许可证",
            "obligation": "施工图审查合格书",
            "deadline": "2026-09-29",
            "authority_code": "D01",
        },  # fmt: skip
        headers={"Authorization": f"Bearer {live.tokens['handler']}"},
    ).json()
    page = pages()
    page.goto(f"{live.url}/pledges/status")
    page.fill("input[name=number]", created["number"])
    page.fill("input[name=access_code]", created["access_code"])
    page.locator("form button[type=submit]").click()
    page.wait_for_selector("#pledge-status")
    # Named apart from the header's generic 提交履约材料 link, which knows no pledge.
    page.get_by_role("link", name="提交本承诺的履约材料").click()
    page.wait_for_url("**/pledges/evidence**")
    assert page.input_value("input[name=number]") == created["number"]
    assert page.input_value("input[name=access_code]") == ""
    assert created["access_code"] not in page.url
    page.close()
