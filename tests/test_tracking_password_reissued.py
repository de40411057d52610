"""A tracking password that never reached the complainant can be replaced: by the 12345 platform's resend of
an order whose first answer (the only one carrying the password) was lost, and by intake staff or a
supervisor on the complaint. The new password is shown once and stored hashed; the old one stops working;
the re-issue is on the case's record without the secret."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.complaint import Complaint
from models.errors import Conflict
from models.lifecycle import Role
from models.settings import get_settings
from models.tracking_password import hash_tracking_password, reissue_tracking_password
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_complaints_api import register
from tests.test_hotline_intake import ORDER, new_hotline_token, post

TRACK = "/api/v1/public/complaints/track"
REISSUE = "reissue_tracking_password"


def track(client: TestClient, number: str, password: str) -> int:
    return client.post(TRACK, json={"number": number, "password": password}).status_code


def reissues(session: Session, cid: int) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == REISSUE)
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))))


def _stored(session: Session, cid: int) -> str:
    session.expire_all()
    complaint = session.get(Complaint, cid)
    assert complaint is not None
    return complaint.tracking_password_hash


def test_a_resend_of_an_order_whose_answer_was_lost_may_ask_for_a_new_password_and_the_old_one_dies(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    lost = post(client, token).json()  # the platform timed out: this answer never reached it
    plain_resend = post(client, token)
    assert (plain_resend.status_code, plain_resend.json()["tracking_password"]) == (200, None)

    again = client.post(
        "/api/v1/intake/work-orders?reissue_tracking_password=true",
        json=ORDER,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert again.status_code == 200, again.text
    assert again.headers["cache-control"] == "no-store"
    body: dict[str, Any] = again.json()
    assert (body["id"], body["created"]) == (lost["id"], False)
    fresh = body["tracking_password"]
    assert fresh
    assert fresh != lost["tracking_password"]
    assert track(client, lost["number"], fresh) == 200
    assert track(client, lost["number"], lost["tracking_password"]) == 404
    assert _stored(session, lost["id"]) == hash_tracking_password(fresh)

    [event] = reissues(session, lost["id"])
    assert event.actor_role == "hotline"
    assert fresh not in str(event.data) + str(event.note)
    assert hash_tracking_password(fresh) not in str(event.data)


def test_a_first_copy_asking_for_a_new_password_is_registered_once_with_its_own(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first = client.post(
        "/api/v1/intake/work-orders?reissue_tracking_password=true",
        json=ORDER,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True
    assert track(client, body["number"], body["tracking_password"]) == 200
    assert reissues(session, body["id"]) == []


@pytest.mark.parametrize("who", ["intake", "supervisor"])
def test_intake_staff_and_supervisors_reissue_a_complaints_password_the_old_one_stops_working(
    client: TestClient, session: Session, staff: Staff, who: str
) -> None:
    created = register(client, staff)
    response = client.post(
        f"/api/v1/complaints/{created['id']}/tracking-password",
        json={"reason": "投诉人遗失查询密码，来电要求重新告知"},
        headers=staff.auth(who),
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["id"], body["number"]) == (created["id"], created["number"])
    assert track(client, created["number"], body["tracking_password"]) == 200
    assert track(client, created["number"], created["tracking_password"]) == 404

    [event] = reissues(session, created["id"])
    assert event.note == "投诉人遗失查询密码，来电要求重新告知"
    assert body["tracking_password"] not in str(event.data)
    # The complainant sees on their timeline that the password was replaced, in words, as staff do.
    shown = client.post(TRACK, json={"number": created["number"], "password": body["tracking_password"]})
    assert "重新生成查询密码（原密码作废）" in [step["label"] for step in shown.json()["steps"]]


def test_handlers_and_the_hotline_token_may_not_reissue_a_complaints_password(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = register(client, staff)
    url = f"/api/v1/complaints/{created['id']}/tracking-password"
    hotline = {"Authorization": f"Bearer {new_hotline_token(session)}"}
    assert client.post(url, headers=staff.auth("handler")).status_code == 403
    assert client.post(url, headers=hotline).status_code == 403
    assert client.post(url).status_code == 401
    assert track(client, created["number"], created["tracking_password"]) == 200
    assert reissues(session, created["id"]) == []


def test_two_reissues_at_once_never_both_answer_a_password(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = register(client, staff)
    complaint = session.get(Complaint, created["id"])
    assert complaint is not None
    # Another request re-issued it after this one read the case: the hash this one read is gone.
    t: Any = Complaint.__table__  # type: ignore[attr-defined]
    session.execute(
        update(t).where(t.c.id == complaint.id).values(tracking_password_hash="hmac-sha256$other")
    )
    actor = Actor(name="受理员", role=Role.INTAKE)
    with pytest.raises(Conflict):
        reissue_tracking_password(session=session, complaint=complaint, actor=actor)


def test_a_password_reissued_after_a_lockout_works_at_once(client: TestClient, staff: Staff) -> None:
    # The lockout message sends the complainant to intake or 12345 for a new password; the old one's
    # wrong guesses must not refuse the new one for the rest of the window.
    case = register(client, staff)
    for _ in range(get_settings().tracking_max_failures_per_case):
        track(client, case["number"], "AAAA-AAAA-AAAA")
    assert track(client, case["number"], case["tracking_password"]) == 429
    answer = client.post(
        f"/api/v1/complaints/{case['id']}/tracking-password", json={"reason": "投诉人多次输错被锁定"},
        headers=staff.auth("intake"),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert track(client, case["number"], answer.json()["tracking_password"]) == 200
    assert track(client, case["number"], case["tracking_password"]) == 404  # the old one: as any wrong one
