"""The credit platform's push, for administrators: documents by state with counts, the receipt or the
reason of the last failure, a retry of a stuck document (failed, never acknowledged, failing), settling one
by hand when the platform keeps refusing it or never acknowledges it, and the alarms the dashboard raises
(no platform, no secret to sign with, documents past the acknowledgement deadline)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import col, select

from api.deps import CalendarDep, SessionDep, TodayDep
from models.breach import PublishedBreach
from models.clock import utcnow
from models.errors import DomainError, NotFound
from models.lifecycle import Role
from models.platform import STATUS_LABELS, DocumentStatus, PlatformDocument
from models.platform_admin import (
    is_stuck,
    list_documents,
    mark_handled,
    platform_alarms,
    retry_document,
    status_counts,
)
from models.settings import get_settings
from web.core import current_user, form_data, page_router, redirect, refused, render

router = page_router("/staff/admin")
ADMIN = (Role.ADMIN,)
KIND_LABELS = {
    "publish": "公示",
    "correct": "更正",
    "withdraw": "撤销",
    "repair": "信用修复",
    "expire": "公示期满",
}


@router.get("/platform")
def platform_page(
    request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep, status: str | None = None
) -> Response:
    current_user(request, session, *ADMIN)
    if status and status not in set(DocumentStatus):
        raise NotFound(f"没有名为 {status} 的推送状态 (unknown document state)")
    return _page(
        request,
        session,
        today,
        calendar,
        DocumentStatus(status) if status else None,
        retried=request.query_params.get("retried") == "1",
        handled=request.query_params.get("handled") == "1",
    )


def _page(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    chosen: DocumentStatus | None,
    *,
    status_code: int = 200,
    **context: object,
) -> Response:
    documents = list_documents(session=session, status=chosen, limit=200)
    ids = {d.breach_id for d in documents}
    numbers = dict(
        session.exec(
            select(PublishedBreach.id, PublishedBreach.number).where(col(PublishedBreach.id).in_(ids))
        ).all()
    )
    context = {"retried": False, "handled": False, "error": None, "failed_id": None, "note": "", **context}
    return render(
        request,
        "admin_platform.html",
        status_code=status_code,
        title="信用平台推送",
        counts=status_counts(session=session),
        labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
        stuck=is_stuck,
        chosen=chosen,
        documents=documents,
        numbers=numbers,
        alarms=platform_alarms(session=session, today=today, calendar=calendar),
        zone=ZoneInfo(get_settings().timezone),
        **context,
    )


@router.post("/platform/{document_id}/retry")
async def retry(request: Request, document_id: str, session: SessionDep) -> Response:
    current_user(request, session, *ADMIN)
    await form_data(request)
    retry_document(session=session, document_id=document_id)
    session.commit()
    return redirect("/staff/admin/platform?status=pending&retried=1")


@router.post("/platform/{document_id}/handled")
async def handled(
    request: Request, document_id: str, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    """The document reached the platform another way: it is settled, its record's later documents go
    on. A refused note comes back on the page of the document's state with what was typed."""
    me = current_user(request, session, *ADMIN)
    form = await form_data(request)
    note = form.get("note", "")
    try:
        mark_handled(session=session, document_id=document_id, note=note, by=me.name, now=utcnow())
    except DomainError as exc:
        message, status = refused(session, exc)
        # Shown again among the documents of the state it is in (failed, sent, pending), with its form open.
        state = session.exec(
            select(PlatformDocument.status).where(PlatformDocument.document_id == document_id)
        ).first()
        shown = DocumentStatus(state or DocumentStatus.DEAD)
        return _page(
            request, session, today, calendar, shown, status_code=status, error=message,
            failed_id=document_id, note=note,
        )  # fmt: skip
    session.commit()
    return redirect("/staff/admin/platform?status=handled&handled=1")
