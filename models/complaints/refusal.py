"""拒不整改: when a refusal to rectify may be confirmed, and what the department owes after it.

RULEBOOK §8: only a refusal to rectify confirms the department as in breach. A supervisor may confirm it once
the rectification deadline has passed, unless an extension the department asked for before the deadline
(RULEBOOK §6) is still undecided: the supervisor decides it first. Or earlier, when a refusal is recorded
in the current rectification period with its evidence (a note and at least one attached file or a document
reference, as a rectification report carries its evidence); that ground holds with an extension pending.
The confirmation orders the department to explain the breach in writing and rectify within a deadline
(the ``explanation`` rule of the lifecycle table, configurable through ``SHOUXIN_DEADLINE_OVERRIDES``);
that stage is chased like every other complaint stage. The rule is ``preconditions.refusal_established``:
``act`` refuses a confirmation with it, and the pages do not offer one it refuses.
"""

from __future__ import annotations

from models.attachments import check_attachments
from models.audit import CaseEvent
from models.breach import SEVERITY_LABELS, Severity
from models.clock import iso_date
from models.complaints.bodies import ActionBody, ExplanationReportBody, RefusalBody
from models.complaints.context import ActionContext
from models.complaints.notify import mail_department
from models.complaints.visibility import lead_department
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
