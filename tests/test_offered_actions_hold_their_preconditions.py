"""The API and the case page offer an action only when the case meets what its handler checks: no 批准延期
without a pending request, no 申请延期 twice in a stage or after the deadline, no 确认违约失信 before the
rectification deadline has passed or a refusal is recorded. The page says why the confirmation is missing.
The days are walked with the pinned clock (a case ordered to rectify on Monday 2026-03-02 in 5 working
days is due 2026-03-09)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.test_complaints_api import API, act, dispatched_and_signed, set_today
from tests.web_support import sign_in


def offered(client: TestClient, staff: Staff, who: str, cid: int) -> list[str]:
    response = client.get(f"{API}/complaints/{cid}/actions", headers=staff.auth(who))
    assert response.status_code == 200, response.text
    return [a["event"] for a in response.json()]


def _rectifying(client: TestClient, staff: Staff) -> int:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    return cid


def test_extension_decisions_are_offered_only_while_a_request_is_pending(
    client: TestClient, staff: Staff
) -> None:
    cid = _rectifying(client, staff)
    supervisor = offered(client, staff, "supervisor", cid)
    assert "approve_extension" not in supervisor
    assert "refuse_extension" not in supervisor
    assert "remind" in supervisor  # the rest of the table's answer stands
    refused = act(client, staff, "supervisor", cid, "approve_extension", status=422)
    assert "本环节没有待审批的延期申请" in refused["message"]

    assert "request_extension" in offered(client, staff, "handler", cid)
    act(client, staff, "handler", cid, "request_extension", days=5, reason="需协调财政资金")
    assert {"approve_extension", "refuse_extension"} <= set(offered(client, staff, "supervisor", cid))
    # One request per stage: asked once, it is no longer offered, and refused as before.
    assert "request_extension" not in offered(client, staff, "handler", cid)
    refused = act(client, staff, "handler", cid, "request_extension", status=422, days=2, reason="再延")
    assert "每个环节只能申请一次" in refused["message"]

    act(client, staff, "supervisor", cid, "refuse_extension", reason="理由不充分")
    assert "approve_extension" not in offered(client, staff, "supervisor", cid)
    assert "request_extension" not in offered(client, staff, "handler", cid)


def test_an_extension_is_not_offered_once_the_deadline_has_passed(client: TestClient, staff: Staff) -> None:
    cid = _rectifying(client, staff)
    set_today(client, dt.date(2026, 3, 10))
    assert "request_extension" not in offered(client, staff, "handler", cid)
    refused = act(client, staff, "handler", cid, "request_extension", status=422, days=2, reason="来不及")
    assert "延期须在期限届满前申请" in refused["message"]


def test_confirm_breach_is_offered_once_a_refusal_is_recorded_or_the_deadline_has_passed(
    client: TestClient, staff: Staff
) -> None:
    cid = _rectifying(client, staff)
    assert "confirm_breach" not in offered(client, staff, "supervisor", cid)
    assert "record_refusal" in offered(client, staff, "supervisor", cid)
    set_today(client, dt.date(2026, 3, 9))  # the last day of the period: not passed yet
    assert "confirm_breach" not in offered(client, staff, "supervisor", cid)
    set_today(client, dt.date(2026, 3, 10))
    assert "confirm_breach" in offered(client, staff, "supervisor", cid)

    recorded = _rectifying(client, staff)
    act(
        client, staff, "competent", recorded, "record_refusal",
        refusal_facts="书面回复拒绝支付", attachments=["回函.pdf"],
    )  # fmt: skip
    assert "confirm_breach" in offered(client, staff, "supervisor", recorded)


def test_the_case_page_says_when_the_breach_may_be_confirmed(client: TestClient, staff: Staff) -> None:
    cid = _rectifying(client, staff)
    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/complaints/{cid}").text
    assert 'value="confirm_breach"' not in page
    assert 'value="approve_extension"' not in page
    # The precondition's own words, under the action's label.
    assert "确认违约失信（拒不整改）：暂不可执行。整改期限（2026-03-09）尚未届满" in page
    assert "记录拒不整改及证据" in page

    set_today(client, dt.date(2026, 3, 10))
    page = client.get(f"/staff/complaints/{cid}").text
    assert 'value="confirm_breach"' in page
    assert "暂不可执行" not in page
