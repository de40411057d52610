"""The admin's users page: deactivate, change the role, revoke the API token — each ends the account's
page sessions and is written to the audit log; intake staff's complaint form starts on the 12345 channel."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.lifecycle import Role
from models.org import User
from tests.conftest import Staff
from tests.web_support import post_form, sign_in
from web.core import SESSION_COOKIE

USERS = "/staff/admin/users"


def _user(session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).one()
    session.refresh(user)
    return user


def _other_device(client: TestClient, token: str) -> TestClient:
    other = TestClient(client.app)  # type: ignore[arg-type]
    sign_in(other, token)
    assert other.get("/staff").status_code == 200
    return other


def _signed_out(other: TestClient) -> bool:
    response = other.get("/staff", follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/login")


def test_admin_deactivates_and_reactivates_a_user_whose_sessions_end(
    client: TestClient, staff: Staff, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    target = _user(session, "受理员小王")
    other = _other_device(client, staff.intake)
    sign_in(client, staff.admin)
    with caplog.at_level(logging.INFO, logger="shouxin.audit.accounts"):
        done = post_form(client, f"{USERS}/{target.id}/active", {"active": "0"}, page=USERS)
    assert done.status_code == 200
    assert "已停用用户 受理员小王" in done.text
    assert not _user(session, "受理员小王").active
    assert _signed_out(other)
    assert client.get("/api/v1/complaints", headers=staff.auth("intake")).status_code == 401
    assert any(
        "deactivated" in r.getMessage() and "受理员小王" in r.getMessage() and "管理员" in r.getMessage()
        for r in caplog.records
    )

    again = post_form(client, f"{USERS}/{target.id}/active", {"active": "1"}, page=USERS)
    assert "已启用用户 受理员小王" in again.text
    assert _user(session, "受理员小王").active
    # The old cookie stays dead: a session never outlives the rights it was issued under.
    assert _signed_out(other)
    assert client.get("/api/v1/complaints", headers=staff.auth("intake")).status_code == 200


def test_an_admin_cannot_deactivate_or_demote_themselves_and_a_stray_post_changes_nothing(
    client: TestClient, staff: Staff, session: Session
) -> None:
    me = _user(session, "管理员")
    sign_in(client, staff.admin)
    refused = post_form(client, f"{USERS}/{me.id}/active", {"active": "0"}, page=USERS)
    assert refused.status_code == 422
    assert "不能停用自己的账号" in refused.text
    demote = post_form(client, f"{USERS}/{me.id}/role", {"role": "intake"}, page=USERS)
    assert demote.status_code == 422
    assert "不能取消自己的管理员角色" in demote.text
    target = _user(session, "住建经办人")
    assert post_form(client, f"{USERS}/{target.id}/active", {}, page=USERS).status_code == 422
    assert post_form(client, f"{USERS}/{target.id}/token", {}, page=USERS).status_code == 422
    assert _user(session, "住建经办人").active
    assert _user(session, "管理员").role == Role.ADMIN
    assert client.get("/api/v1/complaints", headers=staff.auth("handler")).status_code == 200


def test_admin_changes_a_role_and_a_handler_needs_a_department(
    client: TestClient, staff: Staff, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    target = _user(session, "受理员小王")
    other = _other_device(client, staff.intake)
    sign_in(client, staff.admin)
    no_dept = post_form(client, f"{USERS}/{target.id}/role", {"role": "handler"}, page=USERS)
    assert no_dept.status_code == 422
    assert "必须指定所属部门" in no_dept.text
    assert _user(session, "受理员小王").role == Role.INTAKE
    assert not _signed_out(other)

    with caplog.at_level(logging.INFO, logger="shouxin.audit.accounts"):
        done = post_form(
            client, f"{USERS}/{target.id}/role", {"role": "handler", "department_code": "D02"}, page=USERS
        )
    assert done.status_code == 200
    assert "已将 受理员小王 的角色改为 责任单位经办人" in done.text
    changed = _user(session, "受理员小王")
    assert changed.role == Role.HANDLER
    assert changed.department_id is not None
    assert _signed_out(other)
    assert any(
        "role changed" in r.getMessage() and "intake -> handler" in r.getMessage() for r in caplog.records
    )


def test_admin_revokes_a_token_the_old_one_is_refused_and_the_new_one_works(
    client: TestClient, staff: Staff, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    target = _user(session, "住建经办人")
    other = _other_device(client, staff.handler)
    sign_in(client, staff.admin)
    with caplog.at_level(logging.INFO, logger="shouxin.audit.accounts"):
        done = post_form(client, f"{USERS}/{target.id}/token", {"revoke": "1"}, page=USERS)
    assert done.status_code == 200
    token = re.search(r'id="reissued-token">([^<]+)<', done.text)
    assert token
    assert token.group(1) != staff.handler
    assert _signed_out(other)
    assert client.get("/api/v1/complaints", headers=staff.auth("handler")).status_code == 401
    fresh = {"Authorization": f"Bearer {token.group(1)}"}
    assert client.get("/api/v1/complaints", headers=fresh).status_code == 200
    assert any("token revoked" in r.getMessage() and "住建经办人" in r.getMessage() for r in caplog.records)
    # The admin page never shows the token again.
    assert token.group(1) not in client.get(USERS).text


def test_an_admin_revoking_their_own_token_stays_signed_in_on_this_page(
    client: TestClient, staff: Staff, session: Session
) -> None:
    me = _user(session, "管理员")
    sign_in(client, staff.admin)
    before = client.cookies.get(SESSION_COOKIE)
    done = post_form(client, f"{USERS}/{me.id}/token", {"revoke": "1"}, page=USERS)
    assert done.status_code == 200
    assert client.cookies.get(SESSION_COOKIE) != before
    assert client.get(USERS).status_code == 200


def test_the_complaint_form_starts_on_12345_for_intake_staff_and_on_the_window_for_others(
    client: TestClient, staff: Staff
) -> None:
    sign_in(client, staff.intake)
    page = client.get("/staff/complaints/new").text
    assert re.search(r'<option value="hotline"[^>]*selected', page)
    client.cookies.clear()
    sign_in(client, staff.supervisor)
    page = client.get("/staff/complaints/new").text
    assert re.search(r'<option value="window"[^>]*selected', page)
