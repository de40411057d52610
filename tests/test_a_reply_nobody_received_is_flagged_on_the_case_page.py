"""A hotline complainant who left only a mobile, while no SMS service is configured, receives no notice at
all: when the lead department replies, its reply is stored undeliverable. The case page of the staff who
can reach the complainant (intake, the lead department) says so, why, what the reply said and the number
to phone; the flash after the reply says so too. The verifying department, which does not talk to the
complainant, is not told to, and a complainant with an e-mail address raises nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification, NotificationStatus
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.web_support import post_form, sign_in

PHONE = "13512345678"
REPLY_NOTICES = ("complaint_replied", "complaint_return_visit")
REPLY = "经核实，工程款已于2026年2月按合同支付完毕，相关凭证可到窗口查阅。"


def _verified_untrue(client: TestClient, staff: Staff, **overrides: object) -> int:
    cid = int(register(client, staff, **overrides)["id"])
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="工程款已按合同支付")
    return cid


def _reply_on_the_page(client: TestClient, staff: Staff, cid: int) -> str:
    sign_in(client, staff.handler)
    page = f"/staff/complaints/{cid}"
    done = post_form(client, f"{page}/act/reply", {"reply_text": REPLY}, page=page)
    assert done.status_code == 303, done.text
    return str(client.get(done.headers["location"]).text)


def _untold_alert(page: str) -> str:
    assert 'id="complainant-untold"' in page, page
    return page.split('id="complainant-untold"', 1)[1].split("</div>", 1)[0]


def test_a_reply_that_reached_nobody_is_flagged_to_the_lead_and_intake(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _verified_untrue(client, staff, complainant_email=None, complainant_phone=PHONE)
    after = _reply_on_the_page(client, staff, cid)
    # Whichever notices the reply queued for the complainant (its mail, the return-visit notice), none
    # could go: no e-mail, and no SMS service.
    session.expire_all()
    queued = session.exec(
        select(Notification).where(Notification.case_id == cid, col(Notification.template).in_(REPLY_NOTICES))
    ).all()
    assert queued
    assert {n.status for n in queued} == {NotificationStatus.UNDELIVERABLE}

    flash = after.split('id="done"', 1)[1].split("</div>", 1)[0]
    assert "答复投诉人" in flash
    assert "未能送达投诉人" in flash
    alert = _untold_alert(after)
    assert PHONE in alert
    assert "未配置短信服务" in alert  # why
    assert "电话" in alert
    assert "答复投诉人" in alert
    assert REPLY in alert

    for who in (staff.handler, staff.intake):
        sign_in(client, who)
        alert = _untold_alert(client.get(f"/staff/complaints/{cid}").text)
        assert PHONE in alert
        assert REPLY in alert
    # The verifying department does not reach the complainant: its page says nothing of it.
    sign_in(client, staff.competent)
    assert 'id="complainant-untold"' not in client.get(f"/staff/complaints/{cid}").text


def test_a_reply_that_went_out_raises_nothing(client: TestClient, staff: Staff) -> None:
    cid = _verified_untrue(client, staff)
    after = _reply_on_the_page(client, staff, cid)
    assert 'id="complainant-untold"' not in after
    assert "未能送达" not in after
