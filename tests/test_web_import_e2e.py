"""The bulk-import page in a real headless Chromium against uvicorn: a handler uploads a file, watches the
page refresh itself until the import flow's service has run, reads the row report and takes the codes file.
Photographed at 1366×768 and 390×844 under tests/artifacts/ (see tests/test_web_e2e.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from playwright.sync_api import Browser
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401
from api.main import create_app
from models.clock import Clock
from models.db import make_engine
from models.pledges.import_jobs import run_import
from tests.conftest import TODAY
from tests.test_pledges import CSV
from tests.test_web_e2e import DESKTOP, Live, _seed, browser, shoot, sign_in  # noqa: F401  (fixture)


@dataclass
class Served:
    live: Live
    engine: Engine


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = tmp_path_factory.mktemp("e2e-import") / "import.db"
    engine = make_engine(f"sqlite:///{db}", create=True)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        tokens = _seed(session)
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
    yield Served(Live(url=f"http://127.0.0.1:{port}", tokens=tokens, access_code=""), engine)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def test_a_handler_imports_a_file_reads_the_report_and_takes_the_codes_once(
    browser: Browser,  # noqa: F811
    served: Served,
) -> None:
    handler = sign_in(browser, served.live, "handler")
    handler.click("nav >> text=批量导入")
    assert handler.url.endswith("/staff/pledges/import")
    shoot(handler, "21-import-upload")
    handler.set_input_files(
        "input[name=file]", files=[{"name": "承诺.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    handler.click("button:has-text('上传并导入')")
    handler.wait_for_load_state()
    assert "排队等待" in handler.locator("#status").inner_text()
    assert handler.locator('meta[http-equiv="refresh"]').count() == 1
    shoot(handler, "22-import-queued")
    import_id = int(handler.url.rsplit("/", 1)[1])

    run_import(engine=served.engine, import_id=import_id)
    handler.reload()  # what the page's own refresh does a few seconds later
    assert "已完成" in handler.locator("#status").inner_text()
    assert handler.locator('meta[http-equiv="refresh"]').count() == 0
    assert "统一社会信用代码" in handler.locator("#report").inner_text()
    assert "办理码仅可下载一次" in handler.locator("#codes").inner_text()
    shoot(handler, "23-import-report")

    with handler.expect_download() as taken:
        handler.click("button:has-text('下载办理码')")
    content = taken.value.path().read_text(encoding="utf-8-sig")
    assert content.splitlines()[0] == "承诺编号,承诺人名称,办理码"
    assert "张三" in content
    handler.reload()
    assert "由 住建经办人 下载（1 个）" in handler.locator("#codes").inner_text()
    assert handler.locator("button:has-text('下载办理码')").count() == 0
    handler.goto(f"{served.live.url}/staff/pledges/import")
    assert f"#{import_id}" in handler.locator("#imports").inner_text()
    shoot(handler, "24-import-list")
