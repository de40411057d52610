"""Helpers shared by the page tests: signing in through the real form and CSRF-carrying posts (TestClient),
and the headless-Chromium set-up of the end-to-end tests (server, browser, pages, screenshots)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import models.tables  # noqa: F401
import notifications.sink  # noqa: F401
from api.main import create_app
from models.accounts import create_user, import_departments, set_password
from models.calendar import load_calendar
from models.clock import Clock
from models.db import make_engine
from models.demo import demo_token, seed_demo, seed_demo_cases
from models.lifecycle import Role
from models.org import User, UserCreate
from tests.conftest import DEPARTMENTS, TODAY
from web.core import CSRF_COOKIE, CSRF_FIELD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF value a page embeds in its forms (and sets as the browser's cookie)."""
    page = client.get(path)
    match = _CSRF.search(page.text)
    assert match, f"no CSRF field on {path}"
    assert client.cookies.get(CSRF_COOKIE) == match.group(1)
    return match.group(1)


def post_form(client: TestClient, path: str, data: dict[str, Any], *, page: str | None = None) -> Any:
    token = csrf_of(client, page or path)
    return client.post(path, data={CSRF_FIELD: token, **data}, follow_redirects=False)


def sign_in(client: TestClient, token: str) -> None:
    response = post_form(client, "/login", {"token": token})
    assert response.status_code == 303, response.text


# ---------------------------------------------------------------------------------------------------------
# Headless Chromium (Debian's package, driven by Playwright) against uvicorn, for the tests/test_*e2e*.py
# modules. Each module starts one server on its own fresh database (a module-scoped ``live`` fixture built
# with ``serve``) and imports the two fixtures below:
#
#     from tests.web_support import browser_fixture, pages_fixture  # noqa: F401  (fixtures)
#
# ``pages(who, size=...)`` opens a new browser context at 1280×800 ("desktop") or 390×844 ("phone"), signed
# in with ``who``'s token when given; ``shoot(page, name)`` writes tests/artifacts/<name>-<WxH>.png and, on a
# phone-wide page, fails when anything makes the page scroll sideways.

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIZES: dict[str, ViewportSize] = {"desktop": DESKTOP, "phone": PHONE}
SUPERVISOR_PASSWORD = "督办-correct-horse-42"
# The demo users' fixed tokens (models.demo), by the role key the tests use.
DEMO_TOKENS = {
    "intake": demo_token(Role.INTAKE, None),
    "handler": demo_token(Role.HANDLER, "ZJJ"),  # 住建局经办人
    "assisting": demo_token(Role.HANDLER, "SPJ"),  # 行政审批局经办人
    "finance": demo_token(Role.HANDLER, "CZJ"),  # 财政局经办人
    "competent": demo_token(Role.HANDLER, "FGW"),  # 发改委经办人, 主管部门 of the city's departments
    "supervisor": demo_token(Role.SUPERVISOR, "XYB"),
    "admin": demo_token(Role.ADMIN, None),
}


@dataclass
class Live:
    """A running server: its base URL, its database, the staff tokens by role key, and whatever the
    module's seed wants to hand to its tests (access codes, case numbers)."""

    url: str
    engine: Engine
    tokens: dict[str, str]
    facts: dict[str, Any] = field(default_factory=dict)


def fresh_engine(tmp_path_factory: pytest.TempPathFactory, name: str) -> Engine:
    """A new SQLite file with every table (the migrations are tested elsewhere)."""
    db = tmp_path_factory.mktemp(f"e2e-{name}") / f"{name}.db"
    engine = make_engine(f"sqlite:///{db}", create=True)
    SQLModel.metadata.create_all(engine)
    return engine


def seed_staff(session: Session) -> dict[str, str]:
    """The test departments (tests.conftest.DEPARTMENTS) and one user of each role; returns their tokens.
    The supervisor can also sign in with name + SUPERVISOR_PASSWORD."""
    import_departments(session=session, items=DEPARTMENTS)
    tokens = {}
    for key, name, role, dept in (
        ("intake", "窗口受理员小王", Role.INTAKE, None),
        ("handler", "住建经办人", Role.HANDLER, "D01"),
        ("competent", "发改经办人", Role.HANDLER, "D00"),
        ("supervisor", "督办员老李", Role.SUPERVISOR, None),
        ("admin", "管理员", Role.ADMIN, None),
    ):
        _, tokens[key] = create_user(
            session=session, data=UserCreate(name=name, role=role, department_code=dept, email=None)
        )
    supervisor = session.exec(select(User).where(User.name == "督办员老李")).one()
    set_password(session=session, user=supervisor, password=SUPERVISOR_PASSWORD)
    session.commit()
    return tokens


