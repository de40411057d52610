"""A choice with a consequence is made by the clerk on the case page, never by the order of a list: the
不予受理 form's 应当通过的渠道 starts empty (the complainant is not told to go to court because 诉讼 came
first), and so do 回访满意度, 失信程度 (轻微 is never published) and a 主办部门 the registration did not name;
a form sent with one left empty is refused at that field and nothing is recorded."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.complaint import Complaint
from models.government_credit import GovernmentCreditRecord
from models.outbox import Notification
from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed, register, set_today
from tests.web_support import post_form, sign_in


def form_of(page: str, cid: int, action: str) -> str:
    return page.split(f'action="/staff/complaints/{cid}/act/{action}"', 1)[1].split("</form>", 1)[0]


def select_of(form: str, name: str) -> str:
    return form.split(f'<select name="{name}"', 1)[1].split("</select>", 1)[0]


def _starts_empty(form: str, name: str) -> None:
    options = select_of(form, name)
    assert re.search(r'^[^>]*required[^>]*>\s*<option value="">请选择', options), options
    assert "selected" not in options, options


def _state(session: Session, cid: int) -> str:
    session.expire_all()
    complaint = session.get(Complaint, cid)
    assert complaint is not None
    return str(complaint.state)


def test_the_rejection_route_is_chosen_not_defaulted_to_litigation(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{cid}").text
    reject = form_of(page, cid, "reject")
    _starts_empty(reject, "route")
    assert '应当通过的渠道<span class="req">*</span>' in reject

    refused = post_form(
        client,
        f"/staff/complaints/{cid}/act/reject",
        {"reason": "不属于受理范围"},
        page=f"/staff/complaints/{cid}",
    )
    assert refused.status_code == 422, refused.text
    route_label = refused.text.split('name="route"', 1)[1].split("</label>", 1)[0]
    assert "请选择应当通过的渠道" in route_label, route_label
    assert _state(session, cid) == "registered"
    assert (
        session.exec(select(Notification).where(Notification.template == "complaint_not_accepted")).all()
        == []
    )

    done = post_form(
        client,
        f"/staff/complaints/{cid}/act/reject",
        {"reason": "该事项已进入诉讼程序", "route": "litigation"},
        page=f"/staff/complaints/{cid}",
    )
    assert done.status_code == 303, done.text
    assert _state(session, cid) == "not_accepted"


def test_a_lead_department_the_registration_did_not_name_is_chosen(client: TestClient, staff: Staff) -> None:
    named = register(client, staff)["id"]
    unnamed = register(client, staff, respondent_department_code=None, respondent_name="某区某街道办事处")[
        "id"
    ]
    for cid in (named, unnamed):
        act(client, staff, "intake", cid, "accept")
    sign_in(client, staff.intake)
    dispatch = form_of(client.get(f"/staff/complaints/{unnamed}").text, unnamed, "dispatch")
    _starts_empty(dispatch, "lead_department_code")
    # The registered 被投诉部门 is offered, and the page says so.
    dispatch = form_of(client.get(f"/staff/complaints/{named}").text, named, "dispatch")
    assert re.search(r'<option value="D01" selected>', select_of(dispatch, "lead_department_code"))
    assert "已按被投诉单位预选 市住房和城乡建设局" in dispatch

    refused = post_form(
        client, f"/staff/complaints/{unnamed}/act/dispatch", {}, page=f"/staff/complaints/{unnamed}"
    )
    assert refused.status_code == 422, refused.text
    assert "请选择主办部门" in refused.text.split('name="lead_department_code"', 1)[1].split("</label>", 1)[0]


def test_severity_and_satisfaction_are_chosen_and_a_breach_is_not_recorded_without_one(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    set_today(client, dt.date(2026, 3, 10))
    sign_in(client, staff.supervisor)
    page = f"/staff/complaints/{cid}"
    confirm = form_of(client.get(page).text, cid, "confirm_breach")
    _starts_empty(confirm, "severity")
    refused = post_form(client, f"{page}/act/confirm_breach", {"reason": "期限届满仍拒不整改"}, page=page)
    assert refused.status_code == 422, refused.text
    assert "请选择失信程度" in refused.text.split('name="severity"', 1)[1].split("</label>", 1)[0]
    assert session.exec(select(GovernmentCreditRecord)).all() == []
    assert _state(session, cid) == "rectifying"


def test_the_return_visit_rating_is_chosen(client: TestClient, staff: Staff, session: Session) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_untrue", explanation="款项已按合同支付")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，款项已按合同支付。")
    sign_in(client, staff.intake)
    page = f"/staff/complaints/{cid}"
    close = form_of(client.get(page).text, cid, "close")
    _starts_empty(close, "satisfaction")
    refused = post_form(client, f"{page}/act/close", {}, page=page)
    assert refused.status_code == 422, refused.text
    assert _state(session, cid) == "replied"
