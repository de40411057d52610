"""The admin's account and calendar work in headless Chromium (desktop and 390×844): revoke a token,
change a role, deactivate an account; upload the year's holiday notice as a file, preview it, save it.
Screenshots 30-32 under tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page
from sqlmodel import Session

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
    engine = fresh_engine(tmp_path_factory, "admin")
    with Session(engine) as session:
        tokens = seed_staff(session)
    with running(engine, tokens) as served:
        yield served


EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "calendar-example-2027.json"


def _row(page: Page, name: str) -> Locator:
    return page.locator("#users tbody tr", has_text=name)


def test_admin_manages_accounts_and_uploads_a_calendar_file(pages: Pages, live: Live) -> None:
    admin = pages("admin")
    admin.goto(f"{live.url}/staff/admin/users")
    shoot(admin, "30-admin-users-actions", both=True)

    row = _row(admin, "住建经办人")
    row.locator("button:has-text('吊销并重发令牌')").click()
    admin.wait_for_load_state()
    new_token = admin.locator("#reissued-token").inner_text()
    assert new_token.startswith("sx_")
    assert new_token != live.tokens["handler"]
    shoot(admin, "31-admin-users-token-revoked", both=True)

    row = _row(admin, "窗口受理员小王")
    row.locator("select[name=role]").select_option("supervisor")
    row.locator("button:has-text('改角色')").click()
    admin.wait_for_load_state()
    assert "已将 窗口受理员小王 的角色改为 督办人员" in admin.locator(".alert.ok").inner_text()
    _row(admin, "窗口受理员小王").locator("button:has-text('停用')").click()
    admin.wait_for_load_state()
    assert "已停用用户 窗口受理员小王" in admin.locator(".alert.ok").inner_text()

    # The old token no longer signs in; the new one does.
    page = pages()
    page.goto(f"{live.url}/login")
    page.fill("input[name=token]", live.tokens["handler"])
    page.click("button:has-text('登录')")
    page.wait_for_load_state()
    assert "/login" in page.url
    page.fill("input[name=token]", new_token)
    page.click("button:has-text('登录')")
    page.wait_for_load_state()
    assert page.url.rstrip("/").endswith("/staff")

    admin.goto(f"{live.url}/staff/admin/calendar?year=2027")
    admin.set_input_files("input[name=file]", str(EXAMPLE))
    admin.click("button:has-text('预览差异')")
    admin.wait_for_load_state()
    assert admin.locator("#calendar-diff tbody tr").count() > 0
    shoot(admin, "32-admin-calendar-file-preview", both=True)
    admin.click("button:has-text('确认保存')")
    admin.wait_for_load_state()
    assert "已保存放假通知" in admin.locator(".alert.ok").inner_text()
    assert admin.locator("#calendar td.holiday").count() >= 7
