"""Supervisors' pages in a real headless Chromium against uvicorn: the dashboard's doors lead to the case,
its red alarms, the charts on a phone (a long department name whole, the narrow drawing), the scorecard by
period, and the credit platform's admin page. Each page is photographed at 1366×768 and 390×844."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser
from sqlalchemy import update
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401
from api.main import create_app
from models.accounts import import_departments
from models.calendar import load_calendar
from models.clock import Clock
from models.db import make_engine
from models.lifecycle import PledgeState
from models.org import DepartmentCreate, DepartmentLevel
from models.pledge import Pledge
from models.publication import sweep
from models.workflow import Actor
from tests.conftest import TODAY
from tests.test_publication import CODE, new_pledge
from tests.test_scorecard import _complaint
from tests.test_web_e2e import PHONE, Live, _seed, browser, shoot, sign_in  # noqa: F401  (fixture)

LONG_NAME = "示范市人力资源和社会保障局"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("e2e-oversight") / "oversight.db"
    engine = make_engine(f"sqlite:///{db}", create=True)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        tokens = _seed(session)
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
    clock = Clock.from_settings().__class__(tz=Clock.from_settings().tz, pinned_today=TODAY)
    app = create_app(engine=engine, clock=clock, check_schema=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Live(url=f"http://127.0.0.1:{port}", tokens=tokens, access_code="")
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def test_supervisor_follows_the_dashboard_doors_and_reads_the_scorecard(
    browser: Browser,  # noqa: F811
    served: Live,
) -> None:
    page = sign_in(browser, served, "supervisor")
    page.goto(f"{served.url}/staff/dashboard")
    assert "公示日已过未公示（1 件）" in page.locator("#missed-publications").inner_text()
    assert "信用平台推送告警" in page.locator("#platform-alarm").inner_text()
    shoot(page, "25-dashboard-doors")
    # On a phone the charts are the narrow drawings, whose labels are readable at that width.
    page.set_viewport_size(PHONE)
    page.reload()
    sources = page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.currentSrc)")
    assert sources
    assert all("narrow=true" in s for s in sources), sources
    page.goto(f"{served.url}/staff/charts/on-time.svg?narrow=true")
    page.screenshot(path="tests/artifacts/26-on-time-chart-narrow-390x844.png")
    page.goto(f"{served.url}/staff/dashboard")

    page.click(f"#due-by-department >> tr:has-text('{LONG_NAME}') >> a.tag.red")
    page.wait_for_load_state()
    assert "/staff/complaints?lead=RSJ" in page.url
    assert "已超期（1 件）" in page.locator("h2").first.inner_text()
    shoot(page, "27-complaint-list-overdue")
    page.click("#complaint-list >> a")
    page.wait_for_load_state()
    assert "/staff/complaints/" in page.url

    page.goto(f"{served.url}/staff/scorecard")
    page.select_option("select[name=period]", "quarter")
    page.fill("input[name=at]", "2026-03-02")
    page.click("button:has-text('查看')")
    page.wait_for_load_state()
    assert page.locator("#period-label").inner_text() == "2026年第1季度"
    shoot(page, "28-scorecard-quarter")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename == "scorecard-2026-01-01-2026-03-31.xlsx"


def test_admin_reads_the_credit_platform_page(
    browser: Browser,  # noqa: F811
    served: Live,
) -> None:
    page = sign_in(browser, served, "admin")
    page.goto(f"{served.url}/staff/dashboard")
    page.click("#platform-alarm >> a")
    page.wait_for_load_state()
    assert page.url.endswith("/staff/admin/platform")
    assert "未配置信用平台推送地址" in page.locator("#platform-alarm").inner_text()
    assert page.locator("#platform-documents tbody tr").count() >= 1
    shoot(page, "29-admin-platform")
