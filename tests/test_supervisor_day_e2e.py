"""The supervisor's day on the pages, in headless Chromium at 1280×800 and 390×844: from a count on the
dashboard to the filtered list and a case, the overdue list to an overdue case and its 催办, the deadlines of
an evidence review and an objection (each a door to its page), and the scorecard by period with every
department that acted (the verifying competent department too), exported to XLSX. On `make run`'s demo data
plus two complaints dispatched a month ago, signed in with the demo supervisor's token."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from models.calendar import load_calendar
from models.clock import Clock
from tests.test_scorecard import _complaint
from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    SIZES,
    Live,
    Pages,
    act,
    api,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    publish_old_pledge,
    running,
    seed_demo_data,
    shoot,
)

FGW = "示范市发展和改革委员会"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "supervisor-day")
    with Session(engine, expire_on_commit=False) as session:
        tokens, _ = seed_demo_data(session)
        calendar = load_calendar(session=session)
        # Dispatched on 2 February and never signed for: overdue by 2 March. One per size, each reminded once.
        overdue = {size: _complaint(session, calendar, dt.date(2026, 2, 2), "CZJ").number for size in SIZES}
        session.commit()
    record = publish_old_pledge(engine, name="示范绿化养护有限公司", credit_body17="91110000MA01PQRT7")
    with running(engine, tokens, overdue=overdue, record=record.record_number) as served:
        with api(served) as public:
            objected = public.post(
                f"/public/breaches/{record.record_number}/objection",
                json={"access_code": record.access_code, "reason": "许可证已按期寄出"},
            )
            assert objected.status_code == 201, objected.text
        with api(served, "handler") as handler:
            [pledge] = handler.get("/pledges", params={"q": "示范建设工程有限公司"}).json()["items"]
            uploaded = handler.post(
                f"/pledges/{pledge['id']}/evidence",
                files={"file": ("施工图审查合格书.pdf", PDF, "application/pdf")},
            )
            assert uploaded.status_code == 201, uploaded.text
        served.facts["reviewed"] = pledge["number"]
        yield served


@pytest.mark.parametrize("size", SIZES)
def test_supervisor_follows_a_count_to_its_cases_reminds_an_overdue_one_and_exports_the_scorecard(
    pages: Pages, live: Live, size: str
) -> None:
    supervisor = pages("supervisor", size=size)
    supervisor.goto(f"{live.url}/staff/dashboard")
    supervisor.wait_for_load_state("load")  # the charts are images: the screenshot waits for them
    shoot(supervisor, "day-supervisor-01-dashboard")

    # A count is a door: 已派单（待签收） leads to exactly that many cases, each a door to its case.
    tile = supervisor.locator("#state-counts a", has_text="已派单（待签收）")
    count = int(tile.locator(".n").inner_text())
    assert count >= 3  # the demo's dispatched case and the two overdue ones
    tile.click()
    assert "state=dispatched" in supervisor.url
    assert f"（{count} 件）" in supervisor.locator("h2").first.inner_text()
    assert supervisor.locator("#complaint-list tbody tr").count() == count
    shoot(supervisor, "day-supervisor-02-list-by-state")
    supervisor.locator("#complaint-list a").first.click()
    assert supervisor.locator("#state").inner_text() == "已派单（待签收）"

    # The overdue list, then one overdue case: 超期, and the supervisor presses 催办.
    supervisor.goto(f"{live.url}/staff/dashboard")
    number = live.facts["overdue"][size]
    assert number in supervisor.locator("#overdue").inner_text()
    assert "超期" in supervisor.locator("#overdue").inner_text()
    supervisor.click("text=全部超期投诉")
    assert "已超期" in supervisor.locator("h2").first.inner_text()
    shoot(supervisor, "day-supervisor-03-overdue-list")
    supervisor.click(f"#complaint-list >> text={number}")
    assert "已超期" in supervisor.locator("#deadline").inner_text()
    act(supervisor, "remind")
    assert "已催办" in supervisor.locator("#deadline").inner_text()
    assert "催办" in supervisor.locator("#timeline").inner_text()
    shoot(supervisor, "day-supervisor-04-reminded")

    # What awaits a decision, with its deadline: an evidence review and an objection, each a door.
    supervisor.goto(f"{live.url}/staff/dashboard")
    review = supervisor.locator("#review-deadlines tr", has_text=live.facts["reviewed"])
    assert re.search(r"\d{4}-\d{2}-\d{2}", review.inner_text())
    objection = supervisor.locator("#record-deadlines tr", has_text=live.facts["record"])
    assert "异议处理中" in objection.inner_text()
    objection.locator("a").click()
    assert supervisor.locator("#state").inner_text() == "异议处理中"
    assert "许可证已按期寄出" in supervisor.locator("#request-reason").inner_text()

    # The scorecard: a quarter by its label, then a custom period covering everything the demo did.
    supervisor.click("nav >> text=考评")
    supervisor.select_option("select[name=period]", "quarter")
    supervisor.fill("input[name=at]", "2026-03-02")
    supervisor.click("button:has-text('查看')")
    assert supervisor.locator("#period-label").inner_text() == "2026年第1季度"
    # Cases are counted by when they were registered (real timestamps), "today" is pinned to 2026-03-02.
    # The scorecard dates registrations in the office's time zone (Asia/Shanghai), not UTC: from 16:00 UTC
    # on, today's cases fall on tomorrow's date there.
    registered_on = Clock.from_settings().local_date(dt.datetime.now(dt.UTC))
    until = max(registered_on, dt.date(2026, 3, 2)).isoformat()
    supervisor.select_option("select[name=period]", "custom")
    supervisor.fill("input[name=start]", "2026-01-01")
    supervisor.fill("input[name=end]", until)
    supervisor.click("button:has-text('查看')")
    assert re.search(r"2026-01-01 至 \d{4}-\d{2}-\d{2}", supervisor.locator("main").inner_text())
    scores = supervisor.locator("#scorecard").inner_text()
    assert FGW in scores  # the competent department verified a demo case: it acted, so it is scored
    assert "示范市住房和城乡建设局" in scores
    shoot(supervisor, "day-supervisor-05-scorecard")
    with supervisor.expect_download() as download:
        supervisor.click("#export-xlsx")
    assert download.value.suggested_filename == f"scorecard-2026-01-01-{until}.xlsx"
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert sheet is not None
    cells = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    assert any(FGW in c for c in cells), sorted(cells)[:20]
