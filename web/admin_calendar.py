"""The working-day calendar, for administrators: each year's days on a month grid, and loading or
correcting a year's State Council notice (a file or pasted JSON), previewed as the days it changes, then
confirmed, with what the load moved (the deadlines and publication days recomputed, the told dates moved
or kept) reported on the page as the CLI's `shouxin calendar load` reports it."""

from __future__ import annotations

import calendar as month_calendar
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import CalendarDep, SessionDep, TodayDep, actor_of
from models.calendar import WorkCalendar, YearNotice, diff_notice, load_calendar, parse_year_notice
from models.calendar_admin import Recomputed, load_year_notice, year_loads, year_version
from models.errors import Conflict, DomainError, ValidationFailed
from models.settings import get_settings
from web.admin import ADMIN, OVERSIGHT
from web.core import (
    current_user,
    form_data,
    page_router,
    redirect,
    refused,
    render,
)

router = page_router("/staff/admin")


# The word each holiday and make-up workday cell shows beside its colour, as printed calendars mark them:
# colour alone is lost on a colour-blind reader and a greyscale print, and the cell's title on touch.
DAY_MARKS = {"holiday": "休", "makeup": "班"}


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
                cells.append({"day": day.day, "kind": kind, "name": name, "date": day.isoformat(),
                              "mark": DAY_MARKS.get(kind)})  # fmt: skip
            weeks.append(cells)
        months.append({"month": month, "weeks": weeks})
    return months


def _calendar_page(
    request: Request, session: Session, calendar: WorkCalendar, year: int, **context: Any
) -> Response:
    defaults = {"preview": None, "previewed": "", "repreviewed": False, "notice_text": "", "error": None,
                "saved": None, "report": None, "status_code": 200}  # fmt: skip
    context = {**defaults, **context}
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
        # When the shown year's notice was first loaded (its days known since) and last corrected.
        notice=calendar.notices.get(year),
        load=year_loads(session=session).get(year),
        tz=ZoneInfo(get_settings().timezone),
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
    publication_days: int = 0,
    deadlines: int = 0,
    kept: int = 0,
    moved: str = "",
    moved_total: int = 0,
    untold: str = "",
) -> Response:
    current_user(request, session, *OVERSIGHT)
    shown = [number for number in moved.split(",") if number][:TOLD_SHOWN]
    report = {"publication_days": publication_days, "deadlines": deadlines, "kept": kept,
              "moved": shown, "moved_total": moved_total,
              "untold": [number for number in untold.split(",") if number][:TOLD_SHOWN]}  # fmt: skip
    return _calendar_page(request, session, calendar, year or today.year, saved=saved, report=report)


TOLD_SHOWN = 20  # the told dates a load moved that the page names; the rest are counted (等 N 件)


def _saved_url(year: int, saved: int, done: Recomputed) -> str:
    """The page after a load, with what `shouxin calendar load` prints and the first told dates moved."""
    return "/staff/admin/calendar?" + urlencode(
        {"year": year, "saved": saved, "publication_days": done.publication_days,
         "deadlines": done.deadlines_total, "kept": len(done.kept),
         "moved": ",".join(done.told_moved[:TOLD_SHOWN]), "moved_total": len(done.told_moved),
         "untold": ",".join(done.untold_moved[:TOLD_SHOWN])}
    )  # fmt: skip


CALENDAR_FILE_MAX_BYTES = 256 * 1024  # a year's notice is a few kilobytes


def _calendar_file_text(content: bytes, filename: str) -> str:
    """An uploaded notice as text, read as `shouxin calendar load` reads a file (UTF-8, a BOM tolerated)."""
    if len(content) > CALENDAR_FILE_MAX_BYTES:
        raise ValidationFailed(
            f"节假日文件 {filename} 超过 {CALENDAR_FILE_MAX_BYTES // 1024} KB，不是一年的放假通知 "
            "(file too large)"
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"节假日文件 {filename} 不是 UTF-8 编码的 JSON；请另存为 UTF-8 后重新上传 (not UTF-8)"
        ) from exc


@router.post("/calendar")
async def load_year(
    request: Request, session: SessionDep, calendar: CalendarDep, today: TodayDep
) -> Response:
    user = current_user(request, session, *ADMIN)
    form = await form_data(request)
    text = form.get("notice", "")
    origin = "粘贴的放假通知"
    try:
        upload = (await request.form()).get("file")  # parsed once: Starlette keeps the form
        if upload is not None and not isinstance(upload, str) and upload.filename:
            # The file `shouxin calendar load` reads: it replaces the pasted text, which then shows it so
            # the preview's confirmation saves exactly what was previewed.
            text = _calendar_file_text(await upload.read(CALENDAR_FILE_MAX_BYTES + 1), upload.filename)
            origin = f"节假日文件 {upload.filename}"
        notice = parse_year_notice(text, origin=origin)
        if form.get("confirm") == "1":
            changes, _, recomputed = load_year_notice(
                session=session,
                notice=notice,
                loaded_by=user.name,
                actor=actor_of(user),
                # What the preview was computed from. A confirmation without it (a page drawn before the
                # field existed, a script) is checked like a stale one: it gets the preview to confirm.
                previewed=form.get("previewed", ""),
                today=today,
            )
            session.commit()
            return redirect(_saved_url(notice.year, len(changes), recomputed))
    except Conflict as exc:
        # Another administrator loaded this year after the preview: show the same notice diffed against
        # what is stored now, so what is confirmed next is what was seen.
        error, status = refused(session, exc)
        calendar = load_calendar(session=session)
        return _calendar_preview(
            request, session, calendar, notice, text, error=error, status_code=status, repreviewed=True
        )
    except DomainError as exc:
        error, status = refused(session, exc)
        return _calendar_page(
            request, session, calendar, today.year, notice_text=text, error=error, status_code=status
        )
    return _calendar_preview(request, session, calendar, notice, text)


def _calendar_preview(
    request: Request, session: Session, calendar: WorkCalendar, notice: YearNotice, text: str, **context: Any
) -> Response:
    """The notice's diff against ``calendar``, with the year version it was computed from for the
    confirmation to check (``load_year_notice(previewed=...)``)."""
    return _calendar_page(
        request,
        session,
        calendar,
        notice.year,
        notice_text=text,
        preview=diff_notice(calendar, notice),
        previewed=year_version(calendar, notice.year),
        **context,
    )
