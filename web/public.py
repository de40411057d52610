"""Public pages (no sign-in): the breach register, a record, the objection and repair forms, the pledgor's
evidence upload, case tracking. What the pledgor does needs its access code (models/pledges/access.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import CalendarDep, ClockDep, SessionDep, TodayDep
from models import complaints as service
from models.breach import PublishedBreach
from models.breach_record import department_names, public_fields
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import DomainError, ValidationFailed
from models.files import Upload
from models.pledges.access import WHERE_TO_FIND
from models.pledges.evidence_files import submit_by_pledgor
from models.pledges.self_service import evidence_receipt, pending_request, pledge_status
from models.register import list_register
from models.register.queries import breach_by_number, count_register
from models.register.requests import check_repair_open, request_repair, submit_objection
from models.text import checked_text, visible_text
from web.core import form_data, no_store, page_router, public_message, redirect, refused, render
from web.files import form_uploads, upload_hint
from web.public_complaints import TRACK_TITLE
from web.public_register import (
    FILTERS,
    NO_RECORDS_HINT,
    export_url,
    filter_choices,
    form_dates,
    form_page,
    form_record,
    is_unpublished,
    objection_busy,
    page_url,
    record_offline_only,
    register_search,
)

router = page_router()
PAGE_SIZE = 20


def _public_refused(session: Session, exc: DomainError) -> tuple[str, int]:
    message, status = refused(session, exc)
    return public_message(message), status


def _line(value: str, label: str) -> str:
    """A number, code or search term from the address or a form, refused before any query when it holds a
    control character (PostgreSQL refuses a NUL with a database error, not a page)."""
    return checked_text(value, label=label, multiline=False)


def _record_number(number: str) -> str:
    return _line(number, "公示记录编号")


@router.get("/register")
def register(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    q: str | None = None,
    after: str | None = None,
) -> Response:
    """One search box (a credit code however typed, else a name prefix) and the filters; the list, its
    total and the export link all come from the one query (``register_select``)."""
    term = (q or "").strip()
    picked = {k: v.strip() for k, v in request.query_params.items() if k in FILTERS}
    error, query, total = None, None, None
    try:
        term = _line(term, "搜索内容")
        query = register_search(term, picked)
        items, cursor = list_register(
            session=session, query=replace(query, after=after, limit=PAGE_SIZE), today=today
        )
        total = count_register(session=session, query=query, today=today)
    except ValidationFailed as exc:
        items, cursor, error = [], None, public_message(exc.message)
    return render(
        request,
        "register.html",
        title="失信信息公示",
        q=term,
        picked=picked,
        choices=filter_choices(session),
        items=items,
        total=total,
        searched=bool(term or any(picked.values())),
        no_records_hint=NO_RECORDS_HINT,
        first_url=page_url(term, picked),
        next_url=page_url(term, picked, cursor) if cursor else None,
        export_urls={f: export_url(query, f) for f in ("csv", "xlsx")} if query and total else {},
        first_page=after is None,
        error=error,
    )


@router.get("/register/{number}")
def record(
    request: Request,
    number: str,
    session: SessionDep,
    today: TodayDep,
    objected: int | None = None,
    repair: int | None = None,
) -> Response:
    _record_number(number)
    breach = breach_by_number(session=session, number=number, today=today)
    rec = public_fields(breach, department_names(session))
    return render(
        request,
        "record.html",
        title=f"公示记录 {number}",
        record=rec,
        offline_only=record_offline_only(rec),
        objected=bool(objected),
        repair=bool(repair),
        # Just filed: the answer time as the acknowledgement mail gives it (the rule and stored deadline).
        pending=pending_request(breach) if objected or repair else None,
    )


@router.get("/register/{number}/objection")
def objection_form(
    request: Request,
    number: str,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    sent: int | None = None,
) -> Response:
    _record_number(number)
    breach, rec = form_record(session, number, today)
    return form_page(
        request,
        breach,
        rec,
        template="objection.html",
        title="提出异议",
        values={},
        error=None,
        sent=bool(sent),
        dates=form_dates(breach, today, calendar),
    )


@router.post("/register/{number}/objection")
async def objection(
    request: Request, number: str, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    _record_number(number)
    return await _record_action(
        request,
        session,
        number,
        today=today,
        calendar=calendar,
        form_name="objection",
        title="提出异议",
        # The API's rule (ObjectionBody, and the service's): any reason that is not blank.
        required={"access_code": "办理码", "reason": "异议理由"},
        missing="请填写办理码和异议理由。",
        submit=lambda form, address, files: submit_objection(
            session=session,
            number=number,
            access_code=form["access_code"],
            reason=form["reason"],
            evidence=form.get("evidence") or None,
            today=today,
            calendar=calendar,
            address=address,
            files=files,
            phone=form.get("phone") or None,
        ),
        done="objected",
    )


@router.get("/register/{number}/repair")
def repair_form(
    request: Request,
    number: str,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    sent: int | None = None,
) -> Response:
    _record_number(number)
    breach, rec = form_record(session, number, today)
    return form_page(
        request,
        breach,
        rec,
        template="repair.html",
        title="申请信用修复",
        values={},
        error=None,
        sent=bool(sent),
        dates=form_dates(breach, today, calendar),
    )


@router.post("/register/{number}/repair")
async def repair(
    request: Request, number: str, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    _record_number(number)
    return await _record_action(
        request,
        session,
        number,
        today=today,
        calendar=calendar,
        form_name="repair",
        title="申请信用修复",
        required={
            "access_code": "办理码",
            "statement": "纠正失信行为的说明",
            "repair_pledge": "信用修复承诺",
        },
        missing="请填写办理码、纠正失信行为的说明和信用修复承诺。",
        submit=lambda form, address, files: request_repair(
            session=session,
            number=number,
            access_code=form["access_code"],
            statement=form["statement"],
            repair_pledge=form["repair_pledge"],
            today=today,
            calendar=calendar,
            address=address,
            files=files,
            phone=form.get("phone") or None,
        ),
        done="repair",
        taken_now=lambda record: check_repair_open(record, today),
    )


async def _record_action(
    request: Request,
    session: Session,
    number: str,
    *,
    today: dt.date,
    calendar: WorkCalendar,
    form_name: str,
    title: str,
    required: dict[str, str],
    missing: str,
    submit: Callable[[dict[str, str], str | None, list[Upload]], object],
    done: str,
    taken_now: Callable[[PublishedBreach], None] | None = None,
) -> Response:
    """The pledgor's objection or repair form on a record, with its files: back to the record when
    accepted, else the form again with why and the service's status code (a refused form's files are
    chosen again: a page cannot hand them back). A record that is not published has no page of its own
    to go back to (it answers 404), so its form itself says the request was received. ``taken_now``
    refuses a request the shown record takes none of today, as the page says before anything is typed."""
    form = await form_data(request)
    breach, rec = form_record(session, number, today)
    # The dates as the form showed them, before the request moves the record on.
    dates = form_dates(breach, today, calendar)
    try:
        # A request the page did not offer (repair before the record's earliest day, or while another
        # request is pending: public facts of a shown record) is refused for that, whatever was typed.
        if breach is not None and taken_now is not None:
            taken_now(breach)
        # Each field left blank named at itself; a service's refusal at the field it names (a phone number).
        errors = {
            name: f"请填写{label}" for name, label in required.items() if not visible_text(form.get(name))
        }
        if errors:
            error, status = f"{missing}{WHERE_TO_FIND}。", 422
        else:
            submit(form, _client(request), await form_uploads(request))
            session.commit()
            if is_unpublished(breach):
                return redirect(f"/register/{number}/{form_name}?sent=1")
            return redirect(f"/register/{number}?{done}=1")
    except DomainError as exc:
        error, status = _public_refused(session, exc)
        errors = {str(field): error} if (field := exc.details.get("field")) else {}
        # A state that changed since the form was drawn (another request came first): the sentence
        # the form would now show, not the lifecycle's wording in staff terms.
        if status == 409 and form_name == "objection":
            error = objection_busy(form_record(session, number, today)[0]) or error
    # The code is not put back into the form: a page is no place to keep a secret.
    values = {k: v for k, v in form.items() if k != "access_code"}
    return form_page(
        request,
        breach,
        rec,
        template=f"{form_name}.html",
        title=title,
        values=values,
        error=error,
        errors=errors,
        sent=False,
        dates=dates,
        status_code=status,
    )


def _client(request: Request) -> str | None:
    # The same per-pledge and per-address limit on wrong access codes as the API.
    return request.client.host if request.client else None


@router.get("/pledges/evidence")
def evidence_form(request: Request, number: str | None = None) -> Response:
    return render(
        request,
        "pledge_evidence.html",
        title="提交履约材料",
        number=number or "",
        done=None,
        error=None,
        upload_hint=upload_hint(multiple=True),
    )


@router.post("/pledges/evidence")
async def evidence(request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep) -> Response:
    form = await form_data(request)
    number = form.get("number", "")
    error, status, done = None, 422, None
    try:
        uploads = await form_uploads(request, "file")
        if not number or not form.get("access_code") or not uploads:
            error = f"请填写承诺编号、办理码并选择材料文件。{WHERE_TO_FIND}。"
        else:
            _line(number, "承诺编号")
            done = submit_by_pledgor(
                session=session,
                number=number,
                access_code=form["access_code"],
                uploads=uploads,
                today=today,
                calendar=calendar,
                address=_client(request),
            )
            session.commit()
    except DomainError as exc:
        error, status = _public_refused(session, exc)
    return render(
        request,
        "pledge_evidence.html",
        title="提交履约材料",
        number=number,
        done=done,
        # The review's working days and due date, as the receipt mail states them.
        receipt=evidence_receipt(session=session, pledge_id=done[0].pledge_id) if done else None,
        error=error,
        status_code=201 if done else status,
        upload_hint=upload_hint(multiple=True),
    )


@router.get("/track")
def track_form(request: Request, number: str | None = None) -> Response:
    return render(request, "track.html", title=TRACK_TITLE, number=number or "", result=None, error=None)


@router.post("/track")
async def track(request: Request, session: SessionDep, clock: ClockDep) -> Response:
    form = await form_data(request)
    number, password = form.get("number", ""), form.get("password", "")
    if not number or not password:
        return render(
            request,
            "track.html",
            title=TRACK_TITLE,
            number=number,
            result=None,
            status_code=422,
            error="请填写投诉编号和查询密码。",
        )
    try:
        # The same per-case and per-address limit on wrong passwords as the API (models/ratelimit.py).
        address = request.client.host if request.client else None
        _line(number, "投诉编号")
        _line(password, "查询密码")
        result = service.track(
            session=session, number=number, password=password, clock=clock, address=address
        )
    except DomainError as exc:
        error, status = _public_refused(session, exc)
        return render(
            request,
            "track.html",
            title=TRACK_TITLE,
            number=number,
            result=None,
            status_code=status,
            error=error,
        )
    return render(request, "track.html", title=TRACK_TITLE, number=number, result=result, error=None)


_STATUS_TITLE = "承诺办理情况查询"


@router.get("/pledges/status")
def pledge_status_form(request: Request, number: str | None = None) -> Response:
    return render(
        request, "pledge_status.html", title=_STATUS_TITLE, number=number or "", result=None, error=None
    )


@router.post("/pledges/status")
async def pledge_status_page(request: Request, session: SessionDep, today: TodayDep) -> Response:
    """The pledgor reads their pledge's state with its number and access code."""
    form = await form_data(request)
    number = form.get("number", "").strip()
    if not number or not form.get("access_code"):
        return render(
            request,
            "pledge_status.html",
            title=_STATUS_TITLE,
            number=number,
            result=None,
            error=f"请填写承诺编号和办理码。{WHERE_TO_FIND}。",
            status_code=422,
        )
    try:
        _line(number, "承诺编号")
        _line(form["access_code"], "办理码")
        result = pledge_status(
            session=session,
            number=number,
            access_code=form["access_code"],
            address=_client(request),
            now=utcnow(),
            today=today,
        )
    except DomainError as exc:
        error, status = _public_refused(session, exc)
        return render(
            request,
            "pledge_status.html",
            title=_STATUS_TITLE,
            number=number,
            result=None,
            error=error,
            status_code=status,
        )
    no_store(request)  # the pledgor's name and pledge, shown for the code: no shared-computer cache
    return render(
        request, "pledge_status.html", title=_STATUS_TITLE, number=number, result=result, error=None
    )
