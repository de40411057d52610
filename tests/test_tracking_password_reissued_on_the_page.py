"""A complainant who lost the tracking password is helped on the staff complaint page: intake staff and
supervisors re-issue it there (the same service as the API), the new one is shown once and opens /track,
the old one stops working; handlers and administrators neither see the form nor may post it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.complaint import Complaint
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.web_support import csrf_of, post_form, sign_in
from web.core import CSRF_FIELD

FORM = 'id="reissue-password"'
_SHOWN = re.compile(r'<div class="password" id="password">([^<]+)</div>')


def _url(cid: int) -> str:
    return f"/staff/complaints/{cid}/tracking-password"


def _stored(session: Session, cid: int) -> str:
    session.expire_all()
    complaint = session.get(Complaint, cid)
    assert complaint is not None
    return complaint.tracking_password_hash


def _reissues(session: Session, cid: int) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "reissue_tracking_password")
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))))


def _tracks(client: TestClient, number: str, password: str) -> bool:
    page = post_form(client, "/track", {"number": number, "password": password})
    return bool(page.status_code == 200 and "查询密码不正确" not in page.text and number in page.text)


@pytest.mark.parametrize("who", ["intake", "supervisor"])
def test_intake_and_supervisors_reissue_on_the_page_and_only_the_new_password_opens_track(
    client: TestClient, session: Session, staff: Staff, who: str
) -> None:
    created = register(client, staff)
    cid, number = created["id"], created["number"]
    sign_in(client, getattr(staff, who))
    page = f"/staff/complaints/{cid}"
    assert FORM in client.get(page).text

    response = post_form(client, _url(cid), {"reason": "投诉人来电称遗失查询密码"}, page=page)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    match = _SHOWN.search(response.text)
    assert match, response.text
    fresh = match.group(1)
    assert fresh != created["tracking_password"]
    assert "原密码已作废" in response.text
    assert "不会通过邮件或短信发送" in response.text
    # Shown once: the page drawn again carries no password.
    assert fresh not in client.get(page).text

    client.cookies.clear()
    assert _tracks(client, number, fresh)
    assert not _tracks(client, number, created["tracking_password"])
    [event] = _reissues(session, cid)
    assert (event.note, event.actor_role) == ("投诉人来电称遗失查询密码", who)
    assert fresh not in str(event.data) + str(event.note)


@pytest.mark.parametrize("who", ["handler", "admin"])
def test_handlers_and_admins_see_no_form_and_are_refused(
    client: TestClient, session: Session, staff: Staff, who: str
) -> None:
    created = register(client, staff)
    cid = created["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")  # the handler's case
    before = _stored(session, cid)
    sign_in(client, getattr(staff, who))
    page = f"/staff/complaints/{cid}"
    shown = client.get(page)
    assert shown.status_code == 200
    assert FORM not in shown.text

    response = post_form(client, _url(cid), {"reason": "试图重新生成"}, page=page)

    assert response.status_code == 403
    assert "无权访问" in response.text
    assert _stored(session, cid) == before
    assert _reissues(session, cid) == []


def test_a_reissue_without_the_forms_csrf_field_is_refused_and_the_old_password_keeps_working(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = register(client, staff)
    cid = created["id"]
    before = _stored(session, cid)
    sign_in(client, staff.intake)
    csrf_of(client, f"/staff/complaints/{cid}")  # the browser has its CSRF cookie

    forged = client.post(_url(cid), data={CSRF_FIELD: "from-another-site", "reason": "x"})

    assert forged.status_code == 403
    assert "表单已过期" in forged.text
    assert _stored(session, cid) == before
    assert _reissues(session, cid) == []
    client.cookies.clear()
    assert _tracks(client, created["number"], created["tracking_password"])


def test_a_refused_reissue_redraws_the_page_with_the_reason_and_keeps_the_old_password(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = register(client, staff)
    cid = created["id"]
    before = _stored(session, cid)
    sign_in(client, staff.intake)
    page = f"/staff/complaints/{cid}"

    response = post_form(client, _url(cid), {"reason": "长" * 501}, page=page)

    assert response.status_code == 422, response.text
    assert "理由过长" in response.text
    assert _SHOWN.search(response.text) is None
    assert re.search(r'id="reissue-password"\s+open', response.text)
    assert _stored(session, cid) == before
