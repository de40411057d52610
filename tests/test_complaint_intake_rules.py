"""Complaint intake rules: blank text is empty (API and 12345 orders), an order's attachments reach the case
and its unknown fields are refused, the case page shows every contact detail, a merged case and its target
link each other and the lead department reads the merged case, screening skips closed departments and
knows one phone however it is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.calendar import WorkCalendar
from models.complaint import Category, CategoryRule, Complaint
from models.complaints.screening import phone_key
from models.org import Department
from tests.conftest import Staff
from tests.test_complaints_api import API, BODY, act, register
from tests.test_hotline_intake import ORDER, new_hotline_token
from tests.test_screening import register as register_direct
from tests.test_screening import screen
from tests.web_support import sign_in


def refused_fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {f["field"] for f in response.json()["fields"]}


def complaints(session: Session) -> list[Complaint]:
    session.expire_all()
    return list(session.exec(select(Complaint)).all())


def order(client: TestClient, session: Session, **overrides: Any) -> Any:
    headers = {"Authorization": f"Bearer {new_hotline_token(session)}"}
    return client.post(f"{API}/intake/work-orders", json={**ORDER, **overrides}, headers=headers)


def test_blank_name_phone_and_summary_are_empty_and_do_not_meet_the_contact_rule(
    client: TestClient, session: Session, staff: Staff
) -> None:
    blank = {"complainant_name": " ", "complainant_phone": "   ", "complainant_email": None}
    response = client.post(
        f"{API}/complaints", json={**BODY, **blank, "summary": " \u3000"}, headers=staff.auth("intake")
    )
    assert refused_fields(response) >= {"complainant_name", "summary"}
    # A phone of spaces and zero-width characters is no contact: the contact rule refuses the complaint.
    response = client.post(
        f"{API}/complaints",
        json={**BODY, "complainant_phone": " \u200b ", "complainant_email": None},
        headers=staff.auth("intake"),
    )
    assert response.status_code == 422, response.text
    assert "至少填写一项" in response.json()["message"]
    response = client.post(
        f"{API}/complaints", json={**BODY, "attachments": ["合同.pdf", "  "]}, headers=staff.auth("intake")
    )
    assert refused_fields(response) == {"attachments.1"}
    assert complaints(session) == []


def test_a_blank_phone_beside_an_email_is_stored_as_no_phone(client: TestClient, staff: Staff) -> None:
    created = register(client, staff, complainant_phone="  ", complainant_email="li@corp.cn")
    assert created["complainant_phone"] is None


def test_a_12345_order_with_blank_caller_fields_is_refused_under_its_own_field_names(
    client: TestClient, session: Session
) -> None:
    blank = {"caller_name": " ", "caller_phone": "   ", "title": " ", "content": "  \n\t "}
    response = order(client, session, order_id="B1", **blank)
    assert refused_fields(response) == {"caller_name", "caller_phone", "content"}
    assert "complaint" not in response.text
    # One visible character is not a summary either.
    assert refused_fields(order(client, session, order_id="B2", content=" 急 \n ")) == {"content"}
    assert complaints(session) == []


def test_a_12345_order_with_a_blank_title_is_summarised_by_its_visible_content(
    client: TestClient, session: Session
) -> None:
    response = order(client, session, title=" \u200b", content="  拖欠工程款\n\t八十万元  ")
    assert response.status_code == 201, response.text
    [case] = complaints(session)
    assert (case.summary, case.description) == ("拖欠工程款 八十万元", "  拖欠工程款\n\t八十万元  ")


def test_a_12345_orders_attachments_reach_the_case_and_an_unknown_field_is_refused_by_name(
    client: TestClient, session: Session
) -> None:
    refs = ["合同编号HT-2024-001.pdf", "https://12345.example.gov.cn/files/a.pdf"]
    response = order(client, session, attachments=refs)
    assert response.status_code == 201, response.text
    [case] = complaints(session)
    assert case.attachments == refs
    assert refused_fields(order(client, session, order_id="X2", caller_address="某区某路1号")) == {
        "caller_address"
    }
    assert refused_fields(order(client, session, order_id="X3", attachments=[{"name": "a.pdf"}])) == {
        "attachments.0"
    }
    assert len(complaints(session)) == 1


def test_case_page_shows_email_credit_code_and_attachments(client: TestClient, staff: Staff) -> None:
    created = register(
        client,
        staff,
        complainant_phone=None,
        complainant_email="zhang@corp.cn",
        attachments=["合同编号HT-2024-001.pdf", "<b>验收单</b>"],
    )
    act(client, staff, "intake", created["id"], "accept")
    act(client, staff, "intake", created["id"], "dispatch", lead_department_code="D01")
    # Everyone who may open the case reads its contact details: intake and the lead department's handler.
    for who in (staff.intake, staff.handler):
        sign_in(client, who)
        page = client.get(f"/staff/complaints/{created['id']}").text
        assert 'id="complainant-email">zhang@corp.cn<' in page
        assert 'id="complainant-credit-code">91440300708461136T<' in page
        assert "<li>合同编号HT-2024-001.pdf</li>" in page
        assert "&lt;b&gt;验收单&lt;/b&gt;" in page  # a reference is text, never markup


def test_a_merged_case_and_its_target_link_each_other_and_its_handlers_read_the_merged_case(
    client: TestClient, staff: Staff
) -> None:
    target = register(client, staff)
    merged = register(
        client,
        staff,
        complainant_phone="13900000009",
        summary="另一投诉人同一事项",
        attachments=["对账单B.pdf"],
    )
    later = register(client, staff, complainant_phone="13900000010", summary="第三位投诉人")
    act(client, staff, "intake", later["id"], "merge", target_number=merged["number"])
    act(client, staff, "intake", merged["id"], "merge", target_number=target["number"])
    act(client, staff, "intake", target["id"], "accept")
    act(client, staff, "intake", target["id"], "dispatch", lead_department_code="D01")

    sign_in(client, staff.intake)
    merged_page = client.get(f"/staff/complaints/{merged['id']}").text
    assert f'<a href="/staff/complaints/{target["id"]}">{target["number"]}</a>' in merged_page
    target_page = client.get(f"/staff/complaints/{target['id']}").text
    assert f'<a href="/staff/complaints/{merged["id"]}">{merged["number"]}</a>' in target_page

    # The lead (D01) and its verifier (D00) read the merged cases, down the chain, read-only; D02 does not.
    for who in ("handler", "competent"):
        for case in (merged, later):
            got = client.get(f"{API}/complaints/{case['id']}", headers=staff.auth(who))
            assert got.status_code == 200, got.text
            assert client.get(f"{API}/complaints/{case['id']}/actions", headers=staff.auth(who)).json() == []
        listed = client.get(f"{API}/complaints", headers=staff.auth(who)).json()["items"]
        assert {c["id"] for c in listed} == {target["id"], merged["id"], later["id"]}
    assert client.get(f"{API}/complaints/{merged['id']}", headers=staff.auth("handler")).json()[
        "attachments"
    ] == ["对账单B.pdf"]
    act(client, staff, "handler", merged["id"], "reply", status=409, reply_text="已答复")
    assert client.get(f"{API}/complaints/{merged['id']}", headers=staff.auth("handler2")).status_code == 404
    assert client.get(f"{API}/complaints", headers=staff.auth("handler2")).json()["items"] == []
    sign_in(client, staff.handler)
    page = client.get(f"/staff/complaints/{merged['id']}")
    assert page.status_code == 200
    assert "当前没有您可以执行的操作" in page.text


def _deactivate(session: Session, code: str) -> None:
    dept = session.exec(select(Department).where(Department.code == code)).one()
    dept.active = False
    session.add(dept)
    session.commit()


def test_screening_suggests_no_inactive_department(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    d02 = session.exec(select(Department).where(Department.code == "D02")).one()
    session.add(
        CategoryRule(category=Category.SME_ARREARS, rectification_working_days=15, department_id=d02.id)
    )
    session.commit()
    by_respondent = register_direct(session, calendar, today, respondent_department_code="D01")
    nothing_left = register_direct(session, calendar, today, complainant_phone="13911111111")
    _deactivate(session, "D02")
    assert screen(session, today) == 2
    session.expire_all()
    # The catalogue's department is closed: the next rule (the department complained about), else none.
    assert by_respondent.suggestions["department"]["code"] == "D01"
    assert nothing_left.suggestions["department"] is None


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("13800000001", "13800000001"),
        ("138 0000 0001", "13800000001"),
        ("+86 138-0000-0001", "13800000001"),
        ("86 13800000001", "13800000001"),
        ("0086 (138) 0000 0001", "13800000001"),
        ("０５７１-８７６５４３２１", "057187654321"),
        ("  ", None),
        (None, None),
    ],
)
def test_phone_key_is_the_number_dialled(written: str | None, key: str | None) -> None:
    assert phone_key(written) == key


def test_duplicates_find_one_phone_however_it_is_written(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    fields = {"complainant_credit_code": None, "respondent_name": None}
    first = register_direct(
        session, calendar, today, complainant_phone="13800000001", summary="甲事项", **fields
    )
    spaced = register_direct(
        session, calendar, today, complainant_phone="138 0000 0001", summary="完全不同的事情乙", **fields
    )
    prefixed = register_direct(
        session, calendar, today, complainant_phone="+86-138-0000-0001", summary="又一件丙", **fields
    )
    other = register_direct(
        session, calendar, today, complainant_phone="13800000002", summary="丁事项", **fields
    )
    screen(session, today)
    session.expire_all()
    found = {c.number: {d["number"] for d in c.suggestions["duplicates"]} for c in complaints(session)}
    assert found[first.number] == {spaced.number, prefixed.number}
    assert found[prefixed.number] == {first.number, spaced.number}
    assert found[other.number] == set()
