"""Public pages (no sign-in): the breach register, a record, the objection and repair forms, the pledgor's
evidence upload, case tracking. What the pledgor does needs its access code (models/pledge_access.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from api.deps import CalendarDep, ClockDep, SessionDep, TodayDep, read_upload
from api.errors import status_for
from models import complaints as service
from models.errors import DomainError, ValidationFailed
from models.pledge_access import WHERE_TO_FIND
from models.pledge_evidence import submit_by_pledgor
from models.register import (
    RegisterQuery,
    get_public_record,
    list_register,
    request_repair,
    submit_objection,
)
from web.core import form_data, page_router, redirect, render

router = page_router()
PAGE_SIZE = 20


@router.get("/register")
def register(
    request: Request,
    session: SessionDep,
    q: str | None = None,
    after: str | None = None,
) -> Response:
    """One search box: an 18-character credit code is searched exactly, anything else as a name prefix."""
    term = (q or "").strip()
    looks_like_code = len(term) == 18 and term.isalnum() and term.isascii()
    query = RegisterQuery(
        name=None if looks_like_code or not term else term,
        credit_code=term.upper() if looks_like_code else None,
        after=after,
        limit=PAGE_SIZE,
    )
    error = None
    try:
        items, cursor = list_register(session=session, query=query)
    except ValidationFailed as exc:
        items, cursor, error = [], None, exc.message
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
    objected: int | None = None,
    repair: int | None = None,
) -> Response:
    rec = get_public_record(session=session, number=number)
    return render(
        request,
        "record.html",
        title=f"公示记录 {number}",
        record=rec,
        objected=bool(objected),
        repair=bool(repair),
    )


@router.get("/register/{number}/objection")
def objection_form(request: Request, number: str, session: SessionDep) -> Response:
    rec = get_public_record(session=session, number=number)
    return render(
        request,
        "objection.html",
        title="提出异议",
        record=rec,
        values={},
        error=None,
        status_code=200,
    )


@router.post("/register/{number}/objection")
async def objection(
    request: Request, number: str, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    form = await form_data(request)
    rec = get_public_record(session=session, number=number)
    if not form.get("access_code") or len(form.get("reason", "")) < 2:
        return render(
            request,
            "objection.html",
            title="提出异议",
            record=rec,
            values=form,
            status_code=422,
            error=f"请填写办理码和异议理由（至少 2 个字）。{WHERE_TO_FIND}。",
        )
    try:
        submit_objection(
            session=session,
            number=number,
            access_code=form["access_code"],
            reason=form["reason"],
            evidence=form.get("evidence") or None,
            today=today,
            calendar=calendar,
            # The same per-pledge and per-address limit on wrong codes as the API.
            address=request.client.host if request.client else None,
        )
    except DomainError as exc:
        session.rollback()
        return render(
            request,
            "objection.html",
            title="提出异议",
            record=rec,
            values=form,
            status_code=status_for(exc),
            error=exc.message,
        )
    return redirect(f"/register/{number}?objected=1")


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/register/{number}/repair")
def repair_form(request: Request, number: str, session: SessionDep) -> Response:
    rec = get_public_record(session=session, number=number)
    return render(request, "repair.html", title="申请信用修复", record=rec, values={}, error=None)


@router.post("/register/{number}/repair")
async def repair(
    request: Request, number: str, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    form = await form_data(request)
    rec = get_public_record(session=session, number=number)
    error, status = None, 422
    if not form.get("access_code") or not form.get("statement") or not form.get("repair_pledge"):
        error = f"请填写办理码、纠正失信行为的说明和信用修复承诺。{WHERE_TO_FIND}。"
    else:
        try:
            request_repair(
                session=session,
                number=number,
                access_code=form["access_code"],
                statement=form["statement"],
                repair_pledge=form["repair_pledge"],
                today=today,
                calendar=calendar,
                address=_client(request),
            )
        except DomainError as exc:
            session.rollback()
            error, status = exc.message, status_for(exc)
    if error:
        # The code is not put back into the form: a page is no place to keep a secret.
        values = {k: v for k, v in form.items() if k != "access_code"}
        return render(
            request,
            "repair.html",
            title="申请信用修复",
            record=rec,
            values=values,
            error=error,
            status_code=status,
        )
    return redirect(f"/register/{number}?repair=1")


@router.get("/pledges/evidence")
def evidence_form(request: Request, number: str | None = None) -> Response:
    return render(
        request, "pledge_evidence.html", title="提交履约材料", number=number or "", done=None, error=None
    )


@router.post("/pledges/evidence")
async def evidence(request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep) -> Response:
    form = await form_data(request)
    upload = (await request.form()).get("file")  # parsed once: Starlette keeps the form
    number = form.get("number", "")
    error, status, done = None, 422, None
    if not number or not form.get("access_code") or upload is None or isinstance(upload, str):
        error = f"请填写承诺编号、办理码并选择材料文件。{WHERE_TO_FIND}。"
    else:
        try:
            # Starlette's form parser gives its own UploadFile; read_upload only reads from it.
            content = await read_upload(upload)  # type: ignore[arg-type]
            done = submit_by_pledgor(
                session=session,
                number=number,
                access_code=form["access_code"],
                filename=upload.filename or "evidence",
                content=content,
                today=today,
                calendar=calendar,
                address=_client(request),
            )
        except DomainError as exc:
            session.rollback()
            error, status = exc.message, status_for(exc)
    return render(
        request,
        "pledge_evidence.html",
        title="提交履约材料",
        number=number,
        done=done,
        error=error,
        status_code=201 if done else status,
    )


@router.get("/track")
def track_form(request: Request, number: str | None = None) -> Response:
    return render(
        request, "track.html", title="投诉办理进度查询", number=number or "", result=None, error=None
    )


@router.post("/track")
async def track(request: Request, session: SessionDep, clock: ClockDep) -> Response:
    form = await form_data(request)
    number, password = form.get("number", ""), form.get("password", "")
    if not number or not password:
        return render(
            request,
            "track.html",
            title="投诉办理进度查询",
            number=number,
            result=None,
            status_code=422,
            error="请填写投诉编号和查询密码。",
        )
    try:
        # The same per-case and per-address limit on wrong passwords as the API (models/ratelimit.py).
        address = request.client.host if request.client else None
        result = service.track(
            session=session, number=number, password=password, clock=clock, address=address
        )
    except DomainError as exc:
        return render(
            request,
            "track.html",
            title="投诉办理进度查询",
            number=number,
            result=None,
            status_code=status_for(exc),
            error=exc.message,
        )
    return render(request, "track.html", title="投诉办理进度查询", number=number, result=result, error=None)
