"""Administration pages: departments, users, the working-day calendar, notifications, the mail sink."""

from __future__ import annotations

import calendar as month_calendar
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import col, select

from api.deps import CalendarDep, SessionDep, TodayDep
from api.errors import status_for
from models.calendar import WorkCalendar, diff_notice, parse_year_notice, save_year_notice
from models.errors import DomainError
from models.lifecycle import Role
from models.org import LEVEL_LABELS, Department, User
from models.outbox import NotificationStatus
from notifications.outbox_service import list_notifications, retry_dead
from notifications.sink import list_sink_messages
from web.core import current_user, form_data, page_router, redirect, render

router = page_router("/staff/admin")
ADMIN = (Role.ADMIN,)
OVERSIGHT = (Role.ADMIN, Role.SUPERVISOR)
STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "dead": "发送失败", "undeliverable": "无地址"}


@router.get("/departments")
def departments(request: Request, session: SessionDep) -> Response:
    current_user(request, session, *OVERSIGHT)
    rows = list(session.exec(select(Department).order_by(col(Department.code))))
    by_id = {d.id: d for d in rows}
    return render(
        request, "admin_departments.html", title="部门管理", rows=rows, by_id=by_id, levels=LEVEL_LABELS
    )


@router.get("/users")
def users(request: Request, session: SessionDep) -> Response:
    current_user(request, session, *ADMIN)
    rows = list(session.exec(select(User).order_by(col(User.id))))
    depts = {d.id: d for d in session.exec(select(Department))}
    return render(request, "admin_users.html", title="用户管理", rows=rows, depts=depts)


def _month_grid(calendar: WorkCalendar, year: int) -> list[dict[str, Any]]:
    """Twelve months of weeks; each day marked holiday, make-up workday, weekend or working day."""
    special = {d.date: d for d in calendar.describe_year(year)}
    months = []
    for month in range(1, 13):
        weeks = []
        for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells: list[dict[str, Any] | None] = []
            for day in week:
                if day.month != month:
                    cells.append(None)
                    continue
                mark = special.get(day)
                if mark is not None:
                    kind = "holiday" if mark.kind == "holiday" else "makeup"
                    name = mark.name
                else:
                    kind, name = ("weekend" if day.weekday() >= 5 else "workday"), ""
                cells.append({"day": day.day, "kind": kind, "name": name, "date": day.isoformat()})
            weeks.append(cells)
        months.append({"month": month, "weeks": weeks})
    return months


def _calendar_page(request: Request, calendar: WorkCalendar, year: int, **context: Any) -> Response:
    context.setdefault("preview", None)
    context.setdefault("notice_text", "")
    context.setdefault("error", None)
    context.setdefault("saved", None)
    context.setdefault("status_code", 200)
    covered = calendar.covers(year)
    return render(
        request,
        "admin_calendar.html",
        title=f"{year} 年工作日日历",
        year=year,
        covered=covered,
        covered_years=calendar.covered_years(),
        months=_month_grid(calendar, year) if covered else [],
        working_days=calendar.working_days_in_year(year) if covered else None,
        special=calendar.describe_year(year) if covered else [],
        version=calendar.version,
        weekday_names=["一", "二", "三", "四", "五", "六", "日"],
        **context,
    )


@router.get("/calendar")
def calendar_page(
    request: Request,
    session: SessionDep,
    calendar: CalendarDep,
    today: TodayDep,
    year: int | None = None,
    saved: int | None = None,
) -> Response:
    current_user(request, session, *OVERSIGHT)
    return _calendar_page(request, calendar, year or today.year, saved=saved)


@router.post("/calendar")
async def load_year(
    request: Request, session: SessionDep, calendar: CalendarDep, today: TodayDep
) -> Response:
    user = current_user(request, session, *ADMIN)
    form = await form_data(request)
    text = form.get("notice", "")
    try:
        notice = parse_year_notice(text, origin="粘贴的放假通知")
        if form.get("confirm") == "1":
            changes, _ = save_year_notice(session=session, notice=notice, loaded_by=user.name)
            session.commit()
            return redirect(f"/staff/admin/calendar?year={notice.year}&saved={len(changes)}")
        preview = diff_notice(calendar, notice)
    except DomainError as exc:
        return _calendar_page(
            request, calendar, today.year, notice_text=text, error=exc.message, status_code=status_for(exc)
        )
    return _calendar_page(request, calendar, notice.year, notice_text=text, preview=preview)


@router.get("/notifications")
def notifications(request: Request, session: SessionDep) -> Response:
    user = current_user(request, session, *OVERSIGHT)
    pending = list_notifications(session=session, status=NotificationStatus.PENDING, limit=100)
    dead = list_notifications(session=session, status=NotificationStatus.DEAD, limit=100)
    return render(
        request,
        "admin_notifications.html",
        title="通知发送",
        pending=pending,
        dead=dead,
        can_retry=user.role == Role.ADMIN,
        status_labels=STATUS_LABELS,
    )


@router.post("/notifications/{notification_id}/retry")
async def retry(request: Request, notification_id: int, session: SessionDep) -> Response:
    current_user(request, session, *ADMIN)
    await form_data(request)
    retry_dead(session=session, notification_id=notification_id)
    session.commit()
    return redirect("/staff/admin/notifications")


@router.get("/mail")
def mail(request: Request, session: SessionDep) -> Response:
    current_user(request, session, *OVERSIGHT)
    messages = list_sink_messages(session=session, limit=100)
    return render(request, "admin_mail.html", title="本地邮件接收器", messages=messages)
