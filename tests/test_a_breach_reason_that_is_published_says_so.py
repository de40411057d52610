"""The reason a supervisor gives for 认定失信 becomes the record's published 失信事实
(models/government_credit.py record_breach: "经责令整改，拒不整改：" + the reason, on the register, the API,
the exports and the credit platform): the form's label and hint say it is published and must hold no
personal data or internal remarks; reasons that stay internal are not labelled so."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.government_credit import GovernmentCreditRecord
from tests.conftest import Staff
from tests.test_case_page_choices_with_consequences_must_be_made import form_of
from tests.test_complaints_api import act, dispatched_and_signed, set_today
from tests.web_support import post_form, sign_in

REASON = "期限届满仍未支付工程款，拒不整改"


def test_the_confirm_form_says_its_reason_is_published_and_it_is(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    set_today(client, dt.date(2026, 3, 10))
    sign_in(client, staff.supervisor)
    page = f"/staff/complaints/{cid}"
    confirm = form_of(client.get(page).text, cid, "confirm_breach")
    reason = (
        confirm.split('name="reason"', 1)[0].rsplit("<label", 1)[1]
        + confirm.split('name="reason"', 1)[1].split("</label>", 1)[0]
    )
    assert "将作为失信事实公示" in reason
    assert "不得含个人信息、内部备注" in reason
    assert "理由</label>" not in confirm

    done = post_form(
        client, f"{page}/act/confirm_breach", {"reason": REASON, "severity": "general"}, page=page
    )
    assert done.status_code == 303, done.text
    [record] = session.exec(select(GovernmentCreditRecord)).all()
    assert REASON in record.facts  # what the label promised


def test_an_internal_reason_is_not_labelled_as_published(client: TestClient, staff: Staff) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", requirements="限期付款")
    act(client, staff, "handler", cid, "report_rectification", evidence="已支付一半")
    sign_in(client, staff.supervisor)
    send_back = form_of(client.get(f"/staff/complaints/{cid}").text, cid, "send_back")
    assert "公示" not in send_back
