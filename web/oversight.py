"""Supervisor dashboard, department scorecard and their SVG charts."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from api.deps import CalendarDep, ClockDep, SessionDep, TodayDep
from models import scorecard
from models.digest import DUE_SOON_WORKING_DAYS, digest_rows
from models.errors import NotFound
from models.lifecycle import Role
from models.pending_deadlines import calendar_warning
from web import charts
from web.core import current_user, page_router, render

router = page_router("/staff")
OVERSIGHT = (Role.SUPERVISOR, Role.ADMIN)
# An SVG opened as an image runs no script; its own policy still forbids any, and allows its inline styles.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, today: TodayDep, calendar: CalendarDep) -> Response:
    current_user(request, session, *OVERSIGHT)
    return render(
        request,
        "dashboard.html",
        title="督办看板",
        today=today,
        states=scorecard.state_counts(session=session),
        departments=digest_rows(session=session, today=today, calendar=calendar),
        due_soon_days=DUE_SOON_WORKING_DAYS,
        ladder=scorecard.escalation_ladder(session=session),
        pledges=scorecard.pledges_due(session=session, today=today, calendar=calendar),
        calendar_warning=calendar_warning(calendar, today),
    )


@router.get("/scorecard")
def scorecard_page(request: Request, session: SessionDep, today: TodayDep) -> Response:
    current_user(request, session, *OVERSIGHT)
    return render(
        request,
        "scorecard.html",
        title="部门考评",
        today=today,
        rows=scorecard.department_scores(session=session, today=today),
    )


@router.get("/charts/{name}.svg")
def chart(request: Request, name: str, session: SessionDep, today: TodayDep, clock: ClockDep) -> Response:
    current_user(request, session, *OVERSIGHT)
    if name == "weekly":
        svg = charts.weekly_chart(scorecard.weekly_flow(session=session, clock=clock, today=today))
    elif name == "on-time":
        svg = charts.on_time_chart(scorecard.department_scores(session=session, today=today))
    elif name == "breaches":
        svg = charts.breaches_chart(scorecard.breaches_per_month(session=session, clock=clock, today=today))
    else:
        raise NotFound(f"没有名为 {name} 的图表 (no chart '{name}')")
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)
