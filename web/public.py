"""Public pages (no sign-in): the breach register, a record, the objection and repair forms, the pledgor's
evidence upload, case tracking. What the pledgor does needs its access code (models/pledges/access.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import CalendarDep, ClockDep, SessionDep, TodayDep
from models import complaints as service
from models.breach import PublishedBreach
from models.breach_record import offline_requests_only, published_class
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import DomainError, NotFound, ValidationFailed
from models.files import Upload
from models.pledges.access import WHERE_TO_FIND
from models.pledges.evidence_files import submit_by_pledgor
from models.pledges.self_service import (
    evidence_receipt,
    objection_reply_days,
    objection_reply_due,
    pledge_status,
)
from models.register import (
    RegisterQuery,
    breach_by_number,
    department_names,
    get_public_record,
    list_register,
    public_fields,
)
from models.register.requests import repair_busy, request_repair, submit_objection
from models.text import checked_text, visible_text
from web.core import form_data, no_store, page_router, public_message, redirect, refused, render
from web.files import form_uploads, upload_hint
from web.public_complaints import TRACK_TITLE

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


def _offline_only(rec: dict[str, Any]) -> str | None:
    """What the record's page and forms say instead of offering the forms, for a published record that
    came from a complaint: its subject has no access code, and the service refuses it
    (models/register/requests.py). An unpublished record's form does not say where it came from."""
    if "source_kind" not in rec or rec["source_kind"] == "pledge":
        return None
    return offline_requests_only(rec["record_number"])


def _form_record(
    session: Session, number: str, today: dt.date
) -> tuple[PublishedBreach | None, dict[str, Any]]:
    """The record an objection or repair form is about, as the form may show it. A record the register
    shows is shown; any other number (unknown, past its period, or of class 轻微: in force but not
    published, its subject still objecting or asking for repair with the access code) gets the same form
    with only the number typed, so the form tells nobody whether such a record exists, nor its class or
    source (the service answers them alike: ``requests.UNSHOWN_REFUSAL``)."""
    try:
        breach = breach_by_number(session=session, number=number, today=today, with_minor=True)
    except NotFound:
        return None, {"record_number": number}
    if _unpublished(breach):
        return None, {"record_number": number}
    return breach, public_fields(breach, department_names(session))


def _unpublished(breach: PublishedBreach | None) -> bool:
    return breach is None or not published_class(breach.severity)


def _form_dates(breach: PublishedBreach | None, today: dt.date, calendar: WorkCalendar) -> dict[str, Any]:
    """What the objection and repair forms say before they are filled: when an objection lodged today
    is answered, from which day a repair may be requested, and which files may be attached. For a
    record not shown (``breach`` None) only what holds for any record: its own dates are for its subject,
    whom the service tells on submission."""
    return {
        "upload_hint": upload_hint(),
        "reply_due": objection_reply_due(calendar=calendar, today=today),
        "reply_days": objection_reply_days(),
        "repair_earliest": breach.repair_earliest if breach else None,
        "repair_open": breach is not None and today >= breach.repair_earliest,
        # Another request pending: the form is not offered, the service would refuse it (one rule).
        "repair_busy": public_message(busy) if breach and (busy := repair_busy(breach)) else None,
    }


def _form_page(
    request: Request,
    breach: PublishedBreach | None,
    rec: dict[str, Any],
    *,
    template: str,
    title: str,
    values: dict[str, str],
    error: str | None,
    sent: bool,
    dates: dict[str, Any],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        template,
        title=title,
        record=rec,
        unpublished=_unpublished(breach),
        sent=sent,
        offline_only=_offline_only(rec),
        values=values,
        error=error,
        status_code=status_code,
        **dates,
    )


@router.get("/register")
def register(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    q: str | None = None,
    after: str | None = None,
) -> Response:
    """One search box: an 18-character credit code is searched exactly, anything else as a name prefix."""
    term = (q or "").strip()
    error = None
    try:
        term = _line(term, "搜索内容")
        looks_like_code = len(term) == 18 and term.isalnum() and term.isascii()
        query = RegisterQuery(
            name=None if looks_like_code or not term else term,
            credit_code=term.upper() if looks_like_code else None,
            after=after,
            limit=PAGE_SIZE,
        )
        items, cursor = list_register(session=session, query=query, today=today)
    except ValidationFailed as exc:
        items, cursor, error = [], None, public_message(exc.message)
    return render(
        request,
        "register.html",
        title="失信信息公示",
        q=term,
        items=items,
        next_cursor=cursor,
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
    rec = get_public_record(session=session, number=number, today=today)
    return render(
        request,
        "record.html",
        title=f"公示记录 {number}",
        record=rec,
        offline_only=_offline_only(rec),
        objected=bool(objected),
        repair=bool(repair),
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
    breach, rec = _form_record(session, number, today)
    return _form_page(
        request,
        breach,
        rec,
        template="objection.html",
        title="提出异议",
        values={},
        error=None,
        sent=bool(sent),
        dates=_form_dates(breach, today, calendar),
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
        complete=lambda form: bool(form.get("access_code")) and len(visible_text(form.get("reason"))) >= 2,
        missing="请填写办理码和异议理由（至少 2 个字）。",
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
    breach, rec = _form_record(session, number, today)
    return _form_page(
        request,
        breach,
        rec,
        template="repair.html",
        title="申请信用修复",
        values={},
        error=None,
        sent=bool(sent),
        dates=_form_dates(breach, today, calendar),
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
        complete=lambda form: all(form.get(k) for k in ("access_code", "statement", "repair_pledge")),
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
    complete: Callable[[dict[str, str]], bool],
    missing: str,
    submit: Callable[[dict[str, str], str | None, list[Upload]], object],
    done: str,
) -> Response:
    """The pledgor's objection or repair form on a record, with its files: back to the record when
    accepted, else the form again with why and the service's status code (a refused form's files are
    chosen again: a page cannot hand them back). A record that is not published has no page of its own
    to go back to (it answers 404), so its form itself says the request was received."""
    form = await form_data(request)
    breach, rec = _form_record(session, number, today)
    # The dates as the form showed them, before the request moves the record on.
    dates = _form_dates(breach, today, calendar)
    if not complete(form):
        error, status = f"{missing}{WHERE_TO_FIND}。", 422
    else:
        try:
            submit(form, _client(request), await form_uploads(request))
            session.commit()
            if _unpublished(breach):
                return redirect(f"/register/{number}/{form_name}?sent=1")
            return redirect(f"/register/{number}?{done}=1")
        except DomainError as exc:
            error, status = _public_refused(session, exc)
    # The code is not put back into the form: a page is no place to keep a secret.
    values = {k: v for k, v in form.items() if k != "access_code"}
    return _form_page(
        request,
        breach,
        rec,
        template=f"{form_name}.html",
        title=title,
        values=values,
        error=error,
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
