"""The department handler's pledge and breach pages in a real headless Chromium against uvicorn: the pledge
list, a pledge's page with its evidence previewed, the printable 告知承诺书, and a breach record under
objection corrected through the typed form. Photographed at 1280×800 and 390×844 under tests/artifacts/
(see tests/web_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from tests.test_pledges import body
from tests.test_publication import CODE
from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    Live,
    Pages,
    act,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    publish_a_breach,
    running,
    seed_staff,
    shoot,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "pledges")
    with Session(engine) as session:
        tokens = seed_staff(session)
    access_code = publish_a_breach(engine)
    with running(engine, tokens, access_code=access_code) as served:
        yield served


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"


def test_a_handler_reviews_a_pledge_and_corrects_a_record_under_objection(pages: Pages, live: Live) -> None:
    handler = pages("handler")
    auth = {"Authorization": f"Bearer {live.tokens['handler']}"}
    created = handler.request.post(
        f"{live.url}/api/v1/pledges",
        data=body(
            deadline="2026-04-30", pledgor_kind="individual", pledgor_name="李样例", pledgor_credit_code=None
        ),
        headers=auth,
    )
    assert created.status == 201, created.text()
    pledge = created.json()
    uploaded = handler.request.post(
        f"{live.url}/api/v1/pledges/{pledge['id']}/evidence",
        multipart={"file": {"name": "施工图审查合格书.pdf", "mimeType": "application/pdf", "buffer": PDF}},
        headers=auth,
    )
    assert uploaded.status == 201, uploaded.text()

    handler.click("nav >> text=告知承诺")
    assert pledge["number"] in handler.locator("#pledges").inner_text()
    shoot(handler, "40-staff-pledges", both=True)
    handler.click(f"text={pledge['number']}")
    assert "施工图审查合格书.pdf" in handler.locator("#evidence").inner_text()
    handler.locator("#evidence details.preview summary").first.click()
    shoot(handler, "41-staff-pledge-evidence", both=True)
    handler.reload()  # the PDF viewer in its frame keeps the pointer; the actions are used on a fresh page
    act(handler, "confirm")
    assert handler.locator("#state").inner_text().startswith("已履约")
    handler.click("#notice-link")
    assert "告知承诺书" in handler.locator("#notice").inner_text()
    shoot(handler, "42-pledge-notice", both=True)

    # The subject objects to its published record; the deciding department reads why and corrects it.
    [record] = handler.request.get(f"{live.url}/api/v1/public/breaches?credit_code={CODE}").json()["items"]
    objected = handler.request.post(
        f"{live.url}/api/v1/public/breaches/{record['record_number']}/objection",
        data={
            "access_code": live.facts["access_code"],
            "reason": "材料已于期限内邮寄",
            "evidence": "EMS 1234567890",
        },
    )
    assert objected.status == 201, objected.text()
    handler.goto(f"{live.url}/staff/pledges")  # back from the print view, which has no navigation
    handler.click("nav >> text=失信记录")
    shoot(handler, "43-staff-breaches", both=True)
    handler.click(f"text={record['record_number']}")
    assert "材料已于期限内邮寄" in handler.locator("#request").inner_text()
    shoot(handler, "44-staff-breach-objection", both=True)
    act(
        handler,
        "uphold_correct",
        facts="逾期 3 日补交施工图审查合格书（更正）",
        severity="minor",
        reason="邮寄凭证显示材料逾期 3 日送达，更正失信行为和程度",
    )
    assert "逾期 3 日补交" in handler.locator("#facts").inner_text()
    shoot(handler, "45-staff-breach-corrected", both=True)
