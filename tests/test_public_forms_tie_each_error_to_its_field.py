"""The public objection, repair and status forms are usable with a screen reader and a keyboard: required
fields are marked as such, a refused form names each missing field beside it (aria-invalid,
aria-describedby) and in a summary that takes the focus, the access code field says it must be typed
again, and every page starts with a link that skips the navigation. A government record's page names as
its 认定部门 the department the API and the exports name, from the stored record."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.breach import PublishedBreach
from tests.conftest import Staff
from tests.test_complaints_api import set_today
from tests.test_government_credit import confirmed
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form

REENTER = "为安全起见，办理码需重新填写"


def _tag(page: str, element_id: str) -> str:
    found = re.search(rf'<(?:input|textarea)[^>]*id="{element_id}"[^>]*>', page)
    assert found, element_id
    return found.group(0)


def test_a_refused_objection_names_the_missing_field_beside_it(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    blank = client.get(f"/register/{breach.number}/objection").text
    for field in ("f-access_code", "f-reason"):
        assert 'required aria-required="true"' in _tag(blank, field)
    assert "aria-invalid" not in blank
    assert REENTER not in blank
    refused = post_form(
        client,
        f"/register/{breach.number}/objection",
        {"access_code": access_code(session, breach), "reason": ""},
    )
    assert refused.status_code == 422
    page = refused.text
    reason = _tag(page, "f-reason")
    assert 'aria-invalid="true"' in reason
    assert 'aria-describedby="f-reason-error"' in reason
    assert '<span class="field-error" id="f-reason-error">请填写异议理由</span>' in page
    assert "f-access_code-reentry" in _tag(page, "f-access_code")
    assert f'id="f-access_code-reentry">{REENTER}</span>' in page
    summary = re.search(
        r'<div class="alert error" role="alert" id="form-errors" tabindex="-1" autofocus>', page
    )
    assert summary, "the summary takes the focus"
    assert '<a href="#f-reason">异议理由：请填写异议理由</a>' in page


def test_the_repair_and_status_forms_mark_required_fields_and_the_code_to_type_again(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    set_today(client, breach.repair_earliest)  # before it the page offers no form (it says when instead)
    refused = post_form(
        client,
        f"/register/{breach.number}/repair",
        {"access_code": "", "statement": "已补交材料", "repair_pledge": ""},
    )
    assert refused.status_code == 422
    page = refused.text
    assert 'aria-invalid="true"' in _tag(page, "f-repair_pledge")
    assert "aria-invalid" not in _tag(page, "f-statement")
    assert "已补交材料" in page
    assert REENTER in page
    status = post_form(client, "/pledges/status", {"number": "", "access_code": ""})
    assert status.status_code == 422
    assert 'aria-invalid="true"' in _tag(status.text, "f-number")
    assert 'required aria-required="true"' in _tag(status.text, "f-access_code")
    assert REENTER in status.text


def test_every_page_starts_with_a_skip_link_to_its_content(client: TestClient) -> None:
    page = client.get("/register").text
    body = page[page.index("<body>") :]
    assert body.index('<a class="skip-link" href="#main">') < body.index('<nav class="nav"')
    assert '<main class="wrap" id="main" tabindex="-1">' in page


def test_a_government_records_page_names_the_stored_deciding_department(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    record = session.exec(select(PublishedBreach)).one()
    api = client.get(f"/api/v1/public/breaches/{record.number}").json()
    page = client.get(f"/register/{record.number}").text
    assert f'<dt>认定部门</dt><dd id="decided-by">{api["department_name"]}</dd>' in page
    assert api["department_name"] == "市发展和改革委员会"
