"""The administrator's day on the pages, in headless Chromium at 1280×800 and 390×844: add a department
under its competent department, load a year's holiday notice from a file, create an account then change its
role, revoke its token and deactivate it, read the notifications that could not be sent (with the phone
number to call), open a mail's body in the mail viewer, and read the credit platform and 12345 pages.
On `make run`'s demo data, its mail delivered to the local sink, signed in with the demo admin's token."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session

from flows.deliver_notifications import deliver_due
from models.calendar import load_calendar
from models.complaint import ComplaintCreate
from models.complaints import register_complaint
from models.settings import get_settings
from models.workflow import Actor
from notifications.sink import start_sink
from tests.conftest import TODAY
from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    SIZES,
    Live,
    Pages,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    running,
    seed_demo_data,
    shoot,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "calendar-example-2027.json"
NO_MAIL_PHONE = "13912345678"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "admin-day")
    with Session(engine) as session:
        tokens, _ = seed_demo_data(session)
        # A complainant reachable by phone only: the mail to them cannot be sent, staff must call.
        register_complaint(
            session=session,
            data=ComplaintCreate.model_validate(
                {
                    "channel": "hotline",
                    "complainant_name": "个体户陈某",
                    "complainant_phone": NO_MAIL_PHONE,
                    "category": "unpaid_wages",
                    "summary": "街道办拖欠保洁服务费",
                }
            ),
            actor=Actor.system("e2e"),
            today=TODAY,
            calendar=load_calendar(session=session),
        )
        session.commit()
    # The demo's mail, delivered to the local sink the mail viewer reads.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = start_sink(engine, host="127.0.0.1", port=port)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOUXIN_SMTP_HOST", "127.0.0.1")
        env.setenv("SHOUXIN_SMTP_PORT", str(port))
        get_settings.cache_clear()
        try:
            # In a thread of its own: deliver_due runs an event loop, and Playwright's runs in this one.
            with ThreadPoolExecutor(1) as pool:
                delivered = pool.submit(deliver_due, engine=engine).result()
        finally:
            sink.stop()
            get_settings.cache_clear()
    assert delivered["sent"] >= 1, delivered
    with running(engine, tokens) as served:
        yield served


def _signs_in(pages: Pages, live: Live, size: str, token: str) -> str | None:
    """Where the sign-in form leads with ``token``: the page's path, or None when it is refused."""
    page = pages(size=size)
    page.goto(f"{live.url}/login")
    page.fill("input[name=token]", token)
    page.click("button:has-text('登录')")
    if "/login" in page.url:
        assert page.locator(".alert.error").count() == 1
        return None
    return page.url.removeprefix(live.url)


@pytest.mark.parametrize("size", SIZES)
def test_admin_keeps_departments_calendar_accounts_and_outboxes(pages: Pages, live: Live, size: str) -> None:
    admin = pages("admin", size=size)
    code, name = {"desktop": ("SJJ", "示范市审计局"), "phone": ("TJJ", "示范市统计局")}[size]

    # A new department under 发改委, the competent department that verifies its cases.
    admin.goto(f"{live.url}/staff/admin/departments")
    admin.fill("input[name=code]", code)
    admin.fill("input[name=name]", name)
    admin.select_option("select[name=level]", index=1)
    admin.select_option("select[name=competent_code]", "FGW")
    admin.fill("input[name=email]", f"{code.lower()}@demo.gov.cn")
    admin.click("button:has-text('保存部门')")
    assert admin.locator(".alert.ok").count() == 1
    row = admin.locator("#departments tbody tr", has_text=name)
    assert "示范市发展和改革委员会" in row.inner_text()
    shoot(admin, "day-admin-01-departments")

    # The year's holiday notice as a file: previewed against the calendar, then saved.
    admin.goto(f"{live.url}/staff/admin/calendar?year=2027")
    admin.set_input_files("input[name=file]", str(EXAMPLE))
    admin.click("button:has-text('预览差异')")
    assert "与当前日历的差异" in admin.locator("main").inner_text()
    shoot(admin, "day-admin-02-calendar-preview")
    admin.click("button:has-text('确认保存')")
    assert "已保存放假通知" in admin.locator(".alert.ok").inner_text()
    assert admin.locator("#calendar td.holiday").count() >= 7

    # An account: created, its role changed, its token revoked and reissued, then deactivated.
    person = f"借调经办人{code}"
    admin.goto(f"{live.url}/staff/admin/users")
    admin.fill("input[name=name]", person)
    admin.select_option("form[action='/staff/admin/users'] select[name=role]", "handler")
    admin.select_option("form[action='/staff/admin/users'] select[name=department_code]", code)
    admin.click("button:has-text('创建用户')")
    first_token = admin.locator("#new-token").inner_text()
    row = admin.locator("#users tbody tr", has_text=person)
    assert name in row.inner_text()
    row.locator("select[name=role]").select_option("supervisor")
    row.locator("button:has-text('改角色')").click()
    assert f"已将 {person} 的角色改为 督办人员" in admin.locator(".alert.ok").inner_text()
    row = admin.locator("#users tbody tr", has_text=person)
    row.locator("input[name=revoke]").check()  # the stated confirmation of an irreversible step
    row.locator("button:has-text('吊销并重发令牌')").click()
    new_token = admin.locator("#reissued-token").inner_text()
    assert new_token.startswith("sx_")
    assert new_token != first_token
    shoot(admin, "day-admin-03-users-token-reissued")
    assert _signs_in(pages, live, size, first_token) is None  # revoked
    assert _signs_in(pages, live, size, new_token) == "/staff/dashboard"  # a supervisor's day starts there
    row = admin.locator("#users tbody tr", has_text=person)
    row.locator("input[name=active][type=checkbox]").check()
    row.locator("button:has-text('停用')").click()
    assert f"已停用用户 {person}" in admin.locator(".alert.ok").inner_text()
    assert admin.locator("#users tbody tr", has_text=person).locator("button:has-text('启用')").count() == 1
    assert _signs_in(pages, live, size, new_token) is None  # deactivated

    # The outboxes: who could not be mailed and whom to call; the mail viewer shows a message's body.
    admin.goto(f"{live.url}/staff/admin/notifications")
    sender = admin.locator("#sender-organisation strong").inner_text()
    assert sender
    assert "XX" not in sender
    undeliverable = admin.locator("#undeliverable").inner_text()
    assert "个体户陈某" in undeliverable
    assert f"请致电 {NO_MAIL_PHONE}" in undeliverable
    shoot(admin, "day-admin-04-notifications")
    admin.click("text=查看本地邮件接收器收到的邮件")
    mail = admin.locator("#mail details.mail-body").first
    assert not mail.locator("pre").is_visible()
    mail.locator("summary").click()
    body = mail.locator("pre").inner_text()
    assert "本邮件由" in body
    assert body.rstrip().split("——")[0].rstrip().endswith(sender)  # signed by the configured organisation
    assert "XX市" not in body
    shoot(admin, "day-admin-05-mail-body")

    admin.goto(f"{live.url}/staff/admin/platform")
    assert "信用平台" in admin.locator("main").inner_text()
    shoot(admin, "day-admin-06-platform")
    admin.goto(f"{live.url}/staff/admin/hotline")
    assert "回传" in admin.locator("main").inner_text()
    shoot(admin, "day-admin-07-hotline")
