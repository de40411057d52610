"""The results sent back to the 12345 hotline platform, for administrators: messages by state or by order,
the reason a message died, when a pending one goes next (or which earlier one it waits behind), a retry of
a dead one or of all of them, and settling one by hand when the platform keeps refusing it (the CLI's
`shouxin hotline list|retry|handled` on a page)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import col, select

from api.deps import SessionDep
from models.clock import utcnow
from models.complaint import Complaint
from models.errors import DomainError, NotFound
from models.hotline import STAGE_LABELS, HotlineMessageStatus
from models.hotline_admin import list_messages, mark_handled, retry_all_dead, retry_dead, waiting_behind
from models.lifecycle import Role
from models.settings import get_settings
from web.core import current_user, form_data, page_router, redirect, refused, render

router = page_router("/staff/admin")
ADMIN = (Role.ADMIN,)
STATUS_LABELS = {
    HotlineMessageStatus.PENDING: "待发送",
    HotlineMessageStatus.SENT: "已送达",
    HotlineMessageStatus.DEAD: "发送失败",
    HotlineMessageStatus.HANDLED: "已人工处理",
}


@router.get("/hotline")
def hotline_page(
    request: Request, session: SessionDep, status: str | None = None, order_id: str | None = None
) -> Response:
    current_user(request, session, *ADMIN)
    if status and status not in set(HotlineMessageStatus):
        raise NotFound(f"没有名为 {status} 的回传状态 (unknown message state)")
    retried = request.query_params.get("retried", "")
    return _page(
        request,
        session,
        HotlineMessageStatus(status) if status else None,
        order_id=(order_id or "").strip(),
        retried=int(retried) if retried.isdigit() else None,
        handled=request.query_params.get("handled") == "1",
    )


def _page(
    request: Request,
    session: SessionDep,
    chosen: HotlineMessageStatus | None,
    *,
    order_id: str = "",
    status_code: int = 200,
    **context: object,
) -> Response:
    messages = list_messages(session=session, status=chosen, order_id=order_id, limit=200)
    ids = {m.complaint_id for m in messages}
    numbers = dict(
        session.exec(select(Complaint.id, Complaint.number).where(col(Complaint.id).in_(ids))).all()
    )
    settings = get_settings()
    context = {"retried": None, "handled": False, "error": None, "failed_id": None, "note": "", **context}
    return render(
        request,
        "admin_hotline.html",
        status_code=status_code,
        title="12345 工单回传",
        labels=STATUS_LABELS,
        stage_labels=STAGE_LABELS,
        chosen=chosen,
        messages=messages,
        numbers=numbers,
        behind=waiting_behind(session=session, messages=messages),
        order_id=order_id,
        configured=bool(settings.hotline_url),
        # A URL without its secret sends nothing (notifications/hotline_push.py): as stuck as no URL.
        unsigned=settings.hotline_unsigned,
        now=utcnow(),
        zone=ZoneInfo(settings.timezone),
        **context,
    )


@router.post("/hotline/{message_id}/retry")
async def retry(request: Request, message_id: int, session: SessionDep) -> Response:
    current_user(request, session, *ADMIN)
    await form_data(request)
    retry_dead(session=session, message_id=message_id, now=utcnow())
    session.commit()
    return redirect("/staff/admin/hotline?status=pending&retried=1")


@router.post("/hotline/retry-dead")
async def retry_all(request: Request, session: SessionDep) -> Response:
    """Every dead message pending again at once (after the platform's outage): the page says how many."""
    current_user(request, session, *ADMIN)
    await form_data(request)
    count = retry_all_dead(session=session, now=utcnow())
    session.commit()
    return redirect(f"/staff/admin/hotline?status=pending&retried={count}")


@router.post("/hotline/{message_id}/handled")
async def handled(request: Request, message_id: int, session: SessionDep) -> Response:
    """The result reached the 12345 platform another way: the message is settled, its case's later
    messages go on. A refused note comes back on the failed messages' page with what was typed."""
    me = current_user(request, session, *ADMIN)
    form = await form_data(request)
    note = form.get("note", "")
    try:
        mark_handled(session=session, message_id=message_id, note=note, by=me.name, now=utcnow())
    except DomainError as exc:
        message, status = refused(session, exc)
        return _page(
            request, session, HotlineMessageStatus.DEAD, status_code=status, error=message,
            failed_id=message_id, note=note,
        )  # fmt: skip
    session.commit()
    return redirect("/staff/admin/hotline?status=handled&handled=1")
