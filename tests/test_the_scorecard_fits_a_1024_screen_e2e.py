"""The scorecard at 1024×700 in a real headless Chromium, on the demo city's data: the page itself never
scrolls sideways (the wide table scrolls inside its own box, every column reachable there) and a
department's name stays on one line instead of wrapping two characters a line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, ViewportSize
from sqlmodel import Session

from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    Live,
    Pages,
    browser_fixture,
    fresh_engine,
    overflow_of,
    pages_fixture,
    running,
    seed_demo_data,
)

SMALL_LAPTOP: ViewportSize = {"width": 1024, "height": 700}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "scorecard1024")
    with Session(engine, expire_on_commit=False) as session:
        tokens, _ = seed_demo_data(session)
    with running(engine, tokens) as served:
        yield served


def _line_count(page: Page, selector: str) -> list[float]:
    """Each matched cell's height in lines of its own text."""
    return list(
        page.eval_on_selector_all(
            selector,
            """cells => cells.map(c => c.getBoundingClientRect().height
                 / parseFloat(getComputedStyle(c).lineHeight))""",
        )
    )


@pytest.mark.parametrize("table", ["scorecard", "pledge-scorecard"])
def test_the_scorecard_scrolls_its_table_not_the_page_at_1024(pages: Pages, live: Live, table: str) -> None:
    page = pages("supervisor")
    page.set_viewport_size(SMALL_LAPTOP)
    page.goto(f"{live.url}/staff/scorecard?period=year&at=2026-01-01")
    page.screenshot(path=f"tests/artifacts/scorecard-{table}-1024x700.png", full_page=True)
    assert page.locator(f"#{table} tbody tr").count() > 0, page.locator("main").inner_text()
    assert overflow_of(page) <= 1
    # The table's box scrolls: its last column is reached by scrolling it, not cut off.
    box = page.locator(f"#{table}").locator("xpath=..")
    assert box.evaluate("b => getComputedStyle(b).overflowX") == "auto"
    last = page.locator(f"#{table} thead th").last
    last.scroll_into_view_if_needed()
    assert last.is_visible()
    right = last.evaluate("th => th.getBoundingClientRect().right")
    assert right <= SMALL_LAPTOP["width"]
    # Department names (the first column) stay whole on one line (cell padding aside).
    lines = _line_count(page, f"#{table} tbody td:first-child")
    assert lines
    assert max(lines) < 2, lines
