"""A supervisor chases a pledge's evidence review by hand (催办, 督办, 提级办理), as a complaint stage can be
chased: the event, the authority's mail and, for 督办 and 提级办理, the other supervisors' — from the API and
from the pledge's page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.outbox import Notification
from tests.conftest import Staff
from tests.test_pledges import body
from tests.test_staff_pledge_pages import API, with_evidence
from tests.web_support import sign_in


def chase(client: TestClient, staff: Staff, pledge_id: int, action: str, who: str = "supervisor") -> int:
    answer = client.post(
        f"{API}/pledges/{pledge_id}/actions/{action}",
        json={"reason": "请于今日内完成核查"},
        headers=staff.auth(who),
    )
    return answer.status_code


def test_a_supervisor_chases_an_evidence_review_and_the_authority_is_told(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created, _ = with_evidence(client, staff)
    pid = created["id"]
    assert chase(client, staff, pid, "review_remind", who="handler") == 403  # not the handler's to chase
    assert chase(client, staff, pid, "review_remind") == 200
    assert chase(client, staff, pid, "review_supervise") == 200
    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == pid, col(CaseEvent.event).like("review_%"))
    ).all()
    assert [(e.event, e.data["manual"], e.note) for e in events] == [
        ("review_remind", True, "请于今日内完成核查"),
        ("review_supervise", True, "请于今日内完成核查"),
    ]
    mails = session.exec(select(Notification).where(Notification.template == "pledge_review_notice")).all()
    told = {(m.recipient_kind, m.context["step_label"]) for m in mails}
    assert ("department", "催办") in told
    assert ("department", "督办") in told
    # The supervisor who pressed it is not mailed about their own step.
    assert "督办员老李" not in {m.recipient_name for m in mails}


def test_the_pledge_page_offers_supervisors_the_chase_with_an_optional_note(
    client: TestClient, staff: Staff
) -> None:
    created, _ = with_evidence(client, staff)
    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/pledges/{created['id']}").text
    assert "催办意见（将发给审批部门，可不填）" in page
    sign_in(client, staff.handler)
    assert "催办说明" not in client.get(f"/staff/pledges/{created['id']}").text


def test_a_chase_of_a_pledge_not_under_review_is_refused_by_the_lifecycle_table(
    client: TestClient, staff: Staff
) -> None:
    # Registered, no evidence: nothing to chase (409); a handler may never chase (403).
    answer = client.post(f"{API}/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake"))
    pid = answer.json()["id"]
    assert chase(client, staff, pid, "review_remind") == 409
    assert chase(client, staff, pid, "review_remind", who="handler") == 403
