"""Re-issuing a complaint's tracking password (查询密码) from the staff complaint page.

The password is shown once at registration and only its hash is kept, so a complainant who lost it can
only be given a new one: the same service and the same roles as the API
(POST /api/v1/complaints/{id}/tracking-password). The new password is not mailed or texted (the complaint
may have no address, and a channel that lost the first one may lose this one): the page shows it this
once, ``no-store``, for staff to tell the complainant directly.

The page is the complaint page itself, drawn by web/staff.py, with the new password above it; a refused
re-issue (a reason too long, a concurrent re-issue) redraws it with the reason, like a refused action. The
form carries a key fresh per drawn page: posted again (a reload, a double-click) it issues nothing and says
the password was already re-issued and is shown only once.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from api.deps import CalendarDep, SessionDep, TodayDep, no_store
from models import complaints as service
from models.errors import DomainError
from models.lifecycle import Role
from models.tracking_password import (
    REISSUE_EVENT,
    reissue_tracking_password,
    reissue_tracking_password_once,
)
from web.core import current_actor, form_data, form_refused, page_router
from web.staff import draw_case_page

router = page_router("/staff")

# As the API route: the staff who register complaints and their supervisors; a handler never sees the
# complainant's password, and an administrator does not handle cases.
REISSUERS = (Role.INTAKE, Role.SUPERVISOR)


@router.post("/complaints/{complaint_id}/tracking-password")
async def reissue_password(
    request: Request, complaint_id: int, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    _, actor = current_actor(request, session, *REISSUERS)
    form = await form_data(request)
    # The form's key (fresh per drawn page): a reload of the result issues no second password, which would
    # void the one just read out to the complainant.
    key = form.get("idempotency_key", "")[:128]
    reason = form.get("reason") or None
    try:
        complaint = service.get_complaint(session=session, complaint_id=complaint_id, actor=actor)
        password: str | None
        if key:
            password = reissue_tracking_password_once(
                session=session, complaint=complaint, actor=actor, reason=reason, idempotency_key=key
            )
        else:
            password = reissue_tracking_password(
                session=session, complaint=complaint, actor=actor, reason=reason
            )
    except DomainError as exc:
        errors, status = form_refused(session, exc)
        return draw_case_page(
            request, session, actor, complaint_id, today, calendar,
            errors=errors, failed_action=REISSUE_EVENT, values=form, status_code=status,
        )  # fmt: skip
    session.commit()  # before the password is shown: a password that is not stored is never given
    reissued = {"number": complaint.number, "password": password}  # None: a repeat, nothing issued
    page = draw_case_page(request, session, actor, complaint_id, today, calendar, reissued=reissued)
    no_store(page)  # the only copy of the new password
    return page