def seed_demo_data(session: Session, *, today: dt.date = TODAY) -> tuple[dict[str, str], list[str]]:
    """What `make run` loads: the demo city's departments, its users with their fixed tokens, and the demo
    cases; returns the tokens by role key and the lines `shouxin demo` prints (numbers, access codes)."""
    seed_demo(session=session)
    created = seed_demo_cases(session=session, today=today, calendar=load_calendar(session=session))
    session.commit()
    return dict(DEMO_TOKENS), created


@contextmanager
def serve(engine: Engine, *, today: dt.date = TODAY) -> Iterator[str]:
    """The app on a free loopback port with "today" pinned; yields its base URL."""
    clock = Clock(tz=Clock.from_settings().tz, pinned_today=today)
    app = create_app(engine=engine, clock=clock, check_schema=False)
    # Port 0: the server binds a free port itself (a port probed first could be taken before it bound).
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:  # uvicorn offers no event to wait on; it starts in well under a second
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def running(
    engine: Engine, tokens: dict[str, str], *, today: dt.date = TODAY, **facts: Any
) -> Iterator[Live]:
    """``serve`` wrapped as a ``Live``; the engine is disposed when the server stops."""
    try:
        with serve(engine, today=today) as url:
            yield Live(url=url, engine=engine, tokens=tokens, facts=facts)
    finally:
        engine.dispose()


def publish_a_breach(engine: Engine) -> str:
    """A pledge of 示范建设有限公司 (credit code tests.test_publication.CODE) left unfulfilled and published
    by the sweep of 2026-02-28; returns the pledgor's access code as its registration notice gave it."""
    from models.outbox import Notification
    from models.publication import sweep
    from models.workflow import Actor
    from tests.test_publication import CODE, new_pledge

    with Session(engine, expire_on_commit=False) as session:
        pledge_id = new_pledge(session, dt.date(2026, 2, 12), name="示范建设有限公司", code=CODE).id
        mail = session.exec(
            select(Notification).where(
                Notification.template == "pledge_registered", Notification.case_id == pledge_id
            )
        ).one()
    sweep(engine=engine, today=dt.date(2026, 2, 28), actor=Actor.system("e2e"))
    return str(mail.context["access_code"])


@dataclass
class Published:
    record_number: str
    pledge_number: str
    access_code: str


