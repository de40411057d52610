"""In headless Chromium: a 核实不属实 sent with its explanation empty comes back with the focus on that
explanation (not on the page's BODY), its panel open, and a summary at the top whose link leads to the
field. Photographed under tests/artifacts/ (see tests/web_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from tests.test_complaints_api import BODY
from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    Live,
    Pages,
    api,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    running,
    seed_staff,
    shoot,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "failed-action")
    with Session(engine) as session:
        tokens = seed_staff(session)
    with running(engine, tokens) as served:
        yield served


def _signed(live: Live) -> int:
    with api(live, "intake") as intake, api(live, "handler") as handler:
        created = intake.post("/complaints", json=BODY)
        assert created.status_code == 201, created.text
        cid = int(created.json()["id"])
        for who, action, body in (
            (intake, "accept", {}),
            (intake, "dispatch", {"lead_department_code": "D01"}),
            (handler, "sign_for", {}),
        ):
            response = who.post(f"/complaints/{cid}/actions/{action}", json=body)
            assert response.status_code == 200, response.text
    return cid


def test_an_empty_explanation_comes_back_focused_with_a_summary_linking_to_it(
    pages: Pages, live: Live
) -> None:
    cid = _signed(live)
    competent = pages("competent")
    competent.goto(f"{live.url}/staff/complaints/{cid}")
    competent.locator("details#act-verify_untrue summary").click()
    competent.locator('form[action$="/act/verify_untrue"] button[type=submit]').click()
    competent.wait_for_load_state()

    assert competent.evaluate("document.activeElement.id") == "verify_untrue-explanation"
    assert competent.locator("details#act-verify_untrue").get_attribute("open") is not None
    summary = competent.locator("#errors-summary")
    assert "核实不属实的说明" in summary.inner_text()
    shoot(competent, "failed-action-verify-untrue")
    # The summary's link leads to the field (a fragment the field's id answers).
    competent.locator("#main").focus()
    summary.locator('a[href="#verify_untrue-explanation"]').click()
    assert competent.url.endswith("#verify_untrue-explanation")
    assert competent.locator("#verify_untrue-explanation").is_visible()
