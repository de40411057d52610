"""Deadline warnings and chasing reach the department whose move the stage awaits: the 主管部门 (认定部门)
while a complaint waits for its 核实 or its 责令整改, the lead in the stages it holds itself. The party is
the one the case page lets act (``visibility.HANDLER_PARTIES``)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, col, select

from models.accounts import department_by_code
from models.calendar import WorkCalendar
from models.complaints import (
    ActionBody,
    DispatchBody,
    OrderRectificationBody,
    act,
    register_complaint,
    supervise_batch,
    supervision_ids,
)
from models.lifecycle import Role
from models.outbox import Notification
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_supervision import DATA

INTAKE = Actor(name="受理员", role=Role.INTAKE)
SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)
SYSTEM = Actor.system("run-awaited")
DEADLINE = dt.date(2026, 4, 30)  # Thursday
YELLOW_DAY = dt.date(2026, 4, 29)
FIFTH_OVERDUE = dt.date(2026, 5, 11)  # past Labour Day: every rung of the ladder is due
LEAD, COMPETENT = "市住房和城乡建设局", "市发展和改革委员会"


def handler_of(session: Session, code: str) -> Actor:
    dept = department_by_code(session=session, code=code)
    return Actor(name=f"{code}经办人", role=Role.HANDLER, id=None, department_id=dept.id)


def case_in(session: Session, calendar: WorkCalendar, state: str, lead: str = "D01") -> int:
    """A complaint led by ``lead``, brought to ``state`` by the parties the table lets act, its deadline
    pinned to ``DEADLINE``."""
    day = dt.date(2026, 4, 1)
    complaint, _ = register_complaint(session=session, data=DATA, actor=INTAKE, today=day, calendar=calendar)
    assert complaint.id is not None
    verifier = handler_of(session, "D00" if lead == "D01" else lead)
    steps: list[tuple[str, ActionBody, Actor]] = [
        ("accept", ActionBody(), INTAKE),
        ("dispatch", DispatchBody(lead_department_code=lead), INTAKE),
        ("sign_for", ActionBody(), handler_of(session, lead)),
    ]
    if state in ("verified", "rectifying"):
        steps.append(("verify_true", ActionBody(), verifier))
    if state == "rectifying":
        steps.append(("order_rectification", OrderRectificationBody(requirements="限期付款"), verifier))
    for action, body, actor in steps:
        act(
            session=session,
            complaint_id=complaint.id,
            action=action,
            body=body,
            actor=actor,
            today=day,
            calendar=calendar,
        )
    assert complaint.state == state
    complaint.stage_deadline = DEADLINE
    session.commit()
    return complaint.id


def sent(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def supervise_on(session: Session, calendar: WorkCalendar, *days: dt.date) -> None:
    for day in days:
        supervise_batch(
            session=session, ids=supervision_ids(session=session), actor=SYSTEM, today=day, calendar=calendar
        )
        session.commit()


@pytest.mark.parametrize(
    ("state", "awaited"),
    [("signed", COMPETENT), ("verified", COMPETENT), ("rectifying", LEAD)],
)
def test_the_yellow_and_red_warnings_go_to_the_department_whose_move_the_stage_awaits(
    session: Session, staff: Staff, calendar: WorkCalendar, state: str, awaited: str
) -> None:
    cid = case_in(session, calendar, state)
    supervise_on(session, calendar, YELLOW_DAY, dt.date(2026, 5, 6))
    warnings = [(n.recipient_name, n.context["level"]) for n in sent(session, cid, "deadline_warning")]
    assert warnings == [(awaited, "yellow"), (awaited, "red")]
    assert {n.context["department_name"] for n in sent(session, cid, "deadline_warning")} == {awaited}


def test_a_late_verification_is_chased_at_the_competent_department_and_the_alert_names_it(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "signed")
    supervise_on(session, calendar, FIFTH_OVERDUE)
    notices = [(n.recipient_name, n.context["step"]) for n in sent(session, cid, "supervision_notice")]
    # Nobody above the 主管部门 to escalate to: the supervisors' alert is the 提级办理.
    assert notices == [(COMPETENT, "remind"), (COMPETENT, "supervise"), (COMPETENT, "escalate")]
    alerts = [
        (n.context["department_name"], n.context["step"]) for n in sent(session, cid, "escalation_alert")
    ]
    assert alerts == [(COMPETENT, "supervise"), (COMPETENT, "escalate")]


def test_a_late_rectification_is_still_chased_at_the_lead_and_escalated_to_its_competent_department(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "rectifying")
    supervise_on(session, calendar, FIFTH_OVERDUE)
    escalated = [
        n.recipient_name for n in sent(session, cid, "supervision_notice") if n.context["step"] == "escalate"
    ]
    assert escalated == [LEAD]
    assert [n.recipient_name for n in sent(session, cid, "escalation_superior_notice")] == [COMPETENT]
    alerts = {n.context["department_name"] for n in sent(session, cid, "escalation_alert")}
    assert alerts == {LEAD}


def test_a_manual_remind_while_verification_is_awaited_goes_to_the_competent_department_only(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    awaiting_verification = case_in(session, calendar, "signed")
    led_without_competent = case_in(session, calendar, "signed", lead="K01")  # it verifies its own cases
    for cid in (awaiting_verification, led_without_competent):
        act(
            session=session,
            complaint_id=cid,
            action="remind",
            body=ActionBody(note="核实环节请加快"),
            actor=SUPERVISOR,
            today=YELLOW_DAY,
            calendar=calendar,
        )
    session.commit()
    assert [n.recipient_name for n in sent(session, awaiting_verification, "supervision_notice")] == [
        COMPETENT
    ]
    assert [n.recipient_name for n in sent(session, led_without_competent, "supervision_notice")] == [
        "新城区人民政府"
    ]
