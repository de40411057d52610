"""The complaint API's answer names the assisting departments (协办部门) of a case dispatched to a lead plus
assisting departments, as the staff case page does: a 12345 system or a department's own client reading the
API must be able to tell who assists. A list reads them for the whole page in one query."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.conftest import Staff
from tests.test_complaints_api import API, act, register
from tests.test_department_retired import dispatched, retire
from tests.test_work_queue import counting


def names(client: TestClient, staff: Staff) -> dict[str, str]:
    listed = client.get(f"{API}/admin/departments", headers=staff.auth("admin")).json()
    return {d["code"]: d["name"] for d in listed}


def detail(client: TestClient, staff: Staff, who: str, cid: int) -> dict[str, Any]:
    response = client.get(f"{API}/complaints/{cid}", headers=staff.auth(who))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_the_dispatch_detail_and_list_answers_name_the_assisting_departments_but_not_the_lead(
    client: TestClient, staff: Staff
) -> None:
    name = names(client, staff)
    cid = int(register(client, staff)["id"])
    act(client, staff, "intake", cid, "accept")
    answer = act(
        client,
        staff,
        "intake",
        cid,
        "dispatch",
        lead_department_code="D01",
        assisting_department_codes=["K01", "D02"],
    )
    expected = [
        {"code": "K01", "name": name["K01"], "active": True},
        {"code": "D02", "name": name["D02"], "active": True},
    ]
    assert answer["assisting_departments"] == expected  # in the order dispatched
    assert detail(client, staff, "supervisor", cid)["assisting_departments"] == expected
    # The lead's own client and an assisting department's client read the same answer.
    assert detail(client, staff, "handler", cid)["assisting_departments"] == expected
    assert detail(client, staff, "handler2", cid)["assisting_departments"] == expected
    listed = client.get(f"{API}/complaints", headers=staff.auth("supervisor")).json()["items"]
    assert [c["assisting_departments"] for c in listed if c["id"] == cid] == [expected]
    # The existing fields are still there: the lead is named by id, as before.
    assert answer["lead_department_id"] is not None


def test_a_complaint_without_assisting_departments_answers_an_empty_list(
    client: TestClient, staff: Staff
) -> None:
    created = register(client, staff)
    assert created["assisting_departments"] == []
    led_alone = dispatched(client, staff, "D01", [])
    assert detail(client, staff, "intake", led_alone)["assisting_departments"] == []


def test_a_finished_cases_retired_assisting_department_is_still_named_and_marked_retired(
    client: TestClient, staff: Staff
) -> None:
    name = names(client, staff)
    cid = dispatched(client, staff, "D01", ["K01"])
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同未约定该笔款项")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，合同未约定该笔款项，特此说明。")
    act(client, staff, "intake", cid, "close", satisfaction="满意")

    retire(client, staff, "K01", "D02")

    assert detail(client, staff, "supervisor", cid)["assisting_departments"] == [
        {"code": "K01", "name": name["K01"], "active": False}
    ]


def test_the_list_reads_the_assisting_departments_of_the_whole_page_in_one_query(
    client: TestClient, staff: Staff, engine: Engine
) -> None:
    for assisting in (["K01"], ["D02"], ["K01", "D02"]):
        dispatched(client, staff, "D01", assisting)
    # A supervisor's list has no visibility clause, so only the assisting departments' read names the
    # assignment table.
    with counting(engine) as statements:
        response = client.get(f"{API}/complaints", headers=staff.auth("supervisor"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [[d["code"] for d in c["assisting_departments"]] for c in items] == [
        ["K01", "D02"],
        ["D02"],
        ["K01"],
    ]
    assert len([s for s in statements if "complaint_assignment" in s]) == 1
