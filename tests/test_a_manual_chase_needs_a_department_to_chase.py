"""A supervisor's 催办/督办/提级办理 reaches the department whose move the stage awaits. In a stage that
waits on intake staff or the supervisors (初审, 派单) there is none: the chase is refused with the reason
and not offered, instead of being recorded as done while nobody was told. The deadline flow still climbs
such a stage and alerts the supervisors."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.complaints import ActionBody, act, available_actions, register_complaint
from models.errors import ValidationFailed
from models.lifecycle import Role
from models.outbox import Notification
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_supervision import DATA
from tests.test_supervision_reaches_the_department_whose_move_is_awaited import (
    DEADLINE,
    FIFTH_OVERDUE,
    case_in,
    sent,
    supervise_on,
)

INTAKE = Actor(name="受理员", role=Role.INTAKE)
SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR, id=9999)
CHASES = ("remind", "supervise", "escalate")


def held_by_intake(session: Session, calendar: WorkCalendar, state: str) -> int:
    """A complaint in 初审 (registered) or 派单 (accepted), its deadline pinned to ``DEADLINE``."""
    day = dt.date(2026, 4, 1)
    complaint, _ = register_complaint(session=session, data=DATA, actor=INTAKE, today=day, calendar=calendar)
    assert complaint.id is not None
    if state == "accepted":
        act(session=session, complaint_id=complaint.id, action="accept", body=ActionBody(), actor=INTAKE,
            today=day, calendar=calendar)  # fmt: skip
    assert complaint.state == state
    complaint.stage_deadline = DEADLINE
    session.commit()
    return complaint.id


@pytest.mark.parametrize("state", ["registered", "accepted"])
@pytest.mark.parametrize("action", CHASES)
def test_a_manual_chase_of_a_stage_no_department_holds_is_refused_saying_why(
    session: Session, staff: Staff, calendar: WorkCalendar, state: str, action: str
) -> None:
    cid = held_by_intake(session, calendar, state)
    with pytest.raises(ValidationFailed, match="该环节由受理及督办人员办理，不待承办部门办理"):
        act(session=session, complaint_id=cid, action=action, body=ActionBody(), actor=SUPERVISOR,
            today=FIFTH_OVERDUE, calendar=calendar)  # fmt: skip
    session.rollback()
    chased = select(CaseEvent).where(CaseEvent.case_id == cid, col(CaseEvent.event).in_(CHASES))
    assert session.exec(chased).all() == []
    staff_mail = select(Notification).where(
        Notification.case_id == cid,
        col(Notification.template).in_(("supervision_notice", "escalation_alert")),
    )
    assert session.exec(staff_mail).all() == []


def test_the_page_offers_no_chase_where_no_department_holds_the_stage_but_does_where_one_does(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    def offered(cid: int) -> set[str]:
        case = session.get(Complaint, cid)
        assert case is not None
        actions = available_actions(session=session, complaint=case, actor=SUPERVISOR, today=FIFTH_OVERDUE)
        return {t.event for t in actions} & set(CHASES)

    assert offered(held_by_intake(session, calendar, "registered")) == set()
    assert offered(held_by_intake(session, calendar, "accepted")) == set()
    assert offered(case_in(session, calendar, "signed")) == set(CHASES)


def test_the_deadline_flow_still_escalates_a_late_dispatch_and_alerts_the_supervisors(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = held_by_intake(session, calendar, "accepted")
    supervise_on(session, calendar, FIFTH_OVERDUE)
    alerts = [(n.recipient_name, n.context["step"]) for n in sent(session, cid, "escalation_alert")]
    assert alerts == [("督办员老李", "supervise"), ("督办员老李", "escalate")]
