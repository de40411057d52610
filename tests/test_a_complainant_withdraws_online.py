"""投诉人在线撤回: the complainant withdraws their own complaint on the tracking page or through the public
API, proven by the case number and the tracking password under the tracking page's limit on wrong
passwords. It is the staff withdrawal's one event with its checks and its consequences; the actor is the
complainant (the public role, which may fire no other complaint event), and the tracking answer says
whether it may be done now and, when not, why in one sentence naming 12345."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaints import ActionBody, act
from models.complaints.tracking import (
    NOT_WITHDRAWABLE_MERGED_IN,
    NOT_WITHDRAWABLE_VERIFIED,
    WITHDRAWAL_CONFIRMATION,
)
from models.complaints.withdrawal import ONLINE_ACTOR
from models.errors import NotFound, NotPermitted, TransitionNotAllowed
from models.lifecycle import COMPLAINT, Role
from models.outbox import Notification
from models.settings import get_settings
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import API, get, register
from tests.test_complaints_api import act as staff_act
from tests.web_support import post_form

REASON = "所欠工程款已于3月10日全额支付，申请撤回投诉。"


def _tracked(client: TestClient, created: dict[str, Any]) -> dict[str, Any]:
    good = {"number": created["number"], "password": created["tracking_password"]}
    response = client.post(f"{API}/public/complaints/track", json=good)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _withdraw(client: TestClient, number: str, **body: Any) -> Any:
    return client.post(f"{API}/public/complaints/{number}/withdrawal", json=body)


def _withdrawals(session: Session, cid: int) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "withdraw")
    return list(session.exec(stmt).all())


def _mails(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def _failures(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM auth_failure")).scalar_one())


def test_a_complainant_withdraws_online_through_the_api_as_staff_would_record_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    cid = created["id"]
    staff_act(client, staff, "intake", cid, "accept")
    staff_act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    offered = _tracked(client, created)
    assert offered["withdrawal_possible"] is True
    assert (offered["withdrawal_confirmation"], offered["withdrawal_refused"]) == (
        WITHDRAWAL_CONFIRMATION,
        None,
    )

    answer = _withdraw(
        client,
        created["number"],
        password=created["tracking_password"],
        reason=f"  {REASON} ",
        confirmed=True,
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json()["state_label"] == "撤回办结"
    assert answer.json()["withdrawal_reason"] == REASON  # trimmed, as the staff form's is
    assert answer.json()["withdrawal_possible"] is False
    case = get(session, cid)
    assert case.state == "closed_withdrawn"
    assert case.closed_at is not None
    [event] = _withdrawals(session, cid)
    assert (event.actor_role, event.actor_name, event.actor_id) == ("public", ONLINE_ACTOR.name, None)
    assert event.data["reason"] == REASON
    assert (event.data["online"], event.data["address"], event.data["withdrawn_in"]) == (
        True,
        "testclient",
        "dispatched",
    )
    [told] = _mails(session, cid, "complaint_withdrawn")
    assert told.recipient_kind == "complainant"
    assert "在线提交的撤回申请" in render(told.template, told.context).text
    [stop] = _mails(session, cid, "complaint_withdrawn_department")
    assert stop.recipient_name == "市住房和城乡建设局"


def test_a_complainant_withdraws_online_on_the_tracking_page_typing_the_password_again(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    good = {"number": created["number"], "password": created["tracking_password"]}
    page = post_form(client, "/track", good)
    assert page.status_code == 200, page.text
    assert 'id="withdraw"' in page.text
    assert WITHDRAWAL_CONFIRMATION in page.text
    # The password is asked for again, never carried in the page.
    assert created["tracking_password"] not in page.text

    done = post_form(
        client, "/track/withdrawal", {**good, "reason": REASON, "confirmed": "yes"}, page="/track"
    )

    assert done.status_code == 200, done.text
    assert 'id="withdrawn-now"' in done.text
    assert "撤回办结" in done.text
    assert 'id="withdraw"' not in done.text
    assert get(session, created["id"]).state == "closed_withdrawn"
    [event] = _withdrawals(session, created["id"])
    assert event.actor_role == "public"
    assert _mails(session, created["id"], "complaint_withdrawn")


def test_an_unconfirmed_withdrawal_or_a_too_short_reason_is_refused_without_counting_a_password(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    created = register(client, staff)
    number, password = created["number"], created["tracking_password"]

    unconfirmed = _withdraw(client, number, password=password, reason=REASON, confirmed=False)
    short = _withdraw(client, number, password="WRONG-WRONG", reason=" 撤 ", confirmed=True)
    page = post_form(
        client, "/track/withdrawal", {"number": number, "password": password, "reason": REASON}, page="/track"
    )

    assert unconfirmed.status_code == 422
    assert WITHDRAWAL_CONFIRMATION in unconfirmed.json()["message"]
    assert short.status_code == 422
    assert page.status_code == 422
    assert 'id="withdraw"' in page.text
    assert WITHDRAWAL_CONFIRMATION in page.text
    assert REASON in page.text  # the reason typed is kept, the password is not
    assert password not in page.text
    assert get(session, created["id"]).state == "registered"
    assert _failures(engine) == 0


def test_a_wrong_password_is_refused_like_tracking_and_counted_in_its_limit(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    created = register(client, staff)
    number, good = created["number"], created["tracking_password"]
    unknown = _withdraw(client, "TS-2026-999999", password="WRONG-WRONG", reason=REASON, confirmed=True)
    wrong = _withdraw(client, number, password="WRONG-WRONG", reason=REASON, confirmed=True)
    page = post_form(
        client,
        "/track/withdrawal",
        {"number": number, "password": "WRONG-WRONG", "reason": REASON, "confirmed": "yes"},
        page="/track",
    )

    # The same answer whether or not the number exists, and each wrong password counted.
    assert (unknown.status_code, wrong.status_code, page.status_code) == (404, 404, 404)
    assert unknown.json()["message"] == wrong.json()["message"]
    assert "投诉编号或查询密码不正确" in page.text
    assert _failures(engine) > 0
    for _ in range(get_settings().tracking_max_failures_per_case - 2):
        _withdraw(client, number, password="WRONG-WRONG", reason=REASON, confirmed=True)
    # Tracking and withdrawing share the one limit: now even the right password waits.
    locked = client.post(f"{API}/public/complaints/track", json={"number": number, "password": good})
    assert locked.status_code == 429
    refused = _withdraw(client, number, password=good, reason=REASON, confirmed=True)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert get(session, created["id"]).state == "registered"


def test_a_verified_complaint_is_not_withdrawn_online_and_the_complainant_is_told_why(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    cid = created["id"]
    staff_act(client, staff, "intake", cid, "accept")
    staff_act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    staff_act(client, staff, "handler", cid, "sign_for")
    staff_act(client, staff, "competent", cid, "verify_true")

    tracked = _tracked(client, created)
    answer = _withdraw(
        client, created["number"], password=created["tracking_password"], reason=REASON, confirmed=True
    )
    page = post_form(
        client, "/track", {"number": created["number"], "password": created["tracking_password"]}
    )

    assert (tracked["withdrawal_possible"], tracked["withdrawal_confirmation"]) == (False, None)
    assert tracked["withdrawal_refused"] == NOT_WITHDRAWABLE_VERIFIED
    assert "12345" in NOT_WITHDRAWABLE_VERIFIED
    assert answer.status_code == 409
    assert answer.json()["message"] == NOT_WITHDRAWABLE_VERIFIED
    assert 'id="withdraw-refused"' in page.text
    assert NOT_WITHDRAWABLE_VERIFIED in page.text
    assert 'id="withdraw"' not in page.text
    assert get(session, cid).state == "verified"
    assert not _withdrawals(session, cid)


def test_a_case_others_joined_stays_but_a_complaint_merged_into_it_leaves_it_online(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    staff_act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])

    held = _tracked(client, first)
    refused = _withdraw(
        client, first["number"], password=first["tracking_password"], reason=REASON, confirmed=True
    )
    left = _withdraw(
        client, duplicate["number"], password=duplicate["tracking_password"], reason=REASON, confirmed=True
    )

    assert (held["withdrawal_possible"], held["withdrawal_refused"]) == (False, NOT_WITHDRAWABLE_MERGED_IN)
    assert refused.status_code == 409
    assert left.status_code == 200, left.text
    assert get(session, duplicate["id"]).state == "closed_withdrawn"
    assert get(session, duplicate["id"]).merged_into_id is None
    # Once it has left, the case it joined may be withdrawn by its own complainant.
    assert _tracked(client, first)["withdrawal_possible"] is True
    assert "不能再撤回" in _tracked(client, duplicate)["withdrawal_refused"]


def test_the_public_role_may_fire_no_complaint_event_but_withdraw() -> None:
    for state, event in itertools.product(COMPLAINT.state_names, COMPLAINT.event_names):
        if event == "withdraw":
            continue
        with pytest.raises(NotPermitted):
            COMPLAINT.fire(state, event, Role.PUBLIC)
    offered = {t.event for state in COMPLAINT.state_names for t in COMPLAINT.available(state, Role.PUBLIC)}
    assert offered == {"withdraw"}


def test_a_public_actor_cannot_act_on_a_complaint_through_the_staff_service(
    client: TestClient, staff: Staff, session: Session, calendar: WorkCalendar, today: dt.date
) -> None:
    cid = register(client, staff)["id"]
    # Not even the withdrawal: the staff path does not know the complainant (no password), so the case is
    # not found, whatever the action.
    for action in ("accept", "withdraw"):
        with pytest.raises((NotFound, NotPermitted, TransitionNotAllowed)) as refused:
            act(
                session=session,
                complaint_id=cid,
                action=action,
                body=ActionBody(),
                actor=ONLINE_ACTOR,
                today=today,
                calendar=calendar,
            )
        assert isinstance(refused.value, NotFound)
    assert get(session, cid).state == "registered"