def publish_old_pledge(
    engine: Engine, *, name: str, credit_body17: str, authority: str = "ZJJ", today: dt.date = TODAY
) -> Published:
    """On the demo data: a pledge registered 150 days before ``today``, left unfulfilled, marked overdue and
    published by the sweep's own steps on its publication day (as models.demo does for its one record), so
    its record is past the 3-month minimum and both an objection and a credit repair can be lodged."""
    from models.breach import PublishedBreach
    from models.pledge import PledgeCreate, PledgorKind
    from models.pledges import register_pledge_with_code
    from models.publication import mark_overdue, publish_due
    from models.uscc import make_credit_code
    from models.workflow import Actor

    registered_on = today - dt.timedelta(days=150)
    deadline = registered_on + dt.timedelta(days=10)
    with Session(engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        handler = session.exec(select(User).where(User.name == "住建局经办人")).one()
        actor = Actor(
            name=handler.name, role=handler.role, id=handler.id, department_id=handler.department_id
        )
        pledge, code = register_pledge_with_code(
            session=session,
            data=PledgeCreate(
                pledgor_kind=PledgorKind.ENTERPRISE,
                pledgor_name=name,
                pledgor_credit_code=make_credit_code(credit_body17),
                pledgor_email="contact@demo-enterprise.cn",
                matter="城市园林绿化工程施工许可",
                obligation="安全生产许可证",
                deadline=deadline,
                authority_code=authority,
                legal_basis="《国务院办公厅关于全面推行证明事项和涉企经营许可事项告知承诺制的指导意见》",
            ),
            actor=actor,
            today=registered_on,
            calendar=calendar,
        )
        assert pledge.id is not None
        assert pledge.publication_day is not None
        system = Actor.system()
        day_after = deadline + dt.timedelta(days=1)
        mark_overdue(session=session, ids=[pledge.id], today=day_after, actor=system, calendar=calendar)
        publish_due(
            session=session, ids=[pledge.id], today=pledge.publication_day, actor=system, calendar=calendar
        )
        record = session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == pledge.id)).one()
        session.commit()
        return Published(record_number=record.number, pledge_number=pledge.number, access_code=code)


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """One headless Chromium per test module (each context a fresh profile). Not per session: Playwright's
    sync API keeps an event loop running on the main thread while it lives, so code under test that calls
    asyncio.run() there (notification delivery, flows) fails; an e2e module that needs it runs it in a
    thread of its own (see tests/test_admin_day_e2e.py)."""
    from playwright.sync_api import sync_playwright

    assert shutil.which("chromium"), "Chromium is missing: `make` installs Debian's chromium package"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Pages:
    """Opens pages in fresh browser contexts (own cookies), signed in as a role or anonymous."""

    def __init__(self, browser: Browser, live: Live) -> None:
        self.browser, self.live = browser, live
        self._contexts: list[BrowserContext] = []

    def __call__(self, who: str | None = None, *, size: str = "desktop", token: str | None = None) -> Page:
        context = self.browser.new_context(viewport=SIZES[size], locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(15_000)  # a missing element fails in seconds, not Playwright's 30
        self._contexts.append(context)
        page = context.new_page()
        if who is not None or token is not None:
            page.goto(f"{self.live.url}/login")
            page.fill("input[name=token]", token or self.live.tokens[str(who)])
            page.click("button:has-text('登录')")
            page.wait_for_load_state()
            assert "/login" not in page.url, f"{who} could not sign in: {page.locator('main').inner_text()}"
        return page

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture(name="pages")
def pages_fixture(browser: Browser, live: Live) -> Iterator[Pages]:
    """A page factory over the module's ``live`` server; its contexts close after the test."""
    pages = Pages(browser, live)
    yield pages
    pages.close()


def api(live: Live, who: str | None = None) -> httpx.Client:
    """An HTTP client for the server's JSON API, with ``who``'s bearer token: to set up what a test's pages
    then work on (a case two stages on) without clicking through the stages another test covers."""
    headers = {"Authorization": f"Bearer {live.tokens[who]}"} if who else {}
    return httpx.Client(base_url=f"{live.url}/api/v1", headers=headers, timeout=30)


def overflow_of(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def assert_fits(page: Page, name: str) -> None:
    overflow = overflow_of(page)
    if overflow > 1:
        widest = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                   || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')
                 .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)"""
        )
        raise AssertionError(f"{name}: {overflow}px wider than a {page.viewport_size} screen: {widest}")


def shoot(page: Page, name: str, *, both: bool = False) -> None:
    """Photograph the page at its size into tests/artifacts/<name>-<W>x<H>.png (``both``: at desktop and
    phone size, then back). At phone width nothing may overflow sideways."""
    size = page.viewport_size or DESKTOP
    for viewport in (DESKTOP, PHONE) if both else (size,):
        if viewport != page.viewport_size:
            page.set_viewport_size(viewport)
        label = f"{viewport['width']}x{viewport['height']}"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        if viewport["width"] <= PHONE["width"]:
            assert_fits(page, name)
    if page.viewport_size != size:
        page.set_viewport_size(size)


def act(page: Page, action: str, **fields: str) -> None:
    """On a case page: open the action's panel, fill its fields and submit (the page posts to ``act``
    like the API); asserts the page confirms it."""
    form = page.locator(f'form[action$="/act/{action}"]')
    details = page.locator(f'details:has(form[action$="/act/{action}"])')
    if details.count() and details.get_attribute("open") is None:
        details.locator("summary").click()
    for name, value in fields.items():
        control = form.locator(f'[name="{name}"]')
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "已完成操作" in page.locator(".alert.ok").inner_text(), page.locator("main").inner_text()
