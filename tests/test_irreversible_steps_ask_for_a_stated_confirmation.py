"""The pages' irreversible steps run only with a ticked confirmation whose label says concretely what
follows: a false-pledge finding (a 严重 record published on the register and sent to the credit platform
until its end date, the pledgor told), a department's retirement (no undo), an account's deactivation
and a token's revocation. Without the tick the form is refused at the checkbox, nothing is done and what
was typed stays; the buttons name the step and, repeated on a list, whose it is."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.breach import PublishedBreach, Severity
from models.breach_record import publication_end
from models.org import Department, User
from models.pledge import Pledge
from tests.conftest import TODAY, Staff
from tests.test_staff_pledge_pages import pledge
from tests.web_support import post_form, sign_in

USERS = "/staff/admin/users"
DEPARTMENTS = "/staff/admin/departments"
REASON = "经现场核查，所附施工图审查合格书系伪造"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def form_of(html: str, action: str) -> str:
    """The form posting to ``action`` (its markup up to </form>)."""
    found = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', html, re.S)
    assert found, action
    return found.group(0)


def _pledge_state(session: Session, pledge_id: int) -> tuple[str, int]:
    session.expire_all()
    found = session.get(Pledge, pledge_id)
    assert found is not None
    return str(found.state), found.version


def test_a_false_pledge_finding_states_the_record_it_publishes_and_needs_the_tick(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = pledge(client, staff)
    sign_in(client, staff.handler)
    page = f"/staff/pledges/{created['id']}"
    action = f"{page}/act/confirm_false"
    form = form_of(client.get(page).text, action)
    end = publication_end(Severity.SERIOUS, TODAY).isoformat()
    label = text_of(form)
    for told in ("严重", "失信记录", "失信信息公示", "信用平台", f"至 {end}", "承诺人"):
        assert told in label, (told, label)
    assert re.search(r'<input type="checkbox" name="confirmed" value="yes" required', form)
    assert re.search(r"<button[^>]*>\s*认定虚假承诺并公示失信记录\s*</button>", form), form

    state, version = _pledge_state(session, created["id"])
    refused = post_form(client, action, {"expected_version": str(version), "reason": REASON}, page=page)
    assert refused.status_code == 422
    again = form_of(refused.text, action)
    assert REASON in again  # the typed reason is kept
    assert re.search(r'class="field-error" role="alert">[^<]*勾选', again), again
    assert _pledge_state(session, created["id"]) == (state, version)
    assert session.exec(select(PublishedBreach)).all() == []

    done = post_form(
        client, action, {"expected_version": str(version), "reason": REASON, "confirmed": "yes"}, page=page
    )
    assert done.status_code == 303, done.text
    record = session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == created["id"])).one()
    assert record.publication_end.isoformat() == end


def test_retiring_a_department_says_it_cannot_be_undone_and_needs_the_tick(
    client: TestClient, session: Session, staff: Staff
) -> None:
    sign_in(client, staff.admin)
    action = f"{DEPARTMENTS}/D02/retire"
    form = form_of(client.get(DEPARTMENTS).text, action)
    label = text_of(form)
    assert "市财政局" in label
    assert "不能撤销" in label
    assert "移交" in label
    assert re.search(r'<input type="checkbox" name="confirmed" value="yes" required', form)
    button = (
        '<button type="submit" aria-label="撤并部门并移交未办结工作（D02 市财政局）">撤并部门并移交未办结工作'
    )
    assert button in form, form

    typed = {"successor_code": "D00", "reason": "根据机构改革方案并入发改委"}
    refused = post_form(client, action, typed, page=DEPARTMENTS)
    assert refused.status_code == 422
    again = form_of(refused.text, action)
    assert "根据机构改革方案并入发改委" in again
    assert re.search(r'<option value="D00" selected>', again)
    assert re.search(r'class="field-error" role="alert">[^<]*勾选', again), again
    session.expire_all()
    assert session.exec(select(Department).where(Department.code == "D02")).one().active

    done = post_form(client, action, {**typed, "confirmed": "yes"}, page=DEPARTMENTS)
    assert done.status_code == 200, done.text
    session.expire_all()
    assert not session.exec(select(Department).where(Department.code == "D02")).one().active


def _user(session: Session, name: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.name == name)).one()


def test_deactivating_and_revoking_say_what_follows_and_need_the_tick(
    client: TestClient, session: Session, staff: Staff
) -> None:
    sign_in(client, staff.admin)
    target = _user(session, "住建经办人")
    html = client.get(USERS).text
    deactivate = form_of(html, f"{USERS}/{target.id}/active")
    assert re.search(r'<input type="checkbox" name="active" value="0" required', deactivate)
    assert "确认停用住建经办人" in text_of(deactivate)
    assert "不能登录" in text_of(deactivate)
    revoke = form_of(html, f"{USERS}/{target.id}/token")
    assert re.search(r'<input type="checkbox" name="revoke" value="1" required', revoke)
    assert "确认吊销住建经办人的访问令牌" in text_of(revoke)
    assert "旧令牌即刻失效" in text_of(revoke)

    refused = post_form(client, f"{USERS}/{target.id}/token", {}, page=USERS)
    assert refused.status_code == 422
    assert re.search(
        r'class="field-error" role="alert">[^<]*勾选', form_of(refused.text, f"{USERS}/{target.id}/token")
    )
    assert client.get("/api/v1/complaints", headers=staff.auth("handler")).status_code == 200
    refused = post_form(client, f"{USERS}/{target.id}/active", {}, page=USERS)
    assert refused.status_code == 422
    assert re.search(
        r'class="field-error" role="alert">[^<]*勾选', form_of(refused.text, f"{USERS}/{target.id}/active")
    )
    assert _user(session, "住建经办人").active

    done = post_form(client, f"{USERS}/{target.id}/active", {"active": "0"}, page=USERS)
    assert "已停用用户 住建经办人" in done.text
    # Reactivating takes nothing away: one click, the button still says whose account it is.
    reactivate = form_of(done.text, f"{USERS}/{target.id}/active")
    assert 'name="active" value="1"' in reactivate
    assert re.search(
        r'<button type="submit" aria-label="启用账号（住建经办人）">启用账号</button>', reactivate
    )


def test_every_repeated_button_names_whose_it_is(client: TestClient, session: Session, staff: Staff) -> None:
    sign_in(client, staff.admin)
    html = client.get(USERS).text
    for user in session.exec(select(User)).all():
        forms = [f"{USERS}/{user.id}/{what}" for what in ("password", "role", "active", "token")]
        for action in forms:
            names = re.findall(r'<button type="submit" aria-label="([^"]+)">', form_of(html, action))
            assert len(names) == 1, (action, names)
            assert user.name in names[0], (action, names)
    html = client.get(DEPARTMENTS).text
    for department in session.exec(select(Department)).all():
        names = re.findall(
            r'<button type="submit" aria-label="([^"]+)">',
            form_of(html, f"{DEPARTMENTS}/{department.code}/retire"),
        )
        assert len(names) == 1, names
        assert department.name in names[0], names
