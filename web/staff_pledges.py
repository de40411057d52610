"""Pledges on pages for the authority's staff: the department's list with filters, a pledge's page (facts,
timeline, evidence files with preview and download, the actions the lifecycle offers), and the 告知书
handed to the pledgor, printable or as a PDF (web/pledge_notice.py).

The same services as the API (api/routes/pledges.py, api/routes/evidence.py): a handler sees only their
own department's pledges (another's is "not found"), every action form carries the CSRF field and the
pledge's version, and a refused action redraws the page with the service's reason and status.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session, select

from api.deps import CalendarDep, SessionDep, TodayDep, no_store
from api.downloads import attachment_header, file_response
from models.breach import Severity
from models.breach_record import publication_end, repair_earliest
from models.calendar import WorkCalendar
from models.errors import DomainError, ValidationFailed
from models.files import PREVIEWABLE
from models.lifecycle import PLEDGE, PledgeState, Role
from models.org import Department
from models.outbox import mobile_number
from models.pledge import ID_TYPE_LABELS, PLEDGE_TYPE_LABELS, PLEDGOR_KIND_LABELS, Pledge
from models.pledges import (
    PLEDGE_ACTIONS,
    PledgeQuery,
    get_pledge,
    list_pledges,
    pledge_action,
    pledge_events,
    publication_status,
)
from models.pledges.access import REISSUE_EVENT, reissue_access_code
from models.pledges.evidence import store_evidence
from models.pledges.evidence_files import evidence_outcomes, list_evidence, read_evidence
from models.pledges.mail import resubmission
from models.pledges.queries import SEARCH_MAX_LENGTH, event_label, pledge_records
from models.pledges.self_service import returned_evidence
from models.settings import get_settings
from models.workflow import Actor
from web.core import current_actor, form_data, form_refused, page_router, redirect, render
from web.files import form_uploads, upload_hint
from web.pledge_notice import NoticeFacts, check_code, notice_facts, notice_pdf, sent_by

router = page_router("/staff/pledges")

PLEDGE_STAFF = (Role.INTAKE, Role.HANDLER, Role.SUPERVISOR)  # as the API's pledge routes
PAGE_ACTIONS = (*PLEDGE_ACTIONS, REISSUE_EVENT)
# Actions that need a reason: what the form calls it, and where the reason goes (who will read it).
REASON_LABELS = {
    "reject_evidence": "退回理由（告知承诺人需要如何补正）",
    # models/pledges/review.py writes it into the record's facts, published word for word.
    "confirm_false": "认定虚假承诺的事实和理由（将作为失信记录的“失信事实”公开）",
    "cancel": "撤销理由（告知承诺人需要补正的事项）",
    REISSUE_EVENT: "重新发放的原因（如承诺人遗失告知书）",
    # models/pledges/review.py ``_notify`` carries a step pressed by hand with its note.
    "review_remind": "催办意见（将发给审批部门，可不填）",
    "review_supervise": "督办意见（将发给审批部门，可不填）",
    "review_escalate": "提级办理意见（将发给审批部门及其主管部门，可不填）",
}
_PLEDGOR_READS = "将随通知原文告知承诺人（邮件；承诺人凭办理码查询时也可看到），请写明事实和需要补正的事项"
_TIMELINE_ONLY = "仅记入办理过程，供工作人员查阅，不发给承诺人，也不随通知发送"
_CHASE_NOTE = (
    "原文写入发给审批部门的通知（提级办理时也发给其主管部门），其他督办人员也会收到；不发给承诺人。"
    "可写明报送时限等要求；内部意见请勿填写。"
)
REASON_HINTS = {
    "reject_evidence": _PLEDGOR_READS,
    "confirm_false": (
        "本栏原文写入失信记录的“失信事实”，在失信信息公示页面向社会公开并报送信用平台，同时告知承诺人"
        "（仅电话号码、证件号码等会被自动遮盖）。请只写认定的事实和依据，不要填写个人信息（如经办人、"
        "举报人姓名）或内部备注（如“已移交稽查”）。"
    ),
    "cancel": "将随撤销通知原文告知承诺人（邮件），请写明撤销的原因和需要补正的事项",
    REISSUE_EVENT: _TIMELINE_ONLY,
    "review_remind": _CHASE_NOTE,
    "review_supervise": _CHASE_NOTE,
    "review_escalate": _CHASE_NOTE,
}
# Actions whose reason may be left empty (the form marks the others required).
OPTIONAL_REASON = frozenset({REISSUE_EVENT, "review_remind", "review_supervise", "review_escalate"})
# Actions that cannot be undone from the pages and reach the public: the form states what follows and
# runs only with it ticked, as the public online withdrawal does (models/complaints/tracking.py).
CONFIRMED_ACTIONS = frozenset({"confirm_false"})
BUTTON_LABELS = {"confirm_false": "认定虚假承诺并公示失信记录"}
UPLOAD_EVENT = "submit_evidence"  # staff hand in the pledgor's evidence (the pledge page's upload form)
CODE_NOTICE = "notice_with_code"  # the page's form printing the notice with a code typed in from a list
REJECTED_TEMPLATE = "pledge_evidence_rejected"  # the notice a rejection sends (models/pledges/mail.py)
STATE_LABELS = {str(s): PLEDGE.state(s).label for s in PledgeState}


_BAD_FILTER = "日期格式应为 YYYY-MM-DD，状态请从列表中选择"
_FILTER_ERRORS = {"q": f"搜索词最多 {SEARCH_MAX_LENGTH} 个字；请输入编号、承诺人名称或信用代码的一部分"}


class ListFilters(BaseModel):
    """The list page's query: each filter optional; a malformed date is a 422 naming it."""

    state: PledgeState | None = None
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None
    publication_from: dt.date | None = None
    publication_to: dt.date | None = None
    q: str | None = Field(None, max_length=SEARCH_MAX_LENGTH)
    after: int | None = None


