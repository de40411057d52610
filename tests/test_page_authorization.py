"""Every server-rendered page (GET and POST) × every role (and no login) against a table of expected outcomes.

The page twin of test_authorization.py: the routes are enumerated from the app itself (everything not in
the OpenAPI schema), so a new page without a row in ``RULES`` fails, and so does a row for a page that is
gone. The world is the same as there: one complaint led by D01, one pledge of D01, and here also one
published breach, so ``handler2`` (D02) must get "not found" on D01's case page and its actions.

Outcomes: ``LOGIN`` = a redirect to the sign-in page that comes back to the page afterwards; ``OK`` =
allowed (any answer past authorisation: 2xx, a redirect elsewhere, or 401/409/422 from the form's own
checks on the empty form we send); ``SEEN`` = the case is visible and the lifecycle decides the action
(any answer but the sign-in redirect and 404; the lifecycle's role checks are tested in
test_lifecycle.py); 403 = the "无权访问" page (not the CSRF page: every POST carries a valid CSRF token,
so what is asserted is authorisation); 404 = not found.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.org import User
from tests.conftest import Staff
from tests.test_authorization import WHO, world  # noqa: F401  (the fixture, shared with the API table)
from tests.test_pledges import CSV
from tests.test_publication import CODE
from tests.test_register import publish
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE

LOGIN, OK, SEEN = "login", "ok", "seen"
# FastAPI's own documentation routes are not pages of the product; everything else must be in RULES.
NOT_PAGES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/docs-assets/{name}"}


def rule(anon: Any = LOGIN, default: Any = OK, **per_role: Any) -> dict[str, Any]:
    return {"anon": anon, **{w: per_role.get(w, default) for w in WHO[1:]}}


PUBLIC = rule(anon=OK)
STAFF = rule()
REGISTRARS = rule(default=403, intake=OK, supervisor=OK)
PLEDGE_STAFF = rule(admin=403)
OVERSIGHT = rule(default=403, supervisor=OK, admin=OK)
ADMIN_ONLY = rule(default=403, admin=OK)

RULES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/static/site.css"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): rule(anon=401, default=401),  # the empty form is refused for everyone alike
    ("POST", "/logout"): PUBLIC,
    ("GET", "/staff"): STAFF,
    ("GET", "/staff/complaints/new"): REGISTRARS,
    ("POST", "/staff/complaints/new"): REGISTRARS,
    ("GET", "/staff/pledges/new"): PLEDGE_STAFF,
    ("POST", "/staff/pledges/new"): PLEDGE_STAFF,
    ("POST", "/staff/pledges/access-code"): PLEDGE_STAFF,
    ("GET", "/staff/pledges/import"): PLEDGE_STAFF,
    ("POST", "/staff/pledges/import"): PLEDGE_STAFF,
    # The world's import was uploaded by window staff (no department): D01's and D02's handlers do not see it.
    ("GET", "/staff/pledges/import/{import_id}"): rule(handler=404, handler2=404, admin=403),
    ("POST", "/staff/pledges/import/{import_id}/codes"): rule(handler=404, handler2=404, admin=403),
    ("GET", "/staff/pledges"): PLEDGE_STAFF,
    ("GET", "/staff/pledges/{pledge_id}"): rule(admin=403, handler2=404),
    ("POST", "/staff/pledges/{pledge_id}/act/{action}"): rule(default=SEEN, admin=403, handler2=404),
    ("GET", "/staff/pledges/{pledge_id}/evidence/{evidence_id}"): rule(default=404, admin=403),
    ("GET", "/staff/pledges/{pledge_id}/notice"): rule(admin=403, handler2=404),
    ("GET", "/staff/pledges/{pledge_id}/notice.pdf"): rule(admin=403, handler2=404),
    # The notice with its access code: the code is checked only after the role and the department.
    ("POST", "/staff/pledges/{pledge_id}/notice"): rule(default=SEEN, admin=403, handler2=404),
    ("POST", "/staff/pledges/{pledge_id}/notice.pdf"): rule(default=SEEN, admin=403, handler2=404),
    ("POST", "/staff/pledges/{pledge_id}/evidence"): rule(default=SEEN, admin=403, handler2=404),
    # The published breach below is D01's: D02's handler gets "not found", intake and admin never decide.
    ("GET", "/staff/breaches"): rule(default=403, handler=OK, handler2=OK, supervisor=OK),
    ("GET", "/staff/breaches/{breach_id}"): rule(default=403, handler=OK, handler2=404, supervisor=OK),
    ("POST", "/staff/breaches/{breach_id}/act/{action}"): rule(
        default=403, handler=SEEN, handler2=404, supervisor=SEEN
    ),
    # The credit office files a department's written application on a record from a complaint; the breach
    # here is a pledge's, which takes none: "not found" as a government record.
    ("POST", "/staff/breaches/{breach_id}/file/{kind}"): rule(default=403, supervisor=404),
    ("GET", "/staff/complaints/{complaint_id}"): rule(handler2=404),
    ("GET", "/staff/complaints/{complaint_id}/files/{file_id}"): rule(default=404),
    ("GET", "/staff/breaches/{breach_id}/files/{file_id}"): rule(
        default=403, handler=404, handler2=404, supervisor=404
    ),
    ("POST", "/staff/complaints/{complaint_id}/act/{action}"): rule(default=SEEN, handler2=404),
    ("POST", "/staff/complaints/{complaint_id}/tracking-password"): REGISTRARS,
    ("GET", "/staff/dashboard"): OVERSIGHT,
    ("GET", "/staff/dashboard/awaiting"): OVERSIGHT,
    ("GET", "/staff/scorecard"): OVERSIGHT,
    ("GET", "/staff/charts/{name}.svg"): OVERSIGHT,
    ("GET", "/staff/complaints"): rule(default=403, intake=OK, supervisor=OK, admin=OK),
    ("GET", "/staff/scorecard.xlsx"): OVERSIGHT,
    ("GET", "/staff/admin/platform"): ADMIN_ONLY,
    ("POST", "/staff/admin/platform/{document_id}/retry"): rule(default=403, admin=404),
    ("POST", "/staff/admin/platform/{document_id}/handled"): rule(default=403, admin=404),
    ("GET", "/staff/admin/hotline"): ADMIN_ONLY,
    ("POST", "/staff/admin/hotline/retry-dead"): ADMIN_ONLY,
    ("POST", "/staff/admin/hotline/{message_id}/retry"): rule(default=403, admin=404),
    ("POST", "/staff/admin/hotline/{message_id}/handled"): rule(default=403, admin=404),
    ("GET", "/register"): PUBLIC,
    ("GET", "/register/{number}"): PUBLIC,
    ("GET", "/register/{number}/objection"): PUBLIC,
    ("POST", "/register/{number}/objection"): PUBLIC,
    ("GET", "/register/{number}/repair"): PUBLIC,
    ("POST", "/register/{number}/repair"): PUBLIC,
    ("GET", "/complaints/new"): PUBLIC,
    ("POST", "/complaints/new"): PUBLIC,
    ("GET", "/pledges/evidence"): PUBLIC,
    ("POST", "/pledges/evidence"): PUBLIC,
    ("GET", "/pledges/status"): PUBLIC,
    ("POST", "/pledges/status"): PUBLIC,
    ("GET", "/track"): PUBLIC,
    ("POST", "/track"): PUBLIC,
    ("POST", "/track/withdrawal"): PUBLIC,
    ("GET", "/staff/admin/departments"): OVERSIGHT,
    ("POST", "/staff/admin/departments"): ADMIN_ONLY,
    ("POST", "/staff/admin/departments/{code}/retire"): ADMIN_ONLY,
    ("GET", "/staff/admin/users"): ADMIN_ONLY,
    ("POST", "/staff/admin/users"): ADMIN_ONLY,
    ("POST", "/staff/admin/users/{user_id}/password"): ADMIN_ONLY,
    ("POST", "/staff/admin/users/{user_id}/active"): ADMIN_ONLY,
    ("POST", "/staff/admin/users/{user_id}/role"): ADMIN_ONLY,
    ("POST", "/staff/admin/users/{user_id}/token"): ADMIN_ONLY,
    ("GET", "/staff/admin/calendar"): OVERSIGHT,
    ("POST", "/staff/admin/calendar"): ADMIN_ONLY,
    ("GET", "/staff/admin/notifications"): OVERSIGHT,
    ("POST", "/staff/admin/notifications/{notification_id}/retry"): rule(default=403, admin=404),
    ("GET", "/staff/admin/mail"): OVERSIGHT,
}


def pages(client: TestClient) -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if route.include_in_schema or route.path in NOT_PAGES:
            continue
        found |= {(m, str(route.path)) for m in route.methods or () if m != "HEAD"}
    return sorted(found)


def test_every_page_has_a_rule(client: TestClient) -> None:
    found = pages(client)
    # The enumeration itself works: a public page and a staff form are both found.
    assert ("GET", "/register") in found
    assert ("POST", "/staff/complaints/new") in found
    missing = [p for p in found if p not in RULES]
    assert not missing, f"pages without an authorisation rule in RULES: {missing}"
    stale = [p for p in RULES if p not in set(found)]
    assert not stale, f"rules for pages that no longer exist: {stale}"


def _matches(expected: Any, response: Response) -> bool:
    status = response.status_code
    to_login = status in (302, 303) and response.headers["location"].startswith("/login?next=")
    if expected == LOGIN:
        return to_login
    if to_login or status >= 500:
        return False
    if expected == OK:
        return status not in (403, 404)
    if expected == SEEN:
        return status != 404
    if expected == 403:
        return status == 403 and "无权访问" in response.text
    return bool(status == expected)


def test_every_page_times_every_role(
    client: TestClient,
    staff: Staff,
    world: dict[str, str],  # noqa: F811
    engine: Engine,
    session: Session,
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    other_user = session.exec(select(User).where(User.name == "发改经办人")).one()
    uploaded = client.post(
        "/api/v1/pledges/import", files={"file": ("承诺.csv", CSV.encode())}, headers=staff.auth("intake")
    )
    assert uploaded.status_code == 202, uploaded.text
    values = {
        **world,
        "import_id": str(uploaded.json()["id"]),
        "action": "sign_for",
        "kind": "objection",
        "name": "weekly",
        "number": breach.number,
        "breach_id": str(breach.id),
        "user_id": str(other_user.id),
        "document_id": "no-such-document",
        "message_id": "999999",
        "file_id": "999999",
    }
    csrf = csrf_of(client)
    sessions: dict[str, str | None] = {"anon": None}
    tokens = {"anon": csrf}  # a token is bound to its session: each signed-in user has their own
    for who in WHO[1:]:
        client.cookies.clear()
        sign_in(client, getattr(staff, who))
        sessions[who] = client.cookies.get(SESSION_COOKIE)
        tokens[who] = str(client.cookies.get(CSRF_COOKIE))
        assert sessions[who], f"no session cookie for {who}"

    wrong = []
    # Signing out ends the user's sessions on the server (every saved cookie with them), so it goes last.
    for method, path in sorted(pages(client), key=lambda page: page == ("POST", "/logout")):
        url = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)
        for who in WHO:
            # Set afresh for every request: POST /logout clears the session cookie in the client's jar.
            client.cookies.clear()
            client.cookies.set(CSRF_COOKIE, tokens[who])
            if sessions[who]:
                client.cookies.set(SESSION_COOKIE, str(sessions[who]))
            if method == "GET":
                response = client.get(url, follow_redirects=False)
            else:
                response = client.post(url, data={CSRF_FIELD: tokens[who]}, follow_redirects=False)
            expected = RULES.get((method, path), {}).get(who, "no rule")
            if not _matches(expected, response):
                wrong.append(f"{method} {path} as {who}: expected {expected}, got {response.status_code}")
    assert not wrong, "\n".join(wrong)
