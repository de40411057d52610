"""Breach records on pages for the deciding department (谁认定、谁修复): its records, and a record's page
with what the subject asked (the objection's reason, evidence and files, or the repair request, pledge and
files), the pledge's evidence files, the decision deadline, and the decisions the lifecycle offers.

The same services as the API (``GET /api/v1/breaches``, ``POST /api/v1/breaches/{id}/actions/{action}``):
a handler sees only their department's records (another's is "not found"); the correction is the typed
``BreachCorrection`` (the form's fields are exactly its fields), and every form carries the CSRF field and
the record's version.

A record from a complaint names a department, which applies in writing to the credit office: its
supervisors file the written objection or repair request on the record's page, through the same services
as ``POST /api/v1/government-breaches/{number}/objection|repair``, offered only when that filing would be
taken (``department_filings``), and decide it there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import SessionDep, TodayDep
from models.audit import CaseEvent
from models.breach import SEVERITY_LABELS
from models.breach_record import CREDIT_OFFICE
from models.breach_requests import list_staff_breaches, staff_views, visible_breach
from models.calendar import load_calendar
from models.errors import DomainError, ValidationFailed
from models.files import PREVIEWABLE
from models.government_credit import department_filings, object_for_department, request_repair_for_department
from models.lifecycle import BREACH, BreachState, Role
from models.register import CORRECTION_LABELS, BreachCorrection, decide
from models.register.decisions import may_decide
from models.settings import get_settings
from models.workflow import Actor
from web.core import current_actor, form_data, form_refused, page_router, redirect, render
from web.files import form_uploads, upload_hint

router = page_router("/staff/breaches")

DECIDERS = (Role.HANDLER, Role.SUPERVISOR)  # as the API's breach routes
STATE_LABELS = {str(s): BREACH.state(s).label for s in BreachState}
REQUEST_LABELS = {"objection": "异议", "repair": "信用修复申请"}
# Events outside the lifecycle's transitions: the record's creation by the publication sweep, and its
# deciding department retired into a successor (models/department_retire.py).
OTHER_EVENTS = {
    "create": "公示失信记录",
    "department_succeeded": "认定部门撤并，由承接部门继续办理（机构改革）",
}
DECISION_EVENTS = {"uphold_withdraw", "uphold_correct", "reject_objection", "approve_repair", "reject_repair"}
# The department's written applications the credit office files on a record from a complaint.
FILINGS = {"objection": "登记部门书面异议", "repair": "登记部门信用修复申请"}


@router.get("")
def breach_list(request: Request, session: SessionDep, state: str | None = None) -> Response:
    user, actor = current_actor(request, session, *DECIDERS)
    chosen = BreachState(state) if state in STATE_LABELS else None
    records = list_staff_breaches(session=session, actor=actor, state=chosen)
    return render(
        request,
        "staff_breaches.html",
        title="失信记录（异议与信用修复）",
        records=staff_views(session=session, records=records),
        states=STATE_LABELS,
        chosen=str(chosen) if chosen else "",
        requests=REQUEST_LABELS,
        own_department=user.role == Role.HANDLER,
    )


def _record_page(
    request: Request, session: Session, actor: Actor, breach_id: int, today: dt.date, **context: Any
) -> Response:
    record = visible_breach(session=session, breach_id=breach_id, actor=actor)
    [view] = staff_views(session=session, records=[record])
    context.setdefault("errors", {})
    context.setdefault("failed_action", None)
    context.setdefault("values", {})
    context.setdefault("status_code", 200)
    context.setdefault("done", None)
    days_left = None
    if record.stage_deadline is not None:
        try:
            days_left = load_calendar(session=session).working_days_between(today, record.stage_deadline)
        except DomainError:
            days_left = None  # a year whose holiday notice is not loaded: the date alone is shown
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_kind == "breach", CaseEvent.case_id == breach_id)
        .order_by(col(CaseEvent.seq))
    ).all()
    return render(
        request,
        "staff_breach.html",
        title=f"失信记录 {record.number}",
        record=view,
        events=[
            (
                e,
                BREACH.transition(e.event).label
                if e.event in BREACH.event_names
                else OTHER_EVENTS.get(e.event, e.event),
            )
            for e in events
        ],
        actions=[
            {"event": t.event, "label": t.label}
            for t in BREACH.available(record.state, actor.role)
            # Not a button that would be refused: a supervisor does not decide a department's repair.
            if t.event in DECISION_EVENTS
            and may_decide(complaint_id=record.complaint_id, action=t.event, role=actor.role)
        ],
        days_left=days_left,
        credit_office=CREDIT_OFFICE,
        filings=department_filings(session=session, record=record, actor=actor, today=today),
        filing_labels=FILINGS,
        upload_hint=upload_hint(),
        states=STATE_LABELS,
        requests=REQUEST_LABELS,
        severities={str(k): v for k, v in SEVERITY_LABELS.items()},
        correction_labels=CORRECTION_LABELS,
        previewable=PREVIEWABLE,
        tz=ZoneInfo(get_settings().timezone),
        **context,
    )


@router.get("/{breach_id}")
def breach_page(
    request: Request,
    breach_id: int,
    session: SessionDep,
    today: TodayDep,
    done: str | None = None,
    filed: str | None = None,
) -> Response:
    _, actor = current_actor(request, session, *DECIDERS)
    label = BREACH.transition(done).label if done in DECISION_EVENTS else FILINGS.get(filed or "")
    return _record_page(request, session, actor, breach_id, today, done=label)


def _correction(form: dict[str, str]) -> BreachCorrection:
    # Only the correction's own fields are read from the form: the CSRF field, reason and version are the
    # form's, not the record's. Blank fields are left as they are.
    return BreachCorrection.model_validate({k: form[k] for k in CORRECTION_LABELS if form.get(k)})


@router.post("/{breach_id}/act/{action}")
async def take_action(
    request: Request, breach_id: int, action: str, session: SessionDep, today: TodayDep
) -> Response:
    _, actor = current_actor(request, session, *DECIDERS)
    form = await form_data(request)
    version = form.get("expected_version", "")
    try:
        if version and not version.isdigit():
            raise ValidationFailed("表单版本号无效，请刷新页面后重试 (invalid expected_version)")
        decide(
            session=session,
            breach_id=breach_id,
            action=action,
            actor=actor,
            reason=form.get("reason", ""),
            today=today,
            calendar=load_calendar(session=session),
            expected_version=int(version) if version else None,
            corrected=_correction(form) if action == "uphold_correct" else None,
        )
    except (ValidationError, DomainError) as exc:
        errors, status = form_refused(session, exc)
        return _record_page(
            request, session, actor, breach_id, today,
            errors=errors, failed_action=action, values=form, status_code=status,
        )  # fmt: skip
    session.commit()
    return redirect(f"/staff/breaches/{breach_id}?done={action}")


@router.post("/{breach_id}/file/{kind}")
async def file_for_department(
    request: Request, breach_id: int, kind: str, session: SessionDep, today: TodayDep
) -> Response:
    _, actor = current_actor(request, session, Role.SUPERVISOR)
    form = await form_data(request)
    record = visible_breach(session=session, breach_id=breach_id, actor=actor)
    common: dict[str, Any] = {
        "session": session, "number": record.number, "actor": actor, "today": today,
        "calendar": load_calendar(session=session), "files": await form_uploads(request),
    }  # fmt: skip
    try:
        if kind == "objection":
            object_for_department(
                reason=form.get("reason", ""), document_reference=form.get("document_reference"), **common
            )
        elif kind == "repair":
            request_repair_for_department(
                statement=form.get("statement", ""), repair_pledge=form.get("repair_pledge", ""), **common
            )
        else:
            raise ValidationFailed(f"不支持的登记 {kind}；可用：{', '.join(FILINGS)} (unknown filing)")
    except DomainError as exc:
        errors, status = form_refused(session, exc, at_field=True)
        return _record_page(
            request, session, actor, breach_id, today,
            errors=errors, failed_action=f"file_{kind}", values=form, status_code=status,
        )  # fmt: skip
    session.commit()
    return redirect(f"/staff/breaches/{breach_id}?filed={kind}")
