"""Supervisors' pages in a real headless Chromium against uvicorn: the dashboard's doors lead to the case,
its red alarms, the charts on a phone (a long department name whole, the narrow drawing), the scorecard by
period, and the credit platform's admin page. Each page is photographed at 1280×800 and 390×844."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import update
from sqlmodel import Session

from models.accounts import import_departments
from models.calendar import load_calendar
from models.lifecycle import PledgeState
from models.org import DepartmentCreate, DepartmentLevel
from models.pledge import Pledge
from models.publication import sweep
from models.workflow import Actor
from tests.conftest import TODAY
from tests.test_publication import CODE, new_pledge
from tests.test_scorecard import _complaint
from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    PHONE,
    Live,
    Pages,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    running,
    seed_staff,
    shoot,
)

LONG_NAME = "示范市人力资源和社会保障局"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "oversight")
    with Session(engine, expire_on_commit=False) as session:
        tokens = seed_staff(session)
        import_departments(
            session=session,
            items=[
                DepartmentCreate(code="RSJ", name=LONG_NAME, level=DepartmentLevel.CITY, competent_code="D00")
            ],
        )
        session.commit()
        calendar = load_calendar(session=session)
        _complaint(session, calendar, dt.date(2026, 2, 2), "RSJ")  # overdue by now
        _complaint(session, calendar, TODAY, "D01")
        new_pledge(session, dt.date(2026, 2, 12), name="示范建设有限公司", code=CODE)
        missed = new_pledge(session, dt.date(2026, 2, 24), name="张小三", code=None)
        session.commit()
    sweep(engine=engine, today=dt.date(2026, 2, 28), actor=Actor.system("e2e"))
    with Session(engine) as session:
        # Marked overdue, its publication day passed, and no sweep ran since: the dashboard's red alarm.
        session.execute(
            update(Pledge)
            .where(Pledge.id == missed.id)
            .values(state=PledgeState.OVERDUE, publication_day=dt.date(2026, 2, 27))
        )  # type: ignore[arg-type]
        session.commit()
    with running(engine, tokens) as served:
        yield served


def test_supervisor_follows_the_dashboard_doors_and_reads_the_scorecard(pages: Pages, live: Live) -> None:
    page = pages("supervisor")
    page.goto(f"{live.url}/staff/dashboard")
    assert "公示日已过未公示（1 件）" in page.locator("#missed-publications").inner_text()
    assert "信用平台推送告警" in page.locator("#platform-alarm").inner_text()
    shoot(page, "25-dashboard-doors", both=True)
    # On a phone the charts are the narrow drawings, whose labels are readable at that width.
    page.set_viewport_size(PHONE)
    page.reload()
    sources = page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.currentSrc)")
    assert sources
    assert all("narrow=true" in s for s in sources), sources
    page.goto(f"{live.url}/staff/charts/on-time.svg?narrow=true")
    page.screenshot(path="tests/artifacts/26-on-time-chart-narrow-390x844.png")
    page.goto(f"{live.url}/staff/dashboard")

    page.click(f"#due-by-department >> tr:has-text('{LONG_NAME}') >> a.tag.red")
    page.wait_for_load_state()
    assert "/staff/dashboard/awaiting?awaits=RSJ" in page.url
    assert "已超期的环节（1 件）" in page.locator("h2").first.inner_text()
    shoot(page, "27-awaiting-list-overdue", both=True)
    page.click("#awaiting >> a")
    page.wait_for_load_state()
    assert "/staff/complaints/" in page.url

    page.goto(f"{live.url}/staff/scorecard")
    page.select_option("select[name=period]", "quarter")
    page.fill("input[name=at]", "2026-03-02")
    page.click("button:has-text('查看')")
    page.wait_for_load_state()
    assert page.locator("#period-label").inner_text() == "2026年第1季度"
    shoot(page, "28-scorecard-quarter", both=True)
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename == "scorecard-2026-01-01-2026-03-31.xlsx"


def test_admin_reads_the_credit_platform_page(pages: Pages, live: Live) -> None:
    page = pages("admin")
    page.goto(f"{live.url}/staff/dashboard")
    page.click("#platform-alarm >> a")
    page.wait_for_load_state()
    assert page.url.endswith("/staff/admin/platform")
    assert "未配置信用平台推送地址" in page.locator("#platform-alarm").inner_text()
    assert page.locator("#platform-documents tbody tr").count() >= 1
    shoot(page, "29-admin-platform", both=True)
