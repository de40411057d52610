"""Supervisor dashboard, the complaint list its counts open, the department scorecard by period (and its
XLSX export) and their SVG charts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import CalendarDep, ClockDep, SessionDep, TodayDep
from models import dashboard, exports, scorecard
from models.accounts import department_by_code
from models.calendar import WorkCalendar
from models.complaint import CHANNEL_LABELS
from models.complaints.visibility import STAFF_PARTY_LABEL, STAFF_SEE_ALL
from models.digest import DUE_SOON_WORKING_DAYS
from models.errors import NotFound, ValidationFailed
from models.lifecycle import COMPLAINT, Role
from models.pending_deadlines import calendar_warning, supervision_hold
from models.platform_admin import platform_alarms
from models.scorecard_pledges import EXPORT_HEADERS, export_rows, pledge_scores
from web import charts
from web.core import current_user, page_router, render
from web.staff_breaches import DECIDERS
from web.staff_pledges import PLEDGE_STAFF

router = page_router("/staff")
OVERSIGHT = (Role.SUPERVISOR, Role.ADMIN)
# The complaint list is also the intake clerk's way to find a duplicate before merging (并单) or a channel's
# cases. It lists without a visibility filter, so only roles that see every complaint may open it.
LIST_READERS = (Role.INTAKE, *OVERSIGHT)
assert set(LIST_READERS) <= STAFF_SEE_ALL
# An SVG opened as an image runs no script; its own policy still forbids any, and allows its inline styles.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The cases the dashboard names whose next supervision step waits for the calendar; the rest are counted.
HOLD_SHOWN = 50


@router.get("/dashboard")
def dashboard_page(request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep) -> Response:
    user = current_user(request, session, *OVERSIGHT)
    return render(
        request,
        "dashboard.html",
        title="督办看板",
        today=today,
        opens=_opens(user.role),
        states=scorecard.state_counts(session=session),
        channels=dashboard.channel_counts(session=session),
        departments=dashboard.due_by_department(
            session=session, today=today, calendar=calendar, working_days=DUE_SOON_WORKING_DAYS
        ),
        staff_party=STAFF_PARTY_LABEL,
        due_soon_days=DUE_SOON_WORKING_DAYS,
        due_soon_by=calendar.horizon(today, DUE_SOON_WORKING_DAYS),
        overdue=dashboard.overdue_complaints(session=session, today=today, calendar=calendar),
        reviews=dashboard.review_deadlines(session=session, today=today, calendar=calendar),
        records=dashboard.record_deadlines(session=session, today=today, calendar=calendar),
        missed=dashboard.missed_publications(session=session, today=today, calendar=calendar),
        platform=platform_alarms(session=session, today=today, calendar=calendar),
        ladder=scorecard.escalation_ladder(session=session),
        pledges=scorecard.pledges_due(session=session, today=today, calendar=calendar),
        calendar_warning=calendar_warning(calendar, today),
        hold=supervision_hold(session=session, today=today, calendar=calendar),
        hold_shown=HOLD_SHOWN,
        case_pages=dashboard.CASE_PAGES,
        no_email=dashboard.departments_without_email(session=session),
    )


def _opens(role: Role) -> dict[str, bool]:
    """The kinds of case page ``role`` may open: the others' numbers are shown without a link, as a link
    an administrator cannot follow would only answer 403."""
    return {"complaint": True, "pledge": role in PLEDGE_STAFF, "breach": role in DECIDERS}


@router.get("/dashboard/awaiting")
def awaiting_list(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    awaits: str | None = None,
    overdue: bool = False,
    due_by: str | None = None,
) -> Response:
    """What a per-party count on the dashboard stands for: the running stages of every kind (complaint
    stages, evidence reviews, objection and repair decisions) awaiting one department (its code) or
    intake and the supervisors (``STAFF_HELD``), overdue, due by ``due_by``, or both (neither: both up
    to the dashboard's due-soon horizon). The complaint list cannot be the door: it lists complaints
    only, so a department late with nothing but evidence reviews would open an empty list."""
    user = current_user(request, session, *OVERSIGHT)
    if not awaits:  # a bare address (a bookmark, the link edited): the dashboard's table is the door
        return RedirectResponse("/staff/dashboard", status_code=303)
    if awaits == dashboard.STAFF_HELD:
        party = STAFF_PARTY_LABEL
    else:
        party = department_by_code(session=session, code=awaits).name  # an unknown code is 404
    since, through, what = _window(today, calendar, overdue, _date(due_by, "due_by"))
    stages = dashboard.awaited_stages(session=session, through=through, since=since, awaits=awaits)
    return render(
        request,
        "dashboard.html",
        title="督办看板：待办环节",
        today=today,
        opens=_opens(user.role),
        awaiting={
            "heading": f"待{party}办理、{what}的环节",
            "items": [s.due(today, calendar) for s in stages],
        },
    )


def _window(
    today: dt.date, calendar: WorkCalendar, overdue: bool, until: dt.date | None
) -> tuple[dt.date | None, dt.date, str]:
    """The deadlines a per-party door asks for (from, through) and their words."""
    if until is None and overdue:
        return None, today - dt.timedelta(days=1), "已超期"
    if until is None:
        return (
            None,
            calendar.horizon(today, DUE_SOON_WORKING_DAYS),
            f"已超期及 {DUE_SOON_WORKING_DAYS} 个工作日内到期",
        )
    if overdue:
        return None, until, f"已超期及 {until.isoformat()}（含）前到期"
    return today, until, f"{until.isoformat()}（含）前到期"


def _date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"日期格式应为 YYYY-MM-DD：{value} (bad date)", field=field) from None


@router.get("/complaints")
def complaint_list(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    state: str | None = None,
    lead: str | None = None,
    awaits: str | None = None,
    overdue: bool = False,
    due_by: str | None = None,
    channel: str | None = None,
    q: str | None = None,
) -> Response:
    """The complaints a dashboard count stands for (a state, a lead department, the party a stage awaits,
    overdue or due soon, a channel), narrowed by the page's channel choice and search box."""
    user = current_user(request, session, *LIST_READERS)
    query = dashboard.ComplaintQuery(
        state=state or None,
        lead=lead or None,
        awaits=awaits or None,
        overdue=overdue,
        due_by=_date(due_by, "due_by"),
        channel=channel or None,
        q=(q or "").strip() or None,
    )
    lines, total = dashboard.find_complaints(session=session, today=today, query=query)
    return render(
        request,
        "complaint_list.html",
        title="投诉列表",
        today=today,
        lines=lines,
        total=total,
        description=_list_description(query),
        query=query,
        channels=CHANNEL_LABELS,
        # The intake clerk cannot open the dashboard: a link there would only answer 403.
        dashboard_link=user.role in OVERSIGHT,
    )


def _list_description(query: dashboard.ComplaintQuery) -> str:
    parts = [COMPLAINT.state(query.state).label] if query.state else []
    parts += [f"主办部门 {query.lead}"] if query.lead else []
    parts += [_awaits_description(query.awaits)] if query.awaits else []
    parts += ["已超期"] if query.overdue else []
    parts += [f"{query.due_by.isoformat()}（含）前到期"] if query.due_by else []
    parts += [f"来自{CHANNEL_LABELS[query.channel]}"] if query.channel else []  # type: ignore[index]
    parts += [f"含“{query.q}”"] if query.q else []
    return "、".join(parts) or "全部投诉"


def _awaits_description(awaits: str) -> str:
    who = STAFF_PARTY_LABEL if awaits == dashboard.STAFF_HELD else f"部门 {awaits}"
    return f"本环节待{who}办理"


@dataclass(frozen=True)
class PeriodQuery:
    """The period a scorecard page, its export or a chart was asked for, as given in the query string."""

    period: str | None
    at: str | None
    start: str | None
    end: str | None


def _asked_period(
    period: str | None = None, at: str | None = None, start: str | None = None, end: str | None = None
) -> PeriodQuery:
    return PeriodQuery(period, at, start, end)


PeriodQueryDep = Annotated[PeriodQuery, Depends(_asked_period)]


def _period(today: dt.date, asked: PeriodQuery) -> scorecard.Period:
    """The period asked for (a month by default), checked only once the user may see it."""
    return scorecard.period_of(
        "month" if asked.period is None else asked.period,
        _date(asked.at, "at") or today,
        start=_date(asked.start, "from"),
        end=_date(asked.end, "to"),
    )


@router.get("/scorecard")
def scorecard_page(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    asked: PeriodQueryDep,
) -> Response:
    current_user(request, session, *OVERSIGHT)
    chosen = _period(today, asked)
    return render(
        request,
        "scorecard.html",
        title="部门考评",
        today=today,
        period=chosen,
        kinds=scorecard.PERIOD_KINDS,
        query=_period_query(chosen),
        previous=_period_query(chosen.shifted(-1)),
        following=_period_query(chosen.shifted(1)),
        rows=scorecard.department_scores(session=session, today=today, period=chosen),
        pledge_rows=pledge_scores(session=session, period=chosen),
    )


def _period_query(p: scorecard.Period) -> str:
    if p.kind == "custom":
        return f"period=custom&start={p.start.isoformat()}&end={p.end.isoformat()}"
    return f"period={p.kind}&at={p.start.isoformat()}"


@router.get("/scorecard.xlsx")
def scorecard_export(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    asked: PeriodQueryDep,
) -> Response:
    current_user(request, session, *OVERSIGHT)
    chosen = _period(today, asked)
    rows = export_rows(
        scorecard.department_scores(session=session, today=today, period=chosen),
        pledge_scores(session=session, period=chosen),
    )
    name = f"scorecard-{chosen.start.isoformat()}-{chosen.end.isoformat()}.xlsx"
    return Response(
        exports.render(EXPORT_HEADERS, rows, "xlsx"),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/charts/{name}.svg")
def chart(
    request: Request,
    name: str,
    session: SessionDep,
    today: TodayDep,
    clock: ClockDep,
    asked: PeriodQueryDep,
    narrow: bool = False,
) -> Response:
    """A chart; ``narrow`` draws it for a phone (390 px wide), ``period`` limits the on-time chart."""
    current_user(request, session, *OVERSIGHT)
    if name == "weekly":
        svg = charts.weekly_chart(
            scorecard.weekly_flow(session=session, clock=clock, today=today), narrow=narrow
        )
    elif name == "on-time":
        chosen = _period(today, asked) if asked.period else None
        rows = scorecard.department_scores(session=session, today=today, period=chosen)
        svg = charts.on_time_chart(rows, narrow=narrow)
    elif name == "breaches":
        svg = charts.breaches_chart(
            scorecard.breaches_per_month(session=session, clock=clock, today=today), narrow=narrow
        )
    else:
        raise NotFound(f"没有名为 {name} 的图表 (no chart '{name}')")
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)
