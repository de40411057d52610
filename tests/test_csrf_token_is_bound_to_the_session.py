"""The pages' CSRF token is a signed double-submit cookie bound to the sign-in cookie: someone who can plant
a cookie for the site (a sibling subdomain, plain HTTP) cannot forge a staff POST with a token of their own
making, of their own session, or of the signed-out browser (outside probe, CSRF hardening)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_COOKIE, CSRF_FIELD


def _post_with_planted(client: TestClient, token: str) -> int:
    """POST /logout (a staff action: it ends the user's sessions) with ``token`` as both cookie and field,
    as an attacker who can set the site's cookies would send it."""
    client.cookies.delete(CSRF_COOKIE)
    client.cookies.set(CSRF_COOKIE, token)
    response = client.post("/logout", data={CSRF_FIELD: token}, follow_redirects=False)
    # The refusal page sets a fresh token under the server's domain; drop the planted one beside it.
    client.cookies.delete(CSRF_COOKIE, domain="")
    if response.status_code == 403:
        assert "表单校验失败" in response.text
    return response.status_code


def test_a_token_minted_for_one_session_is_refused_on_another(client: TestClient, staff: Staff) -> None:
    sign_in(client, staff.intake)
    intakes_token = csrf_of(client, "/staff")
    victim = TestClient(client.app)
    sign_in(victim, staff.handler)

    assert _post_with_planted(victim, intakes_token) == 403
    # The victim's own token still works, so the refusal above is the binding, not the form.
    assert _post_with_planted(victim, csrf_of(victim, "/staff")) == 303


def test_a_planted_cookie_and_field_without_the_mac_are_refused(client: TestClient, staff: Staff) -> None:
    signed_out_token = csrf_of(client, "/login")  # valid, but for the signed-out browser
    sign_in(client, staff.intake)
    nonce = csrf_of(client, "/staff").partition(".")[0]

    assert _post_with_planted(client, "x" * 43) == 403
    assert _post_with_planted(client, f"{nonce}.{'0' * 64}") == 403
    assert _post_with_planted(client, signed_out_token) == 403


def test_signing_in_issues_a_fresh_token_and_the_old_one_stops_working(
    client: TestClient, staff: Staff
) -> None:
    before = csrf_of(client, "/login")
    sign_in(client, staff.intake)
    after = client.cookies.get(CSRF_COOKIE)

    assert after
    assert after != before
    # Several tabs: every page drawn in the session repeats the same token, a public page's too.
    assert csrf_of(client, "/staff") == after
    assert csrf_of(client, "/track") == after
    assert _post_with_planted(client, before) == 403


def test_an_admin_who_sets_their_own_password_can_submit_the_next_form_on_that_page(
    client: TestClient, staff: Staff
) -> None:
    """The new password starts a new session on the page that says so: its forms carry that session's
    token, not the old one (which would be refused on the first submit)."""
    sign_in(client, staff.admin)
    users = client.get("/staff/admin/users").text
    me = re.search(r'action="/staff/admin/users/(\d+)/password"', users)
    assert me is not None
    token = csrf_of(client, "/staff/admin/users")
    page = client.post(
        f"/staff/admin/users/{me.group(1)}/password",
        data={CSRF_FIELD: token, "password": "新的网页密码-2026-足够长"},
        follow_redirects=False,
    )
    assert page.status_code == 200, page.text
    field = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert field is not None
    assert field.group(1) == client.cookies.get(CSRF_COOKIE)  # the page's token is the new cookie's
    signed_out = client.post("/logout", data={CSRF_FIELD: field.group(1)}, follow_redirects=False)
    assert signed_out.status_code == 303
