"""The bulk-import page in a real headless Chromium against uvicorn: a handler uploads a file, watches the
page refresh itself until the import flow's service has run, reads the row report and takes the codes file.
Photographed at 1280×800 and 390×844 under tests/artifacts/ (see tests/web_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from models.pledges.import_jobs import run_import
from tests.test_pledges import CSV
from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    Live,
    Pages,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    running,
    seed_staff,
    shoot,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "import")
    with Session(engine) as session:
        tokens = seed_staff(session)
    with running(engine, tokens) as served:
        yield served


def test_a_handler_imports_a_file_reads_the_report_and_takes_the_codes_once(pages: Pages, live: Live) -> None:
    handler = pages("handler")
    handler.click("nav >> text=批量导入")
    assert handler.url.endswith("/staff/pledges/import")
    shoot(handler, "21-import-upload", both=True)
    handler.set_input_files(
        "input[name=file]", files=[{"name": "承诺.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    handler.click("button:has-text('上传并导入')")
    handler.wait_for_load_state()
    assert "排队等待" in handler.locator("#status").inner_text()
    assert handler.locator('meta[http-equiv="refresh"]').count() == 1
    shoot(handler, "22-import-queued", both=True)
    import_id = int(handler.url.rsplit("/", 1)[1])

    run_import(engine=live.engine, import_id=import_id)
    handler.reload()  # what the page's own refresh does a few seconds later
    assert "已完成" in handler.locator("#status").inner_text()
    assert handler.locator('meta[http-equiv="refresh"]').count() == 0
    assert "统一社会信用代码" in handler.locator("#report").inner_text()
    assert "办理码仅可下载一次" in handler.locator("#codes").inner_text()
    shoot(handler, "23-import-report", both=True)

    with handler.expect_download() as taken:
        handler.click("button:has-text('下载办理码')")
    content = taken.value.path().read_text(encoding="utf-8-sig")
    assert content.splitlines()[0] == "承诺编号,承诺人名称,办理码"
    assert "张三" in content
    handler.reload()
    assert "由 住建经办人 下载（1 个）" in handler.locator("#codes").inner_text()
    assert handler.locator("button:has-text('下载办理码')").count() == 0
    handler.goto(f"{live.url}/staff/pledges/import")
    assert f"#{import_id}" in handler.locator("#imports").inner_text()
    shoot(handler, "24-import-list", both=True)
