"""The credit website column (政府违约失信投诉专栏): a complainant submits a complaint online, without an
account. It is registered as intake registers a 12345 or window complaint (models/complaints/registration.py)
and waits in the same queue for initial review; only the channel and the actor say where it came from.

From the tracking page (/track) the complainant may also withdraw it before it is verified, proving it again
with the tracking password (``withdraw_online``): the password is asked for in the withdrawal form itself, so
it never travels in a URL or a hidden field."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import CalendarDep, ClockDep, SessionDep, TodayDep
from models.complaint import CATEGORY_LABELS, Channel, ComplaintCreate
from models.complaints import state_label, tracking_path
from models.complaints.registration import register_online
from models.complaints.tracking import WITHDRAWAL_CONFIRMATION, receipt_channels, tracked
from models.complaints.withdrawal import OnlineWithdrawBody, withdraw_online
from models.errors import DomainError, RateLimited, ValidationFailed
from models.ratelimit import ONLINE_COMPLAINTS_CLOSED
from models.settings import get_settings
from models.text import checked_text
from web.core import form_data, form_refused, no_store, page_router, public_message, render
from web.staff import departments

router = page_router()

TITLE = "政府违约失信投诉"
# What the form asks, in the words the staff form uses where they are the same.
LABELS = {
    "complainant_name": "投诉人名称（企业名称或个人姓名）",
    "complainant_credit_code": "统一社会信用代码",
    "complainant_phone": "联系电话",
    "complainant_email": "电子邮箱",
    "respondent_department_code": "被投诉单位",
    "respondent_name": "被投诉单位名称（列表中没有时填写）",
    "category": "投诉类别",
    "amount": "涉及金额（元）",
    "summary": "投诉事项（一句话概括）",
    "description": "详细情况",
    "attachments": "证明材料",
}
# Only these are read from the form: a "channel" or anything else sent along is ignored.
FIELDS = tuple(LABELS)


def _lines(text: str) -> list[str]:
    """The attachments box, one reference a line; blank lines are gaps, not empty references."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _form(request: Request, session: Session, **context: Any) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("status_code", 200)
    closed = get_settings().public_complaints_per_hour == 0
    return render(
        request,
        "complaint_online.html",
        title=TITLE,
        labels=LABELS,
        categories=CATEGORY_LABELS,
        # The departments a complaint may name, as the staff form offers them: a retired one is not.
        departments={d.code: d.name for d in departments(session)},
        closed=public_message(ONLINE_COMPLAINTS_CLOSED) if closed else None,
        per_hour=get_settings().public_complaints_per_hour,
        # With SMS off a phone only lets staff call: every notice goes by e-mail (models/outbox.py).
        sms_on=get_settings().sms_configured,
        **context,
    )


@router.get("/complaints/new")
def complaint_form(request: Request, session: SessionDep) -> Response:
    return _form(request, session)


@router.post("/complaints/new")
async def submit_complaint(
    request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep
) -> Response:
    form = await form_data(request)
    values = {k: form.get(k, "") for k in FIELDS}
    payload: dict[str, Any] = {k: v for k, v in values.items() if v != "" and k != "attachments"}
    address = request.client.host if request.client else None
    try:
        data = ComplaintCreate.model_validate(
            {**payload, "channel": Channel.WEBSITE, "attachments": _lines(values["attachments"])}
        )
        complaint, password = register_online(
            session=session, data=data, address=address, today=today, calendar=calendar
        )
    except (ValidationError, DomainError) as exc:
        errors, status = form_refused(session, exc, at_field=True)
        page = _form(request, session, values=values, errors=errors, status_code=status)
        if isinstance(exc, RateLimited):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    session.commit()  # before the password is shown: a password that is not stored is never given
    no_store(request)  # the tracking password, shown this once
    return render(
        request,
        "complaint_online_received.html",
        title="投诉已提交",
        status_code=201,
        complaint=complaint,
        password=password,
        state=state_label(complaint.state),
        tracking_url=tracking_path(complaint.number),
        # The receipt's channels as queued, so the page promises only what will arrive.
        receipt=receipt_channels(session=session, complaint=complaint),
        sms_on=get_settings().sms_configured,
    )


# The tracking page's title: its form (web/public.py) and the withdrawal it offers answer on the same page.
TRACK_TITLE = "投诉办理进度查询"


@router.post("/track/withdrawal")
async def withdraw_complaint(
    request: Request, session: SessionDep, clock: ClockDep, calendar: CalendarDep
) -> Response:
    """The withdrawal form of /track: on success the tracking result (撤回办结); refused, the form again
    with why, above it or under the field at fault."""
    form = await form_data(request)
    number, reason = form.get("number", ""), form.get("reason", "")
    try:
        if not number or not form.get("password"):
            # Refused before the password is checked: a blank one is no attempt, and is not counted.
            raise ValidationFailed("请填写投诉编号和查询密码。", field="password")
        checked_text(number, label="投诉编号", multiline=False)
        checked_text(form.get("password", ""), label="查询密码", multiline=False)
        body = OnlineWithdrawBody(reason=reason, confirmed=form.get("confirmed") == "yes")
        complaint = withdraw_online(
            session=session,
            number=number,
            password=form.get("password", ""),
            body=body,
            clock=clock,
            calendar=calendar,
            address=request.client.host if request.client else None,
        )
    except (ValidationError, DomainError) as exc:
        errors, status = form_refused(session, exc, at_field=True)
        page = render(
            request,
            "track.html",
            title=TRACK_TITLE,
            number=number,
            result=None,
            error=None,
            status_code=status,
            withdraw={
                "number": number,
                "reason": reason,
                "errors": errors,
                "confirmation": WITHDRAWAL_CONFIRMATION,
            },
        )
        if isinstance(exc, RateLimited):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    session.commit()
    no_store(request)  # the case's progress and reply, shown for the password
    result = tracked(session=session, complaint=complaint, clock=clock)
    return render(
        request, "track.html", title=TRACK_TITLE, number=complaint.number, result=result, error=None,
        withdrawn_now=True,
    )  # fmt: skip
