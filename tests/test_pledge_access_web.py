"""The public pages share the API's limit on wrong access codes: guessing on a web form counts against the
pledge (and the address) as on the API, and a locked pledge is refused on every form, even with the right
code."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.breach import PublishedBreach
from models.lifecycle import BreachState
from models.pledge import Pledge
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import CSRF_FIELD, csrf_of, post_form


def test_wrong_codes_on_the_web_forms_lock_the_pledge_on_every_form(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    good = access_code(session, breach)
    objection = f"/register/{breach.number}/objection"
    limit = get_settings().tracking_max_failures_per_case
    token = csrf_of(client, "/pledges/evidence")
    for n in range(limit):
        if n % 2:
            wrong = post_form(
                client, objection, {"access_code": f"AAAA-BBBB-CC{n:02d}", "reason": "不服认定"}
            )
        else:
            wrong = client.post(
                "/pledges/evidence",
                data={CSRF_FIELD: token, "number": pledge.number, "access_code": "AAAA-BBBB-CCCC"},
                files={"file": ("a.pdf", b"%PDF-1.7 evidence")},
            )
        assert wrong.status_code == 403, wrong.text
    locked = post_form(client, objection, {"access_code": good, "reason": "不服认定"})
    assert locked.status_code == 429
    assert "该承诺办理码错误次数过多" in locked.text
    assert good not in locked.text
    # The API sees the same count.
    api = client.post(
        f"/api/v1/public/breaches/{breach.number}/objection", json={"access_code": good, "reason": "不服认定"}
    )
    assert api.status_code == 429
    session.expire_all()
    assert session.get(PublishedBreach, breach.id).state == BreachState.PUBLISHED  # type: ignore[union-attr]


def test_a_too_long_reissue_reason_says_how_long_it_may_be(client: TestClient, staff: Staff) -> None:
    from tests.test_pledges import body
    from tests.web_support import sign_in

    created = client.post(
        "/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake")
    ).json()
    sign_in(client, staff.handler)
    r = post_form(
        client,
        "/staff/pledges/access-code",
        {"number": created["number"], "reason": "遗" * 501},
        page="/staff/pledges/new",
    )
    assert r.status_code == 422
    assert "500 字以内" in r.text
    assert "遗" * 501 in r.text  # what was typed is kept for shortening


def test_responses_carrying_an_access_code_are_not_stored_by_browsers_or_proxies(
    client: TestClient, engine: Engine, staff: Staff
) -> None:
    from models.pledges.import_jobs import run_import
    from tests.test_pledges import CSV, body
    from tests.web_support import sign_in

    created = client.post("/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake"))
    assert created.headers["Cache-Control"] == "no-store"
    reissued = client.post(
        f"/api/v1/pledges/{created.json()['id']}/access-code", json={}, headers=staff.auth("intake")
    )
    assert reissued.status_code == 200
    assert reissued.headers["Cache-Control"] == "no-store"
    accepted = client.post(
        "/api/v1/pledges/import", files={"file": ("p.csv", CSV.encode())}, headers=staff.auth("supervisor")
    )
    run_import(engine=engine, import_id=accepted.json()["id"])  # what the import_pledges flow does
    imported = client.get(
        f"/api/v1/pledges/imports/{accepted.json()['id']}", headers=staff.auth("supervisor")
    )
    assert imported.json()["offline_codes"]
    assert imported.headers["Cache-Control"] == "no-store"
    sign_in(client, staff.handler)
    page = post_form(
        client, "/staff/pledges/access-code", {"number": created.json()["number"]}, page="/staff/pledges/new"
    )
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