@router.get("")
def pledge_list(request: Request, session: SessionDep, today: TodayDep) -> Response:
    user, actor = current_actor(request, session, *PLEDGE_STAFF)
    raw = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    errors: dict[str, str] = {}
    try:
        filters = ListFilters.model_validate(raw)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): _FILTER_ERRORS.get(str(e["loc"][0]), _BAD_FILTER) for e in exc.errors()}
        filters = ListFilters()
    query = PledgeQuery(**{k: v for k, v in filters.model_dump().items() if k != "q"}, q=filters.q, limit=50)
    rows, cursor = list_pledges(session=session, query=query, actor=actor)
    names = {d.id: d.name for d in session.exec(select(Department)).all()}
    following = {k: v for k, v in raw.items() if k != "after"}
    return render(
        request,
        "staff_pledges.html",
        status_code=422 if errors else 200,
        title="告知承诺",
        search_max_length=SEARCH_MAX_LENGTH,
        pledges=rows,
        values=raw,
        errors=errors,
        states=STATE_LABELS,
        authority_names=names,
        next_query={**following, "after": str(cursor)} if cursor else None,
        today=today,
        own_department=user.role == Role.HANDLER,
    )


def false_pledge_confirmation(today: dt.date) -> str:
    """What a false-pledge finding today sets going (models/pledges/review.py ``record_false_pledge``), with
    the record's end and repair dates by the configured rule, for the box the handler ticks."""
    end = publication_end(Severity.SERIOUS, today).isoformat()
    earliest = repair_earliest(Severity.SERIOUS, today).isoformat()
    return (
        f"我确认认定虚假承诺：将生成一条“严重”失信记录，在失信信息公示页面向社会公开并报送信用平台，"
        f"至 {end} 止（承诺人 {earliest} 起方可申请信用修复，修复前不能再以告知承诺方式办理）；"
        "承诺人将收到认定告知。认定后不能在本页撤回。"
    )


def _confirmation(action: str, today: dt.date) -> str | None:
    return false_pledge_confirmation(today) if action in CONFIRMED_ACTIONS else None


def _action_forms(pledge: Pledge, actor: Actor, today: dt.date) -> list[dict[str, Any]]:
    return [
        {
            "event": t.event,
            "label": t.label,
            "button": BUTTON_LABELS.get(t.event, t.label),
            "reason": REASON_LABELS.get(t.event),
            "hint": REASON_HINTS.get(t.event),
            "required": t.event in REASON_LABELS and t.event not in OPTIONAL_REASON,
            "confirmation": _confirmation(t.event, today),
        }
        for t in PLEDGE.available(pledge.state, actor.role)
        if t.event in PAGE_ACTIONS
    ]


