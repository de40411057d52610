"""Every route in the OpenAPI schema × every role (and no login) against a table of expected outcomes.

A route that is not in ``RULES`` fails the test: a new endpoint needs an authorisation decision here.
The fixture makes one complaint led by department D01 and one pledge of authority D01, so ``handler``
(D01) sees them and ``handler2`` (D02) must not even learn they exist (404).

Outcomes: ``OK`` = allowed (any answer past authorisation: 2xx, or 409/422 from the business rules or
the empty body we send), ``SEEN`` = the case is visible and the lifecycle table decides the action (any
answer but 401/404; the lifecycle's role checks are tested exhaustively in test_lifecycle.py), else the
exact status. ``HIDDEN`` = 404, or 422 when the body schema refuses the request before any lookup
(so the answer is the same whether or not the case exists).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.test_complaints_api import BODY, act, register
from tests.test_pledges import body as pledge_body

API = "/api/v1"
WHO = ("anon", "intake", "handler", "handler2", "supervisor", "admin")
OK, SEEN, HIDDEN = "ok", "seen", "hidden"


def rule(anon: Any = 401, default: Any = OK, **per_role: Any) -> dict[str, Any]:
    return {"anon": anon, **{w: per_role.get(w, default) for w in WHO[1:]}}


PUBLIC = rule(anon=OK)
ANY_STAFF = rule()
INTAKE_OR_SUPERVISOR = rule(default=403, intake=OK, supervisor=OK)
STAFF_NOT_ADMIN = rule(admin=403)
CASE_OF_D01 = rule(handler2=404)  # readable by all staff who may see D01's case
ACT_ON_D01 = rule(default=SEEN, handler2=HIDDEN)
PLEDGE_STAFF = rule(admin=403, handler2=404)
PLEDGE_ACT = rule(admin=403, handler2=HIDDEN, default=SEEN)
DECIDERS = rule(default=403, handler=OK, handler2=OK, supervisor=OK)
ADMIN_ONLY = rule(default=403, admin=OK)
OVERSIGHT = rule(default=403, admin=OK, supervisor=OK)

COMPLAINT_ACTIONS = (
    "accept reject merge dispatch return_order sign_for verify_true verify_untrue order_rectification "
    "report_rectification accept_rectification send_back confirm_breach reply close redo await_complainant "
    "resume reopen request_extension approve_extension refuse_extension remind supervise escalate {action} "
    "record_refusal submit_explanation close_unsatisfied record_contact_attempt close_unreachable withdraw "
    "assist_opinion"
).split()

RULES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/health"): PUBLIC,
    ("POST", "/complaints"): INTAKE_OR_SUPERVISOR,
    # The 12345 platform's machine token only (tests/test_hotline_intake.py); every staff role is refused.
    ("POST", "/intake/work-orders"): rule(default=403),
    ("POST", "/intake/work-orders/{order_id}/follow-ups"): rule(default=403),
    ("GET", "/complaints"): ANY_STAFF,
    ("GET", "/complaints/export"): ANY_STAFF,  # rows filtered by visibility
    ("GET", "/public/breaches/export"): PUBLIC,
    ("GET", "/complaints/{complaint_id}"): CASE_OF_D01,
    ("GET", "/complaints/{complaint_id}/events"): CASE_OF_D01,
    ("GET", "/complaints/{complaint_id}/actions"): CASE_OF_D01,
    # A new tracking password for a complainant who lost theirs: the staff who register complaints.
    ("POST", "/complaints/{complaint_id}/tracking-password"): INTAKE_OR_SUPERVISOR,
    **{("POST", f"/complaints/{{complaint_id}}/actions/{a}"): ACT_ON_D01 for a in COMPLAINT_ACTIONS},
    # Rectification files: uploaded with the report as the JSON report is; read by staff who see the case.
    ("POST", "/complaints/{complaint_id}/actions/report_rectification/with-files"): ACT_ON_D01,
    ("GET", "/complaints/{complaint_id}/files"): CASE_OF_D01,
    ("GET", "/complaints/{complaint_id}/files/{file_id}"): rule(default=404),
    ("GET", "/breaches/{breach_id}/files/{file_id}"): rule(
        default=403, handler=404, handler2=404, supervisor=404
    ),
    ("POST", "/public/breaches/{number}/objection/with-files"): PUBLIC,
    ("POST", "/public/breaches/{number}/repair/with-files"): PUBLIC,
    ("POST", "/public/complaints"): PUBLIC,
    ("POST", "/public/complaints/track"): PUBLIC,
    # The complainant's own withdrawal, proven by the tracking password as tracking is.
    ("POST", "/public/complaints/{number}/withdrawal"): PUBLIC,
    ("GET", "/tasks"): ANY_STAFF,
    ("POST", "/pledges"): STAFF_NOT_ADMIN,
    ("GET", "/pledges"): STAFF_NOT_ADMIN,
    ("POST", "/pledges/import"): STAFF_NOT_ADMIN,
    ("GET", "/pledges/imports"): STAFF_NOT_ADMIN,  # the caller's department's imports only
    ("GET", "/pledges/imports/{import_id}"): rule(admin=403, default=404),
    ("GET", "/pledges/{pledge_id}"): PLEDGE_STAFF,
    ("GET", "/pledges/{pledge_id}/events"): PLEDGE_STAFF,
    ("GET", "/pledges/{pledge_id}/actions"): PLEDGE_STAFF,
    ("POST", "/pledges/{pledge_id}/actions/{action}"): PLEDGE_ACT,
    ("POST", "/pledges/{pledge_id}/evidence"): rule(admin=403, handler2=HIDDEN, default=SEEN),
    ("POST", "/pledges/{pledge_id}/access-code"): PLEDGE_ACT,
    ("GET", "/pledges/{pledge_id}/evidence"): rule(handler2=404),
    ("GET", "/pledges/{pledge_id}/evidence/{evidence_id}"): rule(default=404),
    ("GET", "/breaches"): DECIDERS,
    ("POST", "/breaches/{breach_id}/actions/{action}"): rule(
        default=403, handler=404, handler2=404, supervisor=404
    ),
    ("POST", "/public/pledges/{number}/evidence"): PUBLIC,
    ("POST", "/public/pledges/{number}/status"): PUBLIC,
    ("GET", "/public/breaches"): PUBLIC,
    ("GET", "/public/breaches/{number}"): rule(anon=404, default=404),
    ("GET", "/public/credit/{credit_code}"): PUBLIC,
    ("POST", "/public/breaches/{number}/objection"): PUBLIC,
    ("POST", "/public/breaches/{number}/repair"): PUBLIC,
    ("GET", "/departments/{code}/credit-record"): rule(intake=403, handler2=403),
    ("GET", "/public/government-breaches"): PUBLIC,
    # The credit office files a department's written objection or repair request, and drafts the 事实摘要.
    ("GET", "/complaints/{complaint_id}/breach-public-text"): rule(default=403, supervisor=OK),
    ("POST", "/government-breaches/{number}/objection"): rule(default=403, supervisor=OK),
    ("POST", "/government-breaches/{number}/repair"): rule(default=403, supervisor=OK),
    ("POST", "/government-breaches/{number}/objection/with-files"): rule(default=403, supervisor=OK),
    ("POST", "/government-breaches/{number}/repair/with-files"): rule(default=403, supervisor=OK),
    ("GET", "/admin/departments"): OVERSIGHT,
    ("POST", "/admin/departments"): ADMIN_ONLY,
    ("POST", "/admin/departments/{code}/retire"): ADMIN_ONLY,
    ("GET", "/admin/users"): ADMIN_ONLY,
    ("POST", "/admin/users"): ADMIN_ONLY,
    ("GET", "/admin/calendar/{year}"): ANY_STAFF,
    ("POST", "/admin/calendar"): ADMIN_ONLY,
    ("GET", "/admin/notifications"): OVERSIGHT,
    ("POST", "/admin/notifications/{notification_id}/retry"): rule(default=403, admin=404),
    ("GET", "/admin/mail-sink"): OVERSIGHT,
}


def routes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return sorted(
        (method.upper(), path.removeprefix(API))
        for path, ops in schema["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    )


@pytest.fixture
def world(client: TestClient, staff: Staff) -> dict[str, str]:
    complaint = register(client, staff)
    act(client, staff, "intake", complaint["id"], "accept")
    act(client, staff, "intake", complaint["id"], "dispatch", lead_department_code="D01")
    r = client.post(f"{API}/pledges", json=pledge_body(deadline="2026-04-30"), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    pledge = r.json()
    return {
        "complaint_id": str(complaint["id"]),
        "pledge_id": str(pledge["id"]),
        "action": "confirm",
        "evidence_id": "999999",
        "file_id": "999999",
        "breach_id": "999999",
        "number": str(pledge["number"]),
        "credit_code": "91440300708461136T",
        "code": "D01",
        "year": "2026",
        "order_id": "GD2026031600012",
        "notification_id": "999999",
        "import_id": "999999",
    }


def test_every_route_has_a_rule(client: TestClient) -> None:
    missing = [r for r in routes(client) if r not in RULES]
    assert not missing, f"routes without an authorisation rule in RULES: {missing}"
    stale = [r for r in RULES if r not in set(routes(client))]
    assert not stale, f"rules for routes that no longer exist: {stale}"


def _call(client: TestClient, staff: Staff, who: str, method: str, url: str) -> int:
    headers = {} if who == "anon" else staff.auth(who)
    if method == "GET":
        return client.get(url, headers=headers).status_code
    return client.request(method, url, json={}, headers=headers).status_code


def _matches(expected: Any, status: int) -> bool:
    if expected == OK:
        return status < 500 and status not in (401, 403, 404)
    if expected == HIDDEN:
        return status in (404, 422)
    if expected == SEEN:
        return status < 500 and status not in (401, 404)
    return bool(status == expected)


def test_every_route_times_every_role(client: TestClient, staff: Staff, world: dict[str, str]) -> None:
    wrong = []
    for method, path in routes(client):
        url = API + re.sub(r"\{(\w+)\}", lambda m: world[m[1]], path)
        for who in WHO:
            expected = RULES.get((method, path), {}).get(who, "no rule")
            status = _call(client, staff, who, method, url)
            if not _matches(expected, status):
                wrong.append(f"{method} {path} as {who}: expected {expected}, got {status}")
    assert not wrong, "\n".join(wrong)


def test_handlers_list_only_their_departments_cases(
    client: TestClient, staff: Staff, world: dict[str, str]
) -> None:
    other = register(client, staff, respondent_department_code="D02")
    act(client, staff, "intake", other["id"], "accept")
    act(client, staff, "intake", other["id"], "dispatch", lead_department_code="D02")
    r = client.post(
        f"{API}/pledges",
        json=pledge_body(authority_code="D02", deadline="2026-04-30"),
        headers=staff.auth("intake"),
    )
    assert r.status_code == 201, r.text

    def ids(who: str, path: str) -> set[int]:
        response = client.get(f"{API}{path}", headers=staff.auth(who))
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    d01, d02 = int(world["complaint_id"]), other["id"]
    assert ids("handler", "/complaints") == {d01}
    assert ids("handler2", "/complaints") == {d02}
    assert ids("supervisor", "/complaints") == {d01, d02}
    assert ids("handler", "/pledges") == {int(world["pledge_id"])}
    assert int(world["pledge_id"]) not in ids("handler2", "/pledges")
    assert len(ids("supervisor", "/pledges")) == 2
    # The body of a public record never carries the complainant's phone.
    assert BODY["complainant_phone"] not in client.get(f"{API}/public/breaches").text
