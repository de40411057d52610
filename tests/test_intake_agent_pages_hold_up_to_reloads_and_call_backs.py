"""A 12345 intake agent's day on the staff pages: reloading the "投诉已登记" page or a re-issued password
registers or issues nothing a second time (the form's idempotency key; the password is shown only the
first time), a caller who calls back is found by phone or e-mail and, registered again, is shown their open
cases, and a 不予受理 case shows the route the caller was given."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

import models.tracking_password
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaint import Complaint, ComplaintCreate
from models.complaints import registration
from models.complaints.registration import register_complaint_once
from models.lifecycle import Role
from models.org import User
from models.tracking_password import reissue_tracking_password_once
from models.workflow import Actor
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import API, BODY, act, register
from tests.web_support import post_form, sign_in
from web.core import CSRF_FIELD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
_NUMBER = re.compile(r'<strong id="number">([^<]+)</strong>')
_PASSWORD = re.compile(r'id="password">([^<]+)<')

FORM = {
    "channel": "hotline",
    "category": "sme_arrears",
    "complainant_name": "张建国",
    "complainant_phone": "13912345678",
    "complainant_email": "Zhang.JG@163.com",
    "summary": "工程款逾期未付，多次催要无果",
}


def _actor(session: Session, role: Role) -> Actor:
    user = session.exec(select(User).where(User.role == role)).first()
    assert user is not None
    return Actor(name=user.name, role=role, id=user.id)


def _drawn_form(client: TestClient, path: str) -> dict[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    csrf, key = _CSRF.search(page.text), _KEY.search(page.text)
    assert csrf, page.text
    assert key, page.text
    return {CSRF_FIELD: csrf.group(1), "idempotency_key": key.group(1)}


def _complaints(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(Complaint)).one()


def _case_id(session: Session) -> int:
    session.expire_all()
    [cid] = session.exec(select(Complaint.id)).all()
    assert cid is not None
    return cid


def _reissues(session: Session, cid: int) -> int:
    session.expire_all()
    stmt = select(func.count()).where(
        CaseEvent.case_id == cid, CaseEvent.event == "reissue_tracking_password"
    )
    return session.exec(stmt).one()


def _tracks(client: TestClient, number: str, password: str) -> bool:
    page = post_form(client, "/track", {"number": number, "password": password})
    return page.status_code == 200 and "查询密码不正确" not in page.text


def test_reposting_the_registration_form_shows_the_case_without_registering_it_again(
    client: TestClient, session: Session, staff: Staff
) -> None:
    sign_in(client, staff.intake)
    form = {**_drawn_form(client, "/staff/complaints/new"), **FORM}

    first = client.post("/staff/complaints/new", data=form)
    again = client.post("/staff/complaints/new", data=form)  # the browser's reload of the result

    assert first.status_code == again.status_code == 200
    number, repeated = _NUMBER.search(first.text), _NUMBER.search(again.text)
    assert number
    assert _PASSWORD.search(first.text)
    assert repeated
    assert repeated.group(1) == number.group(1)
    assert _PASSWORD.search(again.text) is None
    assert "查询密码只在首次提交时显示一次" in again.text
    assert f'action="/staff/complaints/{_case_id(session)}/tracking-password"' in again.text
    assert again.headers["cache-control"] == "no-store"
    assert _complaints(session) == 1
    # A newly drawn form is a new registration.
    fresh = {**_drawn_form(client, "/staff/complaints/new"), **FORM}
    assert _PASSWORD.search(client.post("/staff/complaints/new", data=fresh).text)
    assert _complaints(session) == 2


def test_a_corrected_form_still_registers_once(client: TestClient, session: Session, staff: Staff) -> None:
    sign_in(client, staff.intake)
    form = {**_drawn_form(client, "/staff/complaints/new"), **FORM, "summary": "短"}
    refused = client.post("/staff/complaints/new", data=form)
    assert refused.status_code == 422
    corrected = {**_drawn_form(client, "/staff/complaints/new"), **FORM}
    corrected["idempotency_key"] = _KEY.search(refused.text).group(1)  # type: ignore[union-attr]
    assert corrected["idempotency_key"] == form["idempotency_key"]

    assert _PASSWORD.search(client.post("/staff/complaints/new", data=corrected).text)
    assert _PASSWORD.search(client.post("/staff/complaints/new", data=corrected).text) is None
    assert _complaints(session) == 1


def test_of_two_registrations_at_once_with_one_key_the_loser_answers_the_winners_case(
    session: Session, calendar: WorkCalendar, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ComplaintCreate.model_validate(FORM)
    intake = _actor(session, Role.INTAKE)
    winner, password = register_complaint_once(
        session=session, data=data, actor=intake, today=TODAY, calendar=calendar, idempotency_key="k-123456"
    )
    session.commit()
    assert password is not None
    # The twin looked before the winner committed: it found nothing and registers; the unique key decides.
    looked: list[Any] = []
    real = registration._registered_with

    def not_yet(session: Session, key: str) -> Complaint | None:
        looked.append(key)
        return None if len(looked) == 1 else real(session, key)

    monkeypatch.setattr(registration, "_registered_with", not_yet)
    loser, none = register_complaint_once(
        session=session, data=data, actor=intake, today=TODAY, calendar=calendar, idempotency_key="k-123456"
    )
    session.commit()

    assert (loser.id, none) == (winner.id, None)
    assert _complaints(session) == 1
    # The key is the account's: another clerk's same key is another registration.
    other = _actor(session, Role.SUPERVISOR)
    _, second = register_complaint_once(
        session=session, data=data, actor=other, today=TODAY, calendar=calendar, idempotency_key="k-123456"
    )
    assert second is not None


def test_reposting_a_password_reissue_issues_no_second_password(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = register(client, staff)
    cid, number = created["id"], created["number"]
    sign_in(client, staff.intake)
    form = {**_drawn_form(client, f"/staff/complaints/{cid}"), "reason": "投诉人来电称遗失查询密码"}

    first = client.post(f"/staff/complaints/{cid}/tracking-password", data=form)
    again = client.post(f"/staff/complaints/{cid}/tracking-password", data=form)

    told = _PASSWORD.search(first.text)
    assert told, first.text
    assert again.status_code == 200
    assert _PASSWORD.search(again.text) is None
    assert "已按此表单重新生成过，密码只显示一次" in again.text
    assert _reissues(session, cid) == 1
    client.cookies.clear()
    assert _tracks(client, number, told.group(1))  # the password read to the caller still works


def test_of_two_password_reissues_at_once_with_one_key_the_loser_issues_nothing(
    client: TestClient, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = register(client, staff)["id"]
    intake = _actor(session, Role.INTAKE)
    stale = session.get(Complaint, cid)  # read before either re-issue
    assert stale is not None
    twin = Session(session.get_bind())
    fresh = twin.get(Complaint, cid)
    assert fresh is not None
    told = reissue_tracking_password_once(
        session=twin, complaint=fresh, actor=intake, idempotency_key="k-7654321"
    )
    twin.commit()
    twin.close()
    # The loser looked before the winner committed: its compare-and-set finds the hash moved.
    looked: list[str] = []
    real = models.tracking_password.event_exists

    def not_yet(*, session: Session, idempotency_key: str) -> bool:
        looked.append(idempotency_key)
        return False if len(looked) == 1 else bool(real(session=session, idempotency_key=idempotency_key))

    monkeypatch.setattr(models.tracking_password, "event_exists", not_yet)
    none = reissue_tracking_password_once(
        session=session, complaint=stale, actor=intake, idempotency_key="k-7654321"
    )
    session.commit()

    assert told is not None
    assert none is None
    assert _reissues(session, cid) == 1


def test_an_api_registration_repeated_with_its_idempotency_key_answers_the_case_without_password(
    client: TestClient, session: Session, staff: Staff
) -> None:
    headers = {**staff.auth("intake"), "Idempotency-Key": "5b0c7a52-reg-0001"}
    first = client.post(f"{API}/complaints", json=BODY, headers=headers)
    again = client.post(f"{API}/complaints", json=BODY, headers=headers)

    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["tracking_password"]
    assert again.json()["tracking_password"] is None
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["cache-control"] == "no-store"
    assert _complaints(session) == 1
    other = {**staff.auth("supervisor"), "Idempotency-Key": "5b0c7a52-reg-0001"}
    assert client.post(f"{API}/complaints", json=BODY, headers=other).json()["tracking_password"]


def _listed(client: TestClient, q: str) -> set[str]:
    page = client.get("/staff/complaints", params={"q": q})
    assert page.status_code == 200, page.text
    return set(re.findall(r'href="/staff/complaints/\d+">([^<]+)</a>', page.text))


def test_a_caller_who_calls_back_is_found_by_phone_or_email_within_what_the_user_sees(
    client: TestClient, staff: Staff
) -> None:
    mobile = register(client, staff, complainant_phone="139 1234 5678", complainant_email="Zhang.JG@163.com")
    landline = register(client, staff, complainant_phone="0571-87654321", complainant_email=None)
    other = register(client, staff, complainant_phone="13700000000", complainant_email="li@126.com")
    sign_in(client, staff.intake)

    for typed in (
        "13912345678",
        "139 1234 5678",
        "+86 139-1234-5678",
        "5678",
        "zhang.jg@163.COM",
        "ZHANG.JG",
    ):
        assert _listed(client, typed) == {mobile["number"]}, typed
    for typed in ("0571-87654321", "057187654321", "87654321"):
        assert _listed(client, typed) == {landline["number"]}, typed
    assert other["number"] not in _listed(client, "139")
    # A handler (through the API; the list page is intake's) finds only the department's cases.
    act(client, staff, "intake", mobile["id"], "accept")
    act(client, staff, "intake", mobile["id"], "dispatch", lead_department_code="D02")
    for who, found in (("handler", []), ("handler2", [mobile["number"]])):
        listed = client.get(f"{API}/complaints", params={"q": "139 1234 5678"}, headers=staff.auth(who))
        assert [c["number"] for c in listed.json()["items"]] == found, who


def test_a_registration_names_the_callers_other_open_cases_for_merging(
    client: TestClient, staff: Staff
) -> None:
    by_phone = register(client, staff, complainant_phone="+86 139 1234 5678", complainant_email=None)
    by_email = register(client, staff, complainant_phone=None, complainant_email="zhang.jg@163.com")
    finished = register(client, staff, complainant_phone="13912345678", complainant_email=None)
    act(
        client, staff, "intake", finished["id"], "reject", reason="该事项已进入诉讼程序。", route="litigation"
    )
    stranger = register(client, staff, complainant_phone="13700000000", complainant_email="li@126.com")
    sign_in(client, staff.intake)
    form = {**_drawn_form(client, "/staff/complaints/new"), **FORM}

    page = client.post("/staff/complaints/new", data=form).text

    named = page[page.index('id="same-complainant"') :]
    assert by_phone["number"] in named
    assert by_email["number"] in named
    assert f"已登记（待初审） · {BODY['summary']}" in named
    assert finished["number"] not in named
    assert stranger["number"] not in named
    assert "并单" in named


def test_a_landline_with_an_extension_finds_the_callers_other_cases(client: TestClient, staff: Staff) -> None:
    phone = "0471-6234567转8001"
    first = register(client, staff, complainant_phone=phone, complainant_email=None)
    sign_in(client, staff.intake)
    found = client.get("/staff/complaints", params={"q": phone}).text
    assert first["number"] in found
    form = {**_drawn_form(client, "/staff/complaints/new"), **FORM, "complainant_phone": phone}
    form.pop("complainant_email", None)
    page = client.post("/staff/complaints/new", data=form).text
    assert first["number"] in page[page.index('id="same-complainant"') :]


def test_the_staff_page_of_a_case_not_accepted_shows_the_route_the_caller_was_given(
    client: TestClient, staff: Staff
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "reject", reason="该事项已进入诉讼程序。", route="litigation")
    other = register(client, staff)["id"]
    act(
        client,
        staff,
        "intake",
        other,
        "reject",
        reason="不属于受理范围。",
        route="other",
        route_detail="请向区市场监管局反映",
    )
    sign_in(client, staff.intake)

    page = client.get(f"/staff/complaints/{cid}").text
    assert "建议途径" in page
    assert "请通过人民法院依法主张权利" in page
    assert "请向区市场监管局反映" in client.get(f"/staff/complaints/{other}").text
    open_case = register(client, staff)["id"]
    assert "建议途径" not in client.get(f"/staff/complaints/{open_case}").text