def _unconfirmed(action: str, form: dict[str, str]) -> None:
    """Refuse an action that needs its box ticked (``CONFIRMED_ACTIONS``) when it is not: before the
    service runs, so nothing is done and the page shows the refusal at the box."""
    if action in CONFIRMED_ACTIONS and form.get("confirmed") != "yes":
        raise ValidationFailed(
            "请先勾选确认框，确认已了解认定虚假承诺的后果后再提交 (tick the confirmation first)",
            field="confirmed",
        )


def _pledge_page(
    request: Request,
    session: Session,
    actor: Actor,
    pledge_id: int,
    calendar: WorkCalendar,
    today: dt.date,
    **context: Any,
) -> Response:
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    context.setdefault("errors", {})
    context.setdefault("failed_action", None)
    context.setdefault("values", {})
    context.setdefault("status_code", 200)
    context.setdefault("done", None)
    context.setdefault("reissued", None)
    rejection = returned_evidence(session, pledge)
    events = []
    for e in pledge_events(session=session, pledge_id=pledge_id, actor=actor):
        label = event_label(e.event)
        events.append({"at": e.at, "label": label, "actor_name": e.actor_name, "note": e.note,
                       "from_state": e.from_state, "to_state": e.to_state})  # fmt: skip
    page = render(
        request,
        "staff_pledge.html",
        title=f"告知承诺 {pledge.number}",
        pledge=pledge,
        authority=session.get(Department, pledge.authority_id),
        kind_label=PLEDGOR_KIND_LABELS.get(pledge.pledgor_kind, str(pledge.pledgor_kind)),
        type_label=PLEDGE_TYPE_LABELS.get(pledge.pledge_type) if pledge.pledge_type else None,
        id_type_label=ID_TYPE_LABELS.get(pledge.legal_representative_id_type)
        if pledge.legal_representative_id_type
        else None,
        state_label=STATE_LABELS.get(str(pledge.state), str(pledge.state)),
        states=STATE_LABELS,
        phone_texted=mobile_number(pledge.pledgor_phone) is not None,
        # Only deciders open breach record pages (web/staff_breaches.py): others see the number alone.
        record_links=actor.role in (Role.HANDLER, Role.SUPERVISOR),
        events=events,
        files=list_evidence(session=session, pledge_id=pledge_id, actor=actor),
        outcomes=evidence_outcomes(session=session, pledge_id=pledge_id),
        evidence_returned=rejection is not None,
        rejection=_untold_rejection(session, pledge, rejection, today),
        records=pledge_records(session=session, pledge_id=pledge_id),
        # An imported pledgor's code is handed over on paper from the import's list: the notice can carry
        # it once typed in, wherever a re-issue could hand out a new one (the code still serves there).
        code_printable=pledge.access_code_digest is not None
        and any(t.event == REISSUE_EVENT for t in PLEDGE.available(pledge.state, actor.role)),
        code_notice=CODE_NOTICE,
        previewable=PREVIEWABLE,
        can_upload=any(t.event == UPLOAD_EVENT for t in PLEDGE.available(pledge.state, actor.role)),
        upload_hint=upload_hint(multiple=True),
        actions=_action_forms(pledge, actor, today),
        # A fresh key per drawn form: a double-clicked re-issue answers the first one's code, no second code.
        reissue_key=secrets.token_urlsafe(16),
        reissue_event=REISSUE_EVENT,
        publication=publication_status(pledge, calendar),
        tz=ZoneInfo(get_settings().timezone),
        **context,
    )
    no_store(page)  # a re-issued access code may be on it
    return page


