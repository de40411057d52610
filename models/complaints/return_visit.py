"""The return visit's answers (回访): 满意 closes the case (``close``), 不满意 sends it back to be verified
and handled again (``redo``). The endings that are not satisfied live in ``closing``.

Everyone the answer concerns is told: a redo tells the lead department and the verifying department (the
lead's 主管部门) what they must do again and by when, and every complainant that the case is being redone;
a close tells the complainants of the cases merged into it (they were not part of the visit) that the case
they joined has ended.
"""

from __future__ import annotations

import datetime as dt

from models.audit import CaseEvent
from models.clock import iso_date
from models.complaint import merged_into
from models.complaints.bodies import ActionBody, CloseBody, ReasonBody
from models.complaints.context import ActionContext
from models.complaints.notify import mail_complainant, mail_department
from models.complaints.visibility import case_events, lead_department
from models.lifecycle import COMPLAINT
from models.org import Department, competent_of
from models.workflow import rule_days


def close(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, CloseBody)
    event = ctx.fire(action, body, satisfaction=body.satisfaction)
    ctx.case.satisfaction = body.satisfaction
    ctx.case.closed_at = dt.datetime.now(dt.UTC)
    # The complainant answered the visit and knows; those merged into the case were only sent its reply.
    assert ctx.case.id is not None
    for case in merged_into(ctx.session, ctx.case.id):
        mail_complainant(ctx.session, case, event, "complaint_closed", target_number=ctx.case.number)


def redo(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    replies = [e.note for e in case_events(ctx.session, ctx.case) if e.event == "reply" and e.note]
    event = ctx.fire(action, body, note=body.reason, satisfaction="不满意", redo=ctx.case.redo_count + 1)
    ctx.case.redo_count += 1
    ctx.case.satisfaction = "不满意"
    _tell_departments(ctx, event, reason=body.reason, previous_reply=replies[-1] if replies else "")
    # A pending deadline (待日历确定) is mailed as None: the templates say so, and the deadline_set notice
    # follows once the year is loaded.
    deadline = iso_date(ctx.case.stage_deadline)
    assert ctx.case.id is not None
    for case in [ctx.case, *merged_into(ctx.session, ctx.case.id)]:
        mail_complainant(
            ctx.session,
            case,
            event,
            "complaint_redone",
            redo_count=ctx.case.redo_count,
            deadline=deadline,
            target_number=ctx.case.number if case is not ctx.case else None,
        )


def _tell_departments(ctx: ActionContext, event: CaseEvent, *, reason: str, previous_reply: str) -> None:
    """The case is back at 已签收（核实中）: the verifier verifies again, within a new 核实 deadline, and the
    lead answers again after it. Without a 主管部门 the lead verifies itself, and gets one mail saying so."""
    lead = lead_department(ctx.session, ctx.case)
    if lead is None:
        return
    competent_id = competent_of(ctx.session, ctx.case.lead_department_id)
    verifier = ctx.session.get(Department, competent_id) if competent_id else None
    spec = COMPLAINT.state(ctx.case.state)
    common = {
        "lead_department_name": lead.name,
        "summary": ctx.case.summary,
        "redo_count": ctx.case.redo_count,
        "reason": reason,
        "previous_reply": previous_reply,
        "deadline": iso_date(ctx.case.stage_deadline),
        "working_days": rule_days(spec.deadline) if spec.deadline else 0,
    }
    if verifier is None or verifier.id == lead.id:
        mail_department(ctx.session, ctx.case, event, "complaint_redo", lead, role="lead_verifier", **common)
        return
    mail_department(ctx.session, ctx.case, event, "complaint_redo", lead, role="lead", **common)
    mail_department(ctx.session, ctx.case, event, "complaint_redo", verifier, role="verifier", **common)
