"""协办意见: what an assisting department (协办单位, RULEBOOK complaints §4) contributes to a case.

The lead (主办) signs for, verifies with its 主管部门, rectifies and replies; an assisting department is
assigned to the case too, yet its knowledge of the matter reached the lead only outside the platform, and a
case could be verified, rectified and replied to with no 协办 input on record. Here the assisting department
gives its opinion as an event of the case (``assist_opinion``, no change of state), as often as it has
something to add; the lead is mailed each one, and the case page lists them and, before the reply, which
assisting departments have given none. Informational only: the RULEBOOK makes no 协办 input a precondition
of the reply, so nothing waits for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.complaint import Complaint
from models.complaints.bodies import ActionBody, AssistOpinionBody
from models.complaints.context import ActionContext
from models.complaints.notify import mail_department
from models.complaints.visibility import lead_department
from models.org import Department

ASSIST_OPINION = "assist_opinion"


class AssistOpinion(NamedTuple):
    """One opinion as the case page lists it: the department that gave it (its name then: a department
    retired later still gave it under that name), when, and the text."""

    department_id: int | None
    department_name: str
    at: dt.datetime
    opinion: str


def give_opinion(ctx: ActionContext, action: str, body: ActionBody) -> None:
    """Record the assisting department's opinion and mail it to the lead, which answers for the case."""
    assert isinstance(body, AssistOpinionBody)
    # ``act`` found the actor's department assisting the case, so it exists.
    dept = ctx.session.get(Department, ctx.actor.department_id)
    assert dept is not None
    event = ctx.fire(action, body, note=body.opinion, department_id=dept.id, department_name=dept.name)
    lead = lead_department(ctx.session, ctx.case)
    if lead is not None:
        mail_department(
            ctx.session,
            ctx.case,
            event,
            "complaint_assist_opinion",
            lead,
            summary=ctx.case.summary,
            assisting_department_name=dept.name,
            opinion=body.opinion,
        )


def assist_opinions(*, session: Session, complaint: Complaint) -> list[AssistOpinion]:
    """The opinions given on the case, oldest first, by whichever department assisted it at the time."""
    rows = session.exec(
        select(CaseEvent)
        .where(
            CaseEvent.case_kind == "complaint",
            CaseEvent.case_id == complaint.id,
            CaseEvent.event == ASSIST_OPINION,
        )
        .order_by(col(CaseEvent.seq))
    ).all()
    return [
        AssistOpinion(e.data.get("department_id"), str(e.data.get("department_name", "")), e.at, e.note or "")
        for e in rows
    ]


def without_opinion(assisting: Sequence[Department], opinions: Sequence[AssistOpinion]) -> list[Department]:
    """Those of the case's ``assisting`` departments that have given no opinion yet, in their order."""
    given = {o.department_id for o in opinions}
    return [d for d in assisting if d.id not in given]
