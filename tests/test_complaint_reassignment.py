"""A late return (退单) is refused with what the department can really do. The RULEBOOK re-dispatches (改派)
only a returned order, so the lifecycle lets nobody reassign a dispatched or signed one: the refusal must
not send the department to a supervisor for a reassignment that no one can make."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from models.complaints import ActionBody, DispatchBody, ReasonBody
from models.complaints.bodies import ACTION_BODIES
from models.errors import TransitionNotAllowed, ValidationFailed
from models.lifecycle import COMPLAINT, ComplaintState
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_december_pending_deadlines import INTAKE, SUPERVISOR, case, dispatched, do, events, handler

MONDAY = dt.date(2026, 3, 2)
THURSDAY = dt.date(2026, 3, 5)  # three working days after Monday's dispatch: the 2-day window has passed


def late_return_refusal(session: Session, cid: int) -> str:
    with pytest.raises(ValidationFailed) as refused:
        do(session, cid, "return_order", handler(session), THURSDAY, ReasonBody(reason="不属于本单位职责"))
    session.rollback()
    return str(refused.value)


def test_a_late_return_offers_signing_for_it_not_a_reassignment(session: Session, staff: Staff) -> None:
    cid = dispatched(session, MONDAY)
    message = late_return_refusal(session, cid)
    assert "已超过退单时限" in message
    assert "改派" not in message  # nobody can reassign a dispatched order (see the next test)
    assert "请签收办理" in message
    # What it offers is open to the department: signing for the order with its objection in the note.
    assert ACTION_BODIES.get("sign_for", ActionBody) is ActionBody
    do(session, cid, "sign_for", handler(session), THURSDAY, ActionBody(note="认为不属于本单位职责"))
    assert case(session, cid).state == ComplaintState.SIGNED
    assert events(session, "complaint", cid, "sign_for")[0].note == "认为不属于本单位职责"


@pytest.mark.parametrize("actor", [SUPERVISOR, INTAKE], ids=["supervisor", "intake"])
def test_nobody_reassigns_a_dispatched_or_signed_order(session: Session, staff: Staff, actor: Actor) -> None:
    for state in (ComplaintState.DISPATCHED, ComplaintState.SIGNED):
        assert "dispatch" not in [t.event for t in COMPLAINT.available(state, actor.role)]
    cid = dispatched(session, MONDAY)
    do(session, cid, "sign_for", handler(session), MONDAY)
    with pytest.raises(TransitionNotAllowed):
        do(session, cid, "dispatch", actor, THURSDAY, DispatchBody(lead_department_code="D02"))
    session.rollback()
    assert case(session, cid).state == ComplaintState.SIGNED
