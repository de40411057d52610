"""Liveness and readiness."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import CalendarDep, SessionDep, TodayDep
from models.pending_deadlines import calendar_warning

router = APIRouter(tags=["系统"])


# The database answered; today's date, the working calendar in use with its last three years, and warnings.
class Health(BaseModel):
    status: str
    today: dt.date
    calendar_version: str
    calendar_years: list[int]
    # Things an administrator should act on while the service keeps working (the answer stays 200), e.g.
    # next year's holiday notice not loaded yet from ``calendar_warning_from`` on.
    warnings: list[str] = []


@router.get("/health", response_model=Health, summary="健康检查")
def health(session: SessionDep, today: TodayDep, calendar: CalendarDep) -> Health:
    session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        today=today,
        calendar_version=calendar.version,
        calendar_years=calendar.covered_years()[-3:],
        warnings=[w for w in [calendar_warning(calendar, today)] if w],
    )
