"""How a case ends when it cannot end satisfied: 不满意办结 and 无法联系办结.

``close`` needs the complainant's 满意 or 基本满意, and ``redo`` loops. Two more endings, each a terminal
state of the lifecycle table, taken by a supervisor and mailed to the complainant:

- 不满意办结 (``close_unsatisfied``): the complainant is still dissatisfied at the return visit after the
  case has been redone ``unsatisfied_close_after_redos`` times (default 2), with a written reason;
- 无法联系办结 (``close_unreachable``): the complainant could not be reached at the return visit (or while
  the case awaits their supplement) on ``unreachable_contact_attempts`` different working days (default 3),
  each attempt recorded as a ``record_contact_attempt`` event with its note. A second attempt on the same
  day is refused; an attempt on a rest day is recorded but does not count towards the working days, and
  one on a day whose year has no holiday notice yet counts once the notice is loaded (if a working day).

Attempts count within the current stage: a case redone and replied again starts counting afresh. The
complainants of the cases merged into it (并单) are told of either ending too, as they were of its reply.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.audit import CaseEvent
from models.complaint import merged_into
from models.complaints.bodies import ActionBody, ContactAttemptBody, OptionalReasonBody, ReasonBody
from models.complaints.context import ActionContext
from models.complaints.notify import mail_complainant
from models.complaints.preconditions import counted_days
from models.errors import ValidationFailed
from models.lifecycle import ComplaintState
from models.settings import get_settings

UNSATISFIED = "不满意"


def record_contact_attempt(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, ContactAttemptBody)
    earlier = ctx.stage_events("record_contact_attempt")
    day = ctx.today.isoformat()
    if any(e.data.get("contact_day") == day for e in earlier):
        raise ValidationFailed(
            f"{day} 已记录过一次联系未果；每天只记一次，请在另一个工作日再次联系 "
            "(an attempt is already recorded today: try again on another working day)",
            contact_day=day,
        )
    # What the calendar says today, for the record only: the attempts are counted again from their days
    # when the case is closed (preconditions.counted_days). A day of a year whose notice is not loaded (a
    # January before it is) does not count yet, and counts once the notice is loaded if it is a working day.
    workday = ctx.calendar.is_workday_if_known(ctx.today)
    counted, _ = counted_days(earlier, ctx.calendar)
    pending = {"counts_once_calendar_loaded": True} if workday is None else {}
    ctx.fire(
        action,
        body,
        note=body.contact_result,
        contact_day=day,
        counted=bool(workday),
        attempt=len(counted) + (1 if workday else 0),
        required=get_settings().unreachable_contact_attempts,
        stage_seq=ctx.case.stage_seq,
        **pending,
    )


def close_unreachable(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, OptionalReasonBody)
    days: list[str] = ctx.grounds["contact_days"]  # preconditions.unreachable_established counted them
    # Read before the event moves the case: the attempts were a return visit only once it was replied to.
    awaiting = ctx.case.state == ComplaintState.AWAITING_COMPLAINANT
    reason = (body.reason or "").strip()
    event = ctx.fire(action, body, note=reason or None, contact_days=days)
    # Nobody answered a visit for this handling: an answer still on the case (the 不满意 that sent it to be
    # redone) belongs to an earlier one, and an unreachable ending is no rating. The events keep it.
    ctx.case.satisfaction = None
    _closed(
        ctx,
        event,
        outcome="unreachable",
        reason=reason,
        contact_days=days,
        contact_stage="supplement" if awaiting else "return_visit",
    )


def close_unsatisfied(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReasonBody)
    redone = ctx.case.redo_count  # enough: preconditions.redone_enough held
    event = ctx.fire(action, body, note=body.reason, satisfaction=UNSATISFIED, redo_count=redone)
    ctx.case.satisfaction = UNSATISFIED
    _closed(
        ctx, event, outcome="unsatisfied", reason=body.reason, contact_days=[], contact_stage="return_visit"
    )


def _closed(
    ctx: ActionContext,
    event: CaseEvent,
    *,
    outcome: str,
    reason: str,
    contact_days: list[str],
    contact_stage: str,
) -> None:
    """Tell the complainant how the case ended, and what happened before: the mail states only that (a
    return visit, the real number of redos). The complainants merged into the case are told too, under
    their own number: the attempts to reach someone were not attempts to reach them, so their mail names
    neither the days nor the note on them, only the case they joined and how it ended."""
    ctx.case.closed_at = dt.datetime.now(dt.UTC)
    common: dict[str, Any] = {
        "outcome": outcome,
        "redo_count": ctx.case.redo_count,
        "contact_stage": contact_stage,
    }
    mail_complainant(
        ctx.session,
        ctx.case,
        event,
        "complaint_closed_unresolved",
        reason=reason,
        contact_days=contact_days,
        target_number=None,
        **common,
    )
    assert ctx.case.id is not None
    for case in merged_into(ctx.session, ctx.case.id):
        mail_complainant(
            ctx.session,
            case,
            event,
            "complaint_closed_unresolved",
            reason=reason if outcome == "unsatisfied" else "",
            contact_days=[],
            target_number=ctx.case.number,
            **common,
        )