def _untold_rejection(
    session: Session, pledge: Pledge, rejection: Any, today: dt.date
) -> dict[str, Any] | None:
    """The returned evidence's reason and by when to resubmit (``resubmission``: what the notice and the
    status page say) when its rejection notice went by no channel (no e-mail, no mobile) and the pledgor
    may still resubmit: only staff can tell them, in person or by phone. As registration and re-issue
    warn of an undelivered code."""
    if rejection is None or pledge.state not in (PledgeState.REGISTERED, PledgeState.OVERDUE):
        return None
    if sent_by(session, pledge.id, REJECTED_TEMPLATE) is not None:
        return None
    return {
        "reason": rejection.note or "",
        "publication_day": pledge.publication_day,
        **resubmission(pledge=pledge, today=today),
    }


@router.get("/{pledge_id}")
def pledge_page(
    request: Request,
    pledge_id: int,
    session: SessionDep,
    calendar: CalendarDep,
    today: TodayDep,
    done: str | None = None,
) -> Response:
    _, actor = current_actor(request, session, *PLEDGE_STAFF)
    label = PLEDGE.transition(done).label if done in PLEDGE.event_names else None
    return _pledge_page(request, session, actor, pledge_id, calendar, today, done=label)


def _version(form: dict[str, str]) -> int | None:
    raw = form.get("expected_version", "")
    if raw and not raw.isdigit():
        raise ValidationFailed("表单版本号无效，请刷新页面后重试 (invalid expected_version)")
    return int(raw) if raw else None


@router.post("/{pledge_id}/act/{action}")
async def take_action(
    request: Request,
    pledge_id: int,
    action: str,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
) -> Response:
    _, actor = current_actor(request, session, *PLEDGE_STAFF)
    form = await form_data(request)
    reason = form.get("reason") or None
    try:
        _unconfirmed(action, form)
        if action == REISSUE_EVENT:
            pledge, code = reissue_access_code(
                session=session,
                pledge_id=pledge_id,
                actor=actor,
                today=today,
                calendar=calendar,
                reason=reason,
                expected_version=_version(form),
                idempotency_key=form.get("idempotency_key", "")[:128] or None,
            )
        else:
            pledge_action(
                session=session,
                pledge_id=pledge_id,
                action=action,
                actor=actor,
                today=today,
                calendar=calendar,
                expected_version=_version(form),
                reason=reason,
            )
    except DomainError as exc:
        # The unticked box is shown at the box; every other refusal above the actions, as before.
        errors, status = form_refused(session, exc, at_field=exc.details.get("field") == "confirmed")
        return _pledge_page(
            request, session, actor, pledge_id, calendar, today,
            errors=errors, failed_action=action, values=form, status_code=status,
        )  # fmt: skip
    session.commit()  # before a re-issued code is shown: a code that is not stored is never given
    if action == REISSUE_EVENT:
        told = sent_by(session, pledge.id, "pledge_access_code")
        reissued = {"number": pledge.number, "code": code, "sent_by": told}
        return _pledge_page(request, session, actor, pledge_id, calendar, today, reissued=reissued)
    return redirect(f"/staff/pledges/{pledge_id}?done={action}")


@router.get("/{pledge_id}/evidence/{evidence_id}")
def evidence_file(
    request: Request, pledge_id: int, evidence_id: int, session: SessionDep, inline: bool = False
) -> Response:
    """A stored evidence file: downloaded, or with ``inline`` shown in the page (PDF and images only)."""
    _, actor = current_actor(request, session, *PLEDGE_STAFF)
    row, content = read_evidence(session=session, pledge_id=pledge_id, evidence_id=evidence_id, actor=actor)
    return file_response(filename=row.filename, content_type=row.content_type, content=content, inline=inline)


