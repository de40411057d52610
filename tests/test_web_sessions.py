"""Page sessions end on the server, signed-in pages are never cached, and cookies are Secure over HTTPS
(security probe round 2, items 9 and 12)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.main import create_app
from models.accounts import authenticate
from models.clock import Clock
from models.lifecycle import Role
from tests.conftest import Staff
from tests.web_support import csrf_of, post_form, sign_in
from web.core import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE


def _signed_in_elsewhere(app: object, token: str) -> TestClient:
    """A second browser (another device) signed in as the same user."""
    other = TestClient(app)  # type: ignore[arg-type]
    sign_in(other, token)
    return other


def _to_sign_in(client: TestClient, path: str = "/staff") -> bool:
    response = client.get(path, follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_after_sign_out_the_old_cookie_and_the_other_devices_session_are_refused(
    client: TestClient, staff: Staff
) -> None:
    sign_in(client, staff.intake)
    old_cookie = client.cookies.get(SESSION_COOKIE)
    assert old_cookie
    other = _signed_in_elsewhere(client.app, staff.intake)
    assert client.get("/staff").status_code == 200
    assert other.get("/staff").status_code == 200

    signed_out = post_form(client, "/logout", {}, page="/staff")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/login"

    # The cookie as it was before signing out (a copy, a stolen one) no longer opens anything.
    client.cookies.set(SESSION_COOKIE, old_cookie)
    assert _to_sign_in(client)
    assert _to_sign_in(other)
    # Signing in again gives a session that works.
    client.cookies.clear()
    sign_in(client, staff.intake)
    assert client.get("/staff").status_code == 200


def test_sign_out_of_one_user_leaves_other_users_signed_in(client: TestClient, staff: Staff) -> None:
    other = _signed_in_elsewhere(client.app, staff.supervisor)
    sign_in(client, staff.intake)
    post_form(client, "/logout", {}, page="/staff")
    assert other.get("/staff/dashboard").status_code == 200


def test_deactivation_and_a_role_change_end_the_users_sessions_even_once_undone(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.handler)
    cookie = client.cookies.get(SESSION_COOKIE)
    user = authenticate(session=session, token=staff.handler)
    assert user is not None

    user.active = False
    session.commit()
    user.active = True  # given back: the cookie issued before still must not work
    session.commit()
    assert _to_sign_in(client)

    client.cookies.clear()
    sign_in(client, staff.handler)
    assert client.get("/staff").status_code == 200
    user.role = Role.INTAKE
    session.commit()
    assert _to_sign_in(client)
    assert cookie != client.cookies.get(SESSION_COOKIE)


def test_saving_an_unchanged_account_keeps_its_sessions(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.handler)
    user = authenticate(session=session, token=staff.handler)
    assert user is not None
    user.active = user.active
    user.role = user.role
    session.commit()
    assert client.get("/staff").status_code == 200


def test_an_admin_setting_a_password_ends_that_users_sessions(
    client: TestClient, staff: Staff, session: Session
) -> None:
    supervisor = _signed_in_elsewhere(client.app, staff.supervisor)
    target = authenticate(session=session, token=staff.supervisor)
    assert target is not None
    sign_in(client, staff.admin)
    answer = post_form(
        client,
        f"/staff/admin/users/{target.id}/password",
        {"password": "督办-new-long-password"},
        page="/staff/admin/users",
    )
    assert answer.status_code == 200
    assert _to_sign_in(supervisor, "/staff/dashboard")
    # The admin's own session is untouched by another user's new password.
    assert client.get("/staff/admin/users").status_code == 200


def test_an_admin_changing_their_own_password_stays_signed_in_on_this_browser_only(
    client: TestClient, staff: Staff, session: Session
) -> None:
    admin = authenticate(session=session, token=staff.admin)
    assert admin is not None
    other = _signed_in_elsewhere(client.app, staff.admin)
    sign_in(client, staff.admin)
    answer = post_form(
        client,
        f"/staff/admin/users/{admin.id}/password",
        {"password": "admin-new-long-password"},
        page="/staff/admin/users",
    )
    assert answer.status_code == 200
    assert client.get("/staff/admin/users").status_code == 200
    assert _to_sign_in(other, "/staff/admin/users")


def test_signed_in_pages_and_the_sign_in_page_are_not_stored_public_pages_may_be(
    client: TestClient, staff: Staff
) -> None:
    login = client.get("/login")
    assert login.headers["cache-control"] == "no-store"
    # The sign-in redirect of an anonymous visitor to a staff page, and a failed sign-in.
    assert client.get("/staff", follow_redirects=False).headers["cache-control"] == "no-store"
    assert post_form(client, "/login", {"token": "sx_wrong"}).headers["cache-control"] == "no-store"
    sign_in(client, staff.supervisor)
    for path in ("/staff", "/staff/dashboard", "/staff/scorecard", "/staff/admin/departments"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    # A page refused for the role is no-store too (it still names the signed-in user).
    assert client.get("/staff/admin/users").headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/register").headers


@pytest.fixture
def https_client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    """A browser that reached the app over HTTPS (as uvicorn reports a trusted proxy's X-Forwarded-Proto)."""
    with TestClient(create_app(engine=engine, clock=clock, check_schema=False), base_url="https://t") as c:
        yield c


def _set_cookie(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    [cookie] = [h for h in headers if h.startswith(f"{name}=")]
    return str(cookie)


def test_cookies_are_secure_over_https(https_client: TestClient, staff: Staff) -> None:
    page = https_client.get("/login")
    assert "secure" in _set_cookie(page, CSRF_COOKIE).lower()
    signed_in = post_form(https_client, "/login", {"token": staff.intake})
    assert signed_in.status_code == 303
    assert "secure" in _set_cookie(signed_in, SESSION_COOKIE).lower()


def test_cookies_over_plain_http_are_not_secure_so_a_local_server_still_works(
    client: TestClient, staff: Staff
) -> None:
    page = client.get("/login")
    assert "secure" not in _set_cookie(page, CSRF_COOKIE).lower()
    token = csrf_of(client)
    signed_in = client.post("/login", data={CSRF_FIELD: token, "token": staff.intake}, follow_redirects=False)
    assert "secure" not in _set_cookie(signed_in, SESSION_COOKIE).lower()
