"""The complainant told by SMS that the complaint is not accepted (不予受理) reads why, and where to go
instead, on the tracking page and from the public API, with the number and the tracking password: the
reason and the route the clerk gave them, never the clerk's name nor a staff note."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from models.complaint import ROUTE_GUIDANCE
from models.complaints import RejectRoute
from tests.conftest import Staff
from tests.test_complaints_api import API, act, register
from tests.web_support import post_form

REASON = "该事项已进入诉讼程序，不属于政府违约失信投诉受理范围。"
ROUTE = ROUTE_GUIDANCE[RejectRoute.LITIGATION]
STAFF_NOTE = "内部：与法院电话核实过案号"


def _tracked(client: TestClient, created: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The public API's answer and the tracking page, for the complainant's number and password."""
    good = {"number": created["number"], "password": created["tracking_password"]}
    response = client.post(f"{API}/public/complaints/track", json=good)
    assert response.status_code == 200, response.text
    page = post_form(client, "/track", good)
    assert page.status_code == 200, page.text
    answer: dict[str, Any] = response.json()
    return answer, page.text


def _reject(client: TestClient, staff: Staff, cid: int) -> None:
    act(client, staff, "intake", cid, "reject", reason=REASON, route="litigation", note=STAFF_NOTE)


def test_a_complaint_not_accepted_shows_the_reason_and_the_route_on_the_page_and_in_the_api(
    client: TestClient, staff: Staff
) -> None:
    created = register(client, staff)
    _reject(client, staff, created["id"])
    answer, page = _tracked(client, created)
    assert answer["state_label"] == "不予受理"
    assert (answer["not_accepted_reason"], answer["suggested_route"]) == (REASON, ROUTE)
    assert 'id="not-accepted"' in page
    assert REASON in page
    assert ROUTE in page
    for private in (STAFF_NOTE, "受理员小王"):
        assert private not in repr(answer)
        assert private not in page


def test_a_complaint_not_rejected_shows_no_reason_nor_route(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    act(client, staff, "intake", created["id"], "accept")
    answer, page = _tracked(client, created)
    assert (answer["not_accepted_reason"], answer["suggested_route"]) == (None, None)
    assert 'id="not-accepted"' not in page
    assert "建议途径" not in page


def test_a_rejected_complaint_reopened_no_longer_shows_why_it_was_not_accepted(
    client: TestClient, staff: Staff
) -> None:
    created = register(client, staff)
    _reject(client, staff, created["id"])
    act(client, staff, "supervisor", created["id"], "reopen", reason="投诉人补充材料，属于受理范围。")
    answer, page = _tracked(client, created)
    assert (answer["not_accepted_reason"], answer["suggested_route"]) == (None, None)
    assert REASON not in page
    assert ROUTE not in page


def test_a_complainant_merged_into_a_case_not_accepted_reads_why_as_their_sms_promised(
    client: TestClient, staff: Staff
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    _reject(client, staff, first["id"])
    answer, page = _tracked(client, duplicate)
    assert answer["merged_into"] == first["number"]
    assert (answer["not_accepted_reason"], answer["suggested_route"]) == (REASON, ROUTE)
    assert REASON in page
    assert ROUTE in page


def test_a_merged_complaint_whose_case_goes_on_shows_no_reason_nor_route(
    client: TestClient, staff: Staff
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")
    answer, page = _tracked(client, duplicate)
    assert answer["merged_into"] == first["number"]
    assert (answer["not_accepted_reason"], answer["suggested_route"]) == (None, None)
    assert 'id="not-accepted"' not in page


def test_an_other_route_shows_the_clerks_own_wording(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    where = "请向市人力资源和社会保障局劳动保障监察支队反映（欠薪问题）"
    act(client, staff, "intake", created["id"], "reject", reason=REASON, route="other", route_detail=where)
    answer, page = _tracked(client, created)
    assert answer["suggested_route"] == where
    assert where in page
