"""拒不整改: when a refusal to rectify may be confirmed, and what the department owes after it.

RULEBOOK §8: only a refusal to rectify confirms the department as in breach. A supervisor may confirm it once
the rectification deadline has passed, unless an extension the department asked for before the deadline
(RULEBOOK §6) is still undecided: the supervisor decides it first. Or earlier, when a refusal is recorded
in the current rectification period with its evidence (a note and at least one attached file or a document
reference, as a rectification report carries its evidence); that ground holds with an extension pending.
The confirmation orders the department to explain the breach in writing and rectify within a deadline
(the ``explanation`` rule of the lifecycle table, configurable through ``SHOUXIN_DEADLINE_OVERRIDES``);
that stage is chased like every other complaint stage.
"""

from __future__ import annotations

from typing import Any

from models.attachments import check_attachments
from models.audit import CaseEvent
from models.breach import SEVERITY_LABELS, Severity
from models.clock import iso_date
from models.complaints.bodies import ActionBody, ExplanationReportBody, RefusalBody
from models.complaints.context import ActionContext
from models.complaints.notify import mail_department
from models.complaints.visibility import lead_department
from models.errors import ValidationFailed
from models.lifecycle import COMPLAINT
from models.workflow import rule_days


def record_refusal(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, RefusalBody)
    files = [a.strip() for a in body.attachments if a.strip()]
    check_attachments(existing=ctx.case.attachments, added=files)
    ctx.fire(
        action,
        body,
        note=body.refusal_facts,
        attachments=files,
        document_reference=(body.document_reference or "").strip() or None,
        stage_seq=ctx.case.stage_seq,
    )
    ctx.case.attachments = [*ctx.case.attachments, *files]


def check_refusal_established(ctx: ActionContext) -> dict[str, Any]:
    """Why 拒不整改 may be confirmed now (for the audit event), or a 422 saying what is missing."""
    case = ctx.case
    deadline = case.stage_deadline
    # A pending request was made before the deadline (``request_extension`` refuses a late one), and
    # RULEBOOK §6 allows such a request up to 10 more working days: until the supervisor decides it the
    # deadline may yet move, so its passing proves no refusal.
    pending = case.extension_requested_days is not None and not case.extension_used
    if deadline is not None and ctx.today > deadline and not pending:
        return {"grounds": "deadline_passed", "rectification_deadline": deadline.isoformat()}
    refusals = ctx.stage_events("record_refusal")
    if refusals:
        return {"grounds": "refusal_recorded", "refusal_event_seq": refusals[-1].seq}
    if deadline is not None and ctx.today > deadline:
        raise ValidationFailed(
            f"整改期限（{deadline.isoformat()}）届满前主办部门已申请延期 {case.extension_requested_days} "
            "个工作日，尚未审批：请先审批该延期申请，再按审批后的期限确认拒不整改；已掌握拒不整改证据的，"
            "可先“记录拒不整改及证据”后确认 (an extension requested before the deadline is pending: "
            "decide it first)",
            rectification_deadline=deadline.isoformat(),
            extension_requested_days=case.extension_requested_days,
        )
    until = f"整改期限（{deadline.isoformat()}）尚未届满" if deadline else "整改期限尚未确定"
    raise ValidationFailed(
        f"{until}，且本整改期内未记录拒不整改及证据：请在期限届满后确认，或先执行“记录拒不整改及证据”"
        "（附证明文件或文号） (the rectification deadline has not passed and no refusal is recorded)",
        rectification_deadline=iso_date(deadline),
    )


def order_explanation(ctx: ActionContext, event: CaseEvent, *, reason: str, severity: Severity) -> None:
    """Tell the department it is confirmed in breach and must explain in writing and rectify by the new
    stage's deadline (the case has just entered it)."""
    dept = lead_department(ctx.session, ctx.case)
    if dept is None:
        return
    spec = COMPLAINT.state(ctx.case.state)
    assert spec.deadline is not None, "confirm_breach enters the explanation stage, which has a deadline"
    mail_department(
        ctx.session,
        ctx.case,
        event,
        "breach_explanation_order",
        dept,
        reason=reason,
        severity_label=SEVERITY_LABELS[severity],
        deadline=iso_date(ctx.case.stage_deadline),
        working_days=rule_days(spec.deadline),
    )


def submit_explanation(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, ExplanationReportBody)
    files = [a.strip() for a in body.attachments if a.strip()]
    check_attachments(existing=ctx.case.attachments, added=files)
    ctx.fire(action, body, note=body.written_explanation, rectification=body.rectification, attachments=files)
    ctx.case.attachments = [*ctx.case.attachments, *files]
