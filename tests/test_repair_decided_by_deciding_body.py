"""谁认定、谁修复 (RULEBOOK publication §2): a pledge record's repair is decided by the department that
decided the record (its successor once it is retired), not by the credit office's supervisors, who still
chase it; a government record from a complaint, confirmed by the credit office, stays with supervisors.
The record's page offers the decision only to who may take it."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.clock import Clock
from models.errors import NotPermitted
from models.lifecycle import BreachState, Role
from models.register import decide
from models.register.requests import PUBLIC_ACTOR
from models.workflow import Actor, apply_event
from tests.conftest import Staff
from tests.test_complaints_api import API, act, set_today
from tests.test_dashboard_record_deadlines import on
from tests.test_department_retired import dept, retire
from tests.test_government_breach_register import _file, _record
from tests.test_government_credit import confirmed
from tests.test_register import publish
from tests.web_support import sign_in

DAY = dt.date(2026, 6, 1)  # past the 一般 record's minimum period (JDRQ 2026-02-28, repair from 05-28)
SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)


def _repair_requested(engine: Engine, session: Session) -> PublishedBreach:
    [record] = publish(engine, session, ("示范建设有限公司", None))
    apply_event(
        session=session,
        case=record,
        event="request_repair",
        actor=PUBLIC_ACTOR,
        today=DAY,
        calendar=load_calendar(session=session),
        note="已补交合格书",
    )
    session.commit()
    return record


def _decide(
    client: TestClient, staff: Staff, who: str, record: PublishedBreach, action: str
) -> dict[str, str]:
    response = client.post(
        f"{API}/breaches/{record.id}/actions/{action}", json={"reason": "经复核"}, headers=staff.auth(who)
    )
    body: dict[str, str] = response.json()
    body["status"] = str(response.status_code)
    return body


@pytest.mark.parametrize("action", ["approve_repair", "reject_repair"])
def test_a_supervisor_is_refused_the_repair_of_a_departments_record(
    client: TestClient, engine: Engine, session: Session, staff: Staff, action: str
) -> None:
    record = _repair_requested(engine, session)
    set_today(client, DAY)
    refused = _decide(client, staff, "supervisor", record, action)
    assert refused["status"] == "403"
    assert "谁认定、谁修复" in refused["message"]
    assert "市住房和城乡建设局" in refused["message"]
    session.expire_all()
    assert session.get(PublishedBreach, record.id).state == BreachState.REPAIR_REQUESTED  # type: ignore[union-attr]


def test_the_deciding_departments_handler_decides_the_repair(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _repair_requested(engine, session)
    set_today(client, DAY)
    assert _decide(client, staff, "handler2", record, "approve_repair")["status"] == "404"  # not its record
    decided = _decide(client, staff, "handler", record, "approve_repair")
    assert (decided["status"], decided["state"]) == ("200", "repaired")


def test_supervisors_still_chase_a_departments_repair_decision(
    engine: Engine, session: Session, staff: Staff
) -> None:
    record = _repair_requested(engine, session)
    calendar = load_calendar(session=session)
    with pytest.raises(NotPermitted):
        decide(
            session=session, breach_id=record.id, action="reject_repair", actor=SUPERVISOR,  # type: ignore[arg-type]
            reason="经复核", today=DAY, calendar=calendar,
        )  # fmt: skip
    session.rollback()
    event = apply_event(
        session=session,
        case=record,
        event="remind",
        actor=SUPERVISOR,
        today=DAY,
        calendar=calendar,
        note="请按期决定",
    )
    assert event is not None


def test_a_retired_departments_record_is_decided_by_its_successor(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _repair_requested(engine, session)
    retire(client, staff, "D01", "D02")
    session.expire_all()
    assert session.get(PublishedBreach, record.id).department_id == dept(session, "D02").id  # type: ignore[union-attr]
    set_today(client, DAY)
    assert _decide(client, staff, "supervisor", record, "approve_repair")["status"] == "403"
    decided = _decide(client, staff, "handler2", record, "approve_repair")
    assert (decided["status"], decided["state"]) == ("200", "repaired")


def test_a_government_record_confirmed_by_the_credit_office_is_repaired_by_supervisors(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = confirmed(client, staff)
    act(
        client, staff, "handler", cid, "submit_explanation",
        written_explanation="资金未到位", rectification="已分期支付完毕",
    )  # fmt: skip
    record = _record(session)
    set_today(client, dt.date(2026, 6, 2))
    repair = {"statement": "已全额支付并完成整改", "repair_pledge": "今后按合同约定按期支付"}
    _file(client, staff, "supervisor", record.number, "repair", 200, **repair)
    decided = _decide(client, staff, "supervisor", record, "approve_repair")
    assert (decided["status"], decided["state"]) == ("200", "repaired")


def test_the_record_page_offers_the_repair_decision_only_to_the_deciding_department(
    engine: Engine, session: Session, staff: Staff, clock: Clock
) -> None:
    record = _repair_requested(engine, session)
    buttons = (
        f"/staff/breaches/{record.id}/act/approve_repair",
        f"/staff/breaches/{record.id}/act/reject_repair",
    )
    with on(engine, clock, DAY) as supervisor:
        sign_in(supervisor, staff.supervisor)
        page = supervisor.get(f"/staff/breaches/{record.id}")
        assert page.status_code == 200
        assert "已补交合格书" in page.text  # the request is still shown, to chase
        assert not any(b in page.text for b in buttons)
    with on(engine, clock, DAY) as handler:
        sign_in(handler, staff.handler)
        page = handler.get(f"/staff/breaches/{record.id}")
        assert all(b in page.text for b in buttons)


def test_a_departments_repair_request_waits_in_its_handlers_queue_not_the_supervisors(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _repair_requested(engine, session)
    set_today(client, DAY)

    def queued(who: str) -> list[dict[str, object]]:
        tasks = client.get(f"{API}/tasks", headers=staff.auth(who)).json()
        return [t for t in tasks if t["kind"] == "breach" and t["id"] == record.id]

    assert [t["actions"] for t in queued("handler")] == [["approve_repair", "reject_repair"]]
    assert queued("supervisor") == []  # nothing in it they may decide; the dashboard shows it for chasing
