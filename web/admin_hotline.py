"""The results sent back to the 12345 hotline platform, for administrators: messages by state, the reason
a message died, and a retry of a dead one (the CLI's `shouxin hotline list|retry` on a page)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import col, select

from api.deps import SessionDep
from models.clock import utcnow
from models.complaint import Complaint
from models.errors import NotFound
from models.hotline import HotlineMessageStatus, list_messages, retry_dead
from models.lifecycle import Role
from models.settings import get_settings
from web.core import current_user, form_data, page_router, redirect, render

router = page_router("/staff/admin")
ADMIN = (Role.ADMIN,)
STATUS_LABELS = {
    HotlineMessageStatus.PENDING: "待发送",
    HotlineMessageStatus.SENT: "已送达",
    HotlineMessageStatus.DEAD: "发送失败",
}
STAGE_LABELS = {
    "accepted": "已受理",
    "not_accepted": "不予受理",
    "dispatched": "已转办",
    "replied": "已答复",
    "closed": "已办结",
}


@router.get("/hotline")
def hotline_page(request: Request, session: SessionDep, status: str | None = None) -> Response:
    current_user(request, session, *ADMIN)
    if status and status not in set(HotlineMessageStatus):
        raise NotFound(f"没有名为 {status} 的回传状态 (unknown message state)")
    chosen = HotlineMessageStatus(status) if status else None
    messages = list_messages(session=session, status=chosen, limit=200)
    ids = {m.complaint_id for m in messages}
    numbers = dict(
        session.exec(select(Complaint.id, Complaint.number).where(col(Complaint.id).in_(ids))).all()
    )
    settings = get_settings()
    return render(
        request,
        "admin_hotline.html",
        title="12345 工单回传",
        labels=STATUS_LABELS,
        stage_labels=STAGE_LABELS,
        chosen=chosen,
        messages=messages,
        numbers=numbers,
        configured=bool(settings.hotline_url),
        zone=ZoneInfo(settings.timezone),
        retried=request.query_params.get("retried") == "1",
    )


@router.post("/hotline/{message_id}/retry")
async def retry(request: Request, message_id: int, session: SessionDep) -> Response:
    current_user(request, session, *ADMIN)
    await form_data(request)
    retry_dead(session=session, message_id=message_id, now=utcnow())
    session.commit()
    return redirect("/staff/admin/hotline?status=pending&retried=1")
