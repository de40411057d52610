"""Staff workbench: my queue, registering complaints and pledges, the case page and its actions."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import CalendarDep, SessionDep, TodayDep, no_store
from models import complaints as service
from models.breach import SEVERITY_LABELS
from models.calendar import WorkCalendar
from models.complaint import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    Channel,
    Complaint,
    ComplaintCreate,
    handling_case,
)
from models.complaints.actions import FILE_ACTIONS
from models.complaints.assisting import assist_opinions, without_opinion
from models.complaints.files import complaint_files
from models.complaints.queue import warned_yellow
from models.complaints.visibility import assisting_departments
from models.errors import DomainError
from models.files import PREVIEWABLE
from models.hotline_followups import follow_ups_of
from models.lifecycle import COMPLAINT, ComplaintState, Role
from models.org import Department
from models.pledge import PLEDGOR_KIND_LABELS, PledgeCreate
from models.pledges import register_pledge_with_code
from models.pledges.access import pledge_id_by_number, reissue_access_code
from models.settings import get_settings
from models.workflow import Actor
from web.complaint_page_notes import (
    ACTION_FIELD_HINTS,
    CHASE_NOTE_LABEL,
    PUBLISHED_REASON_LABEL,
    action_body,
    action_forms,
    done_message,
    first_invalid,
    in_form_order,
    unchosen,
    untold_complainant,
)
from web.core import current_actor, form_data, form_refused, page_router, redirect, refused, render
from web.files import form_uploads, upload_hint
from web.pledge_notice import sent_by

router = page_router("/staff")

STAFF = (Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN)
REGISTRARS = (Role.INTAKE, Role.SUPERVISOR)
PLEDGE_STAFF = (Role.INTAKE, Role.HANDLER, Role.SUPERVISOR)

FIELD_LABELS = {
    "channel": "受理渠道",
    "complainant_name": "投诉人名称",
    "complainant_phone": "联系电话",
    "complainant_email": "电子邮箱",
    "complainant_credit_code": "统一社会信用代码",
    "respondent_name": "被投诉单位名称",
    "respondent_department_code": "被投诉部门",
    "category": "投诉类别",
    "amount": "涉及金额（元）",
    "summary": "投诉摘要",
    "description": "详细情况",
    "reason": "理由",
    "route": "应当通过的渠道",
    "route_detail": "其他渠道说明",
    "target_number": "并入的案件编号",
    "lead_department_code": "主办部门",
    "assisting_department_codes": "协办部门（可多选，按住 Ctrl 或 ⌘ 选择多个）",
    "explanation": "核实不属实的说明",
    "deadline_days": "整改期限（工作日，留空用默认）",
    "requirements": "整改要求",
    "evidence": "整改情况及证明",
    "severity": "失信程度",
    "public_text": "事实摘要（公示文本，不得含个人信息）",
    "reply_text": "答复内容",
    "satisfaction": "回访满意度",
    "days": "申请延长的工作日数",
    "refusal_facts": "拒不整改的事实及证据说明",
    "document_reference": "证明文件名称或文号",
    "written_explanation": "违约失信原因的书面说明",
    "rectification": "整改措施及完成情况",
    "contact_result": "联系情况（方式、号码、结果）",
    "opinion": "协办意见（掌握的情况、材料和意见，将告知主办单位）",
    "note": "备注",
}
# A field whose meaning depends on the action: the pause's reason is shown to the complainant as what to
# supply, a withdrawal's is the complainant's own; the template looks here first.
ACTION_FIELD_LABELS = {
    ("await_complainant", "reason"): "需投诉人补充的内容（将告知投诉人）",
    ("withdraw", "reason"): "投诉人撤回的理由",
    ("reject", "reason"): "不予受理的理由（将告知投诉人）",
    ("close_unsatisfied", "reason"): "不满意办结的理由（将告知投诉人）",
    ("close_unreachable", "reason"): "无法联系办结的说明（将告知投诉人）",
    # The one reason the public reads: the register's 失信事实 (web/complaint_page_notes.py).
    ("confirm_breach", "reason"): PUBLISHED_REASON_LABEL,
    **{(chase, "note"): CHASE_NOTE_LABEL for chase in ("remind", "supervise", "escalate")},
}
ROUTE_LABELS = {
    "litigation": "诉讼",
    "arbitration": "仲裁",
    "reconsideration": "行政复议",
    "discipline": "纪检监察",
    "petition": "信访",
    "disclosure": "政府信息公开",
    "other": "其他",
}
CHOICES: dict[str, dict[str, str]] = {
    "route": ROUTE_LABELS,
    "severity": {str(severity): label for severity, label in SEVERITY_LABELS.items()},
    "satisfaction": {"满意": "满意", "基本满意": "基本满意"},
}
LONG_FIELDS = {
    *("reason", "explanation", "requirements", "evidence", "reply_text", "description"),
    *("refusal_facts", "written_explanation", "rectification", "contact_result", "opinion"),
}


def departments(session: Session) -> list[Department]:
    return list(session.exec(select(Department).where(col(Department.active)).order_by(col(Department.code))))


# The workbench shows the soonest-due tasks; a longer queue says so and points to the filtered lists.
QUEUE_SHOWN = 200


@router.get("")
def workbench(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    done: str | None = None,
    number: str | None = Query(None, max_length=32),
) -> Response:
    user, actor = current_actor(request, session, *STAFF)
    queue = service.work_queue(
        session=session, actor=actor, today=today, calendar=calendar, limit=QUEUE_SHOWN
    )
    recent, _ = service.list_complaints(
        session=session, actor=actor, filters=service.ComplaintFilter(limit=20), today=today
    )
    return render(
        request,
        "workbench.html",
        title="我的工作台",
        queue=queue,
        yellow=warned_yellow(tasks=queue, today=today, calendar=calendar),
        queue_shown=QUEUE_SHOWN,
        channel_labels=CHANNEL_LABELS,
        recent=recent,
        today=today,
        state_label=service.state_label,
        event_label=service.event_label,
        can_register=user.role in REGISTRARS,
        can_pledge=user.role in PLEDGE_STAFF,
        done=service.event_label(done) if done else None,
        done_number=number,
    )


def _complaint_form(request: Request, session: Session, **context: Any) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("status_code", 200)
    return render(
        request,
        "complaint_new.html",
        title="登记投诉",
        channels=CHANNEL_LABELS,
        categories=CATEGORY_LABELS,
        departments=departments(session),
        labels=FIELD_LABELS,
        **context,
    )


@router.get("/complaints/new")
def new_complaint(request: Request, session: SessionDep) -> Response:
    user, _ = current_actor(request, session, *REGISTRARS)
    # Intake staff take 12345 hotline calls; everyone else registering a complaint is usually at a window.
    channel = Channel.HOTLINE if user.role == Role.INTAKE else Channel.WINDOW
    # A fresh key per drawn form: a reloaded or double-clicked result registers nothing a second time.
    values = {"channel": channel, "idempotency_key": secrets.token_urlsafe(16)}
    return _complaint_form(request, session, values=values)


@router.post("/complaints/new")
async def create_complaint(
    request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    _, actor = current_actor(request, session, *REGISTRARS)
    form = await form_data(request)
    key = form.pop("idempotency_key", "")[:128]
    values = {k: v for k, v in form.items() if v != ""}
    try:
        data = ComplaintCreate.model_validate(values)
        if key:
            complaint, password = service.register_complaint_once(
                session=session, data=data, actor=actor, today=today, calendar=calendar, idempotency_key=key
            )
        else:
            complaint, password = service.register_complaint(
                session=session, data=data, actor=actor, today=today, calendar=calendar
            )
    except (ValidationError, DomainError) as exc:
        errors, status = form_refused(session, exc, at_field=True)
        # The same key again: the corrected form is still the one registration.
        values = {**form, "idempotency_key": key}
        return _complaint_form(request, session, values=values, errors=errors, status_code=status)
    session.commit()
    page = render(
        request,
        "complaint_created.html",
        title="投诉已登记",
        complaint=complaint,
        password=password,  # None: a repeat of a registration whose password was shown the first time
        reissue_key=secrets.token_urlsafe(16),
        # The caller may be calling about a case of theirs still open: shown for merging (并单).
        same_complainant=service.open_cases_of_complainant(session=session, complaint=complaint, actor=actor),
        state_label=service.state_label,
    )
    no_store(page)  # the tracking password, shown this once
    return page


def _pledge_form(request: Request, session: Session, **context: Any) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("status_code", 200)
    context.setdefault("created", None)
    context.setdefault("sent_by", None)
    context.setdefault("reissued", None)
    context.setdefault("reissue_error", None)
    context.setdefault("reissue_values", {})
    # A fresh key per drawn form: a double-clicked re-issue answers the first one's code, no second code.
    context.setdefault("reissue_key", secrets.token_urlsafe(16))
    page = render(
        request,
        "pledge_new.html",
        title="登记告知承诺",
        kinds=PLEDGOR_KIND_LABELS,
        departments=departments(session),
        **context,
    )
    # It shows a new access code once: no browser cache or history may keep a copy.
    no_store(page)
    return page


@router.get("/pledges/new")
def new_pledge(request: Request, session: SessionDep) -> Response:
    user, _ = current_actor(request, session, *PLEDGE_STAFF)
    dept = session.get(Department, user.department_id) if user.department_id else None
    return _pledge_form(request, session, values={"authority_code": dept.code if dept else ""})


@router.post("/pledges/new")
async def create_pledge(
    request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    _, actor = current_actor(request, session, *PLEDGE_STAFF)
    form = await form_data(request)
    try:
        data = PledgeCreate.model_validate({k: v for k, v in form.items() if v != ""})
        pledge, access_code = register_pledge_with_code(
            session=session, data=data, actor=actor, today=today, calendar=calendar
        )
    except (ValidationError, DomainError) as exc:
        errors, status = form_refused(session, exc)
        return _pledge_form(request, session, values=form, errors=errors, status_code=status)
    session.commit()
    return _pledge_form(
        request,
        session,
        values={"authority_code": form.get("authority_code", "")},
        created=pledge,
        access_code=access_code,
        sent_by=sent_by(session, pledge.id, "pledge_registered"),
    )


@router.post("/pledges/access-code")
async def reissue_code(
    request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    """重新发放办理码 (the pledgor lost it, or the pledge predates codes): shown once and mailed."""
    _, actor = current_actor(request, session, *PLEDGE_STAFF)
    form = await form_data(request)
    try:
        pledge, code = reissue_access_code(
            session=session,
            pledge_id=pledge_id_by_number(session=session, number=form.get("number", ""), actor=actor),
            actor=actor,
            today=today,
            calendar=calendar,
            reason=form.get("reason") or None,
            idempotency_key=form.get("idempotency_key", "")[:128] or None,
        )
    except DomainError as exc:
        error, status = refused(session, exc)
        return _pledge_form(request, session, reissue_values=form, reissue_error=error, status_code=status)
    session.commit()
    reissued = {
        "id": pledge.id,
        "number": pledge.number,
        "code": code,
        "sent_by": sent_by(session, pledge.id, "pledge_access_code"),
    }
    return _pledge_form(request, session, reissued=reissued)


def _return_visit(events: list[Any]) -> dict[str, Any] | None:
    """The latest return visit's rating and when it was recorded: the closing or redo event that carries
    it (a case reopened later keeps the last answer the complainant gave)."""
    rated = [e for e in events if e.data.get("satisfaction")]
    return {"satisfaction": rated[-1].data["satisfaction"], "at": rated[-1].at} if rated else None


def draw_case_page(
    request: Request,
    session: Session,
    actor: Actor,
    complaint_id: int,
    today: dt.date,
    calendar: WorkCalendar,
    **context: Any,
) -> Response:
    complaint = service.get_complaint(session=session, complaint_id=complaint_id, actor=actor)
    spec = COMPLAINT.state(complaint.state)
    context.setdefault("errors", {})
    context.setdefault("failed_action", None)
    context.setdefault("reissued", None)  # a new tracking password, drawn once (web/complaint_password.py)
    # A fresh key per drawn re-issue form: a reloaded result issues no second password.
    context.setdefault("reissue_key", secrets.token_urlsafe(16))
    context.setdefault("values", {})
    context.setdefault("status_code", 200)
    done_action = context.pop("done_action", None)
    # Any department, retired ones too: a finished case keeps the departments that handled it; a dispatch
    # chooses among the active ones.
    every = {d.id: d for d in session.exec(select(Department).order_by(col(Department.code))).all()}
    names = {i: d for i, d in every.items() if d.active}
    assisting = assisting_departments(session=session, complaint_ids=[complaint_id])[complaint_id]
    # The case a merged complaint joined, and the one handling it now if that one was merged later.
    joined = session.get(Complaint, complaint.merged_into_id) if complaint.merged_into_id else None
    handling = handling_case(session, complaint)
    events = service.timeline(session=session, complaint=complaint)
    done, done_untold = done_message(session, complaint, done_action, events) if done_action else (None, None)
    failed = context.get("failed_action")
    errors = in_form_order(failed, context.pop("errors")) if failed else context.pop("errors")
    opinions = assist_opinions(session=session, complaint=complaint)
    # What the complainant was told of a 不予受理 (the /track page's wording), for a clerk taking their call.
    reason, route = (
        service.why_not_accepted(service.case_events(session, complaint))
        if complaint.state == ComplaintState.NOT_ACCEPTED
        else (None, None)
    )
    return render(
        request,
        "complaint.html",
        title=f"投诉 {complaint.number}",
        complaint=complaint,
        joined=joined,
        handling=handling if handling is not complaint and handling is not joined else None,
        spec=spec,
        events=events,
        follow_ups=follow_ups_of(session=session, complaint=complaint),
        # A supervisor needs both to know whether 不满意办结 is open yet without counting the timeline.
        return_visit=_return_visit(events),
        not_accepted_reason=reason,
        suggested_route=route,
        redos_before_unsatisfied=get_settings().unsatisfied_close_after_redos,
        actions=action_forms(session, complaint, actor, today),
        # Why an action the role has in this state is not offered yet (e.g. 确认违约失信 before it is due).
        withheld=service.withheld_actions(session=session, complaint=complaint, actor=actor, today=today),
        next_actors=service.who_acts_next(session=session, complaint=complaint, today=today),
        days_left=None if spec.clock_paused else calendar.working_days_left(today, complaint.stage_deadline),
        # The stage's own span, which an extension or a per-case rectification period may have changed.
        stage_span=calendar.working_days_left(complaint.stage_started_on, complaint.stage_deadline)
        if complaint.stage_started_on
        else None,
        today=today,
        state_label=service.state_label,
        channel_label=CHANNEL_LABELS.get(complaint.channel, complaint.channel),
        category_label=CATEGORY_LABELS.get(complaint.category, complaint.category),
        lead=every.get(complaint.lead_department_id),
        # Whom the stage's 提级办理 raised the case to (the late department's 主管部门), for the 督办 line.
        escalated_to=every.get(complaint.escalated_to_department_id),
        assisting=[d.name for d in assisting],
        # 协办意见 for every viewer; beside the reply form, the assisting departments that gave none yet.
        assist_opinions=opinions,
        opinions_missing=[d.name for d in without_opinion(assisting, opinions)],
        respondent=every.get(complaint.respondent_department_id),
        departments=list(names.values()),
        labels=FIELD_LABELS,
        action_labels=ACTION_FIELD_LABELS,
        choices=CHOICES,
        long_fields=LONG_FIELDS,
        tz=ZoneInfo(get_settings().timezone),
        prefect_ui_url=get_settings().prefect_ui_url.rstrip("/"),
        # The rectification files (staff only; the public tracking page lists none), and the file input.
        files=complaint_files(session=session, complaint_id=complaint_id, actor=actor),
        file_actions=FILE_ACTIONS,
        upload_hint=upload_hint(),
        previewable=PREVIEWABLE,
        done=done,
        # The complainant notices that reached nobody: of the action just taken, else of the current step.
        untold=done_untold or untold_complainant(session, complaint, actor, events),
        errors=errors,
        # The summary above the page names the failed form's fields as that form labels them; the first of
        # them the form shows takes the focus (None: the summary does).
        error_labels={
            f: ACTION_FIELD_LABELS.get((failed or "", f)) or FIELD_LABELS.get(f, f) for f in errors
        },
        failed_label=service.event_label(failed) if failed else None,
        focus_field=first_invalid(failed, errors) if failed else None,
        hints=ACTION_FIELD_HINTS,
        **context,
    )


@router.get("/complaints/{complaint_id}")
def case_page(
    request: Request,
    complaint_id: int,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    done: str | None = None,
) -> Response:
    _, actor = current_actor(request, session, *STAFF)
    return draw_case_page(request, session, actor, complaint_id, today, calendar, done_action=done)


@router.post("/complaints/{complaint_id}/act/{action}")
async def take_action(
    request: Request,
    complaint_id: int,
    action: str,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
) -> Response:
    _, actor = current_actor(request, session, *STAFF)
    form = await form_data(request)
    # The 协办 picker selects several departments under one name; form_data keeps one value per name.
    ticked = (await request.form()).getlist("assisting_department_codes")
    if len(ticked) > 1:
        form["assisting_department_codes"] = ",".join(str(code) for code in ticked)
    # A select left on its empty option is refused here, beside the form's other errors: the API may have a
    # default for it (失信程度) that the page must not take in the clerk's place.
    errors, status = unchosen(action, form, FIELD_LABELS), 422
    complaint = None
    try:
        body = action_body(action, form)
        if not errors:
            complaint = service.act(
                session=session,
                complaint_id=complaint_id,
                action=action,
                body=body,
                actor=actor,
                today=today,
                calendar=calendar,
                files=await form_uploads(request),
            )
    except (ValidationError, DomainError) as exc:
        refusal, status = form_refused(session, exc)
        errors = {**refusal, **errors}
    if complaint is None:
        return draw_case_page(
            request,
            session,
            actor,
            complaint_id,
            today,
            calendar,
            errors=errors,
            failed_action=action,
            values=form,
            status_code=status,
        )
    session.commit()
    if not service.can_see(session=session, complaint=complaint, actor=actor):
        # A returned order (退单) leaves the department: its case page would now answer "not found".
        return redirect(f"/staff?done={action}&number={complaint.number}")
    return redirect(f"/staff/complaints/{complaint_id}?done={action}")