@router.post("/{pledge_id}/evidence")
async def upload_evidence(
    request: Request, pledge_id: int, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    """Staff hand in the pledgor's evidence (e.g. brought to the window on paper and scanned): audited as
    uploaded by them on the pledgor's behalf, with the CSRF field and the pledge's version."""
    _, actor = current_actor(request, session, *PLEDGE_STAFF)
    form = await form_data(request)
    try:
        get_pledge(session=session, pledge_id=pledge_id, actor=actor)  # another department's: not found
        store_evidence(
            session=session,
            pledge_id=pledge_id,
            uploads=await form_uploads(request, "file"),
            actor=actor,
            today=today,
            calendar=calendar,
            note=form.get("note") or None,
            expected_version=_version(form),
        )
    except DomainError as exc:
        errors, status = form_refused(session, exc)
        return _pledge_page(
            request, session, actor, pledge_id, calendar, today,
            errors=errors, failed_action=UPLOAD_EVENT, values=form, status_code=status,
        )  # fmt: skip
    session.commit()
    return redirect(f"/staff/pledges/{pledge_id}?done={UPLOAD_EVENT}")


def _notice(
    request: Request, session: Session, pledge_id: int, today: dt.date, code: str | None
) -> NoticeFacts:
    """The notice's facts for a member of staff who may see the pledge (another department's: not found);
    ``code``, when given, must be the pledge's current access code."""
    _, actor = current_actor(request, session, *PLEDGE_STAFF)
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    return notice_facts(
        pledge=pledge,
        authority=session.get(Department, pledge.authority_id),
        today=today,
        access_code=check_code(pledge, code),
    )


def _notice_page(request: Request, notice: NoticeFacts) -> Response:
    page = render(request, "pledge_notice.html", title=f"告知承诺书 {notice.number}", notice=notice)
    if notice.access_code:
        no_store(page)
    return page


def _notice_pdf(notice: NoticeFacts) -> Response:
    headers = {
        "Content-Disposition": attachment_header(notice.filename),
        "X-Content-Type-Options": "nosniff",
        # A notice with its access code must not stay in a cache; one without is cheap to draw again.
        "Cache-Control": "no-store" if notice.access_code else "private, no-cache",
    }
    return Response(content=notice_pdf(notice), media_type="application/pdf", headers=headers)


@router.get("/{pledge_id}/notice")
def notice(request: Request, pledge_id: int, session: SessionDep, today: TodayDep) -> Response:
    """告知书: the pledge's terms, to print and hand to the pledgor. Drawn without a code handed in, it
    cannot carry the access code (only its hash is stored) and says how to use it and how to get a new one;
    the page that shows a new code once, and the pledge page for a code typed in, offer the notice with it
    (the POST below)."""
    return _notice_page(request, _notice(request, session, pledge_id, today, None))


async def _typed_notice(
    request: Request, session: Session, pledge_id: int, today: dt.date, calendar: WorkCalendar
) -> NoticeFacts | Response:
    """The notice carrying the code handed in: the one just shown (registration, re-issue), or one staff
    typed in on the pledge page from an import's list of offline codes. A typed code that is not the
    pledge's redraws the pledge page with the refusal at the field, never echoing the wrong code.

    Checked by ``check_code`` (the hash alone), not ``check_access_code``: that one counts wrong codes
    against the pledge number's rate limit, so a handler's typos would lock the pledgor out of their own
    pledge. Staff here are signed in and see only pledges they may re-issue a code for anyway."""
    form = await form_data(request)
    try:
        return _notice(request, session, pledge_id, today, form.get("access_code", ""))
    except ValidationFailed as exc:
        if form.get("form") != CODE_NOTICE:
            raise
        _, actor = current_actor(request, session, *PLEDGE_STAFF)
        errors, status = form_refused(session, exc, at_field=True)
        return _pledge_page(
            request, session, actor, pledge_id, calendar, today,
            errors=errors, failed_action=CODE_NOTICE, status_code=status,
        )  # fmt: skip


@router.post("/{pledge_id}/notice")
async def notice_with_code(
    request: Request, pledge_id: int, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    """The notice carrying a code handed in (``_typed_notice``), checked against its hash."""
    notice = await _typed_notice(request, session, pledge_id, today, calendar)
    return notice if isinstance(notice, Response) else _notice_page(request, notice)


@router.get("/{pledge_id}/notice.pdf")
def notice_pdf_file(request: Request, pledge_id: int, session: SessionDep, today: TodayDep) -> Response:
    """The same notice as a PDF download."""
    return _notice_pdf(_notice(request, session, pledge_id, today, None))


@router.post("/{pledge_id}/notice.pdf")
async def notice_pdf_with_code(
    request: Request, pledge_id: int, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    """The PDF carrying a code handed in, checked against its hash."""
    notice = await _typed_notice(request, session, pledge_id, today, calendar)
    return notice if isinstance(notice, Response) else _notice_pdf(notice)
