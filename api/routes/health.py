"""Liveness and readiness."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import CalendarDep, SessionDep, TodayDep

router = APIRouter(tags=["系统"])


# The database answered; today's date, and the working calendar in use with its last three years.
class Health(BaseModel):
    status: str
    today: dt.date
    calendar_version: str
    calendar_years: list[int]


@router.get("/health", response_model=Health, summary="健康检查")
def health(session: SessionDep, today: TodayDep, calendar: CalendarDep) -> Health:
    session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        today=today,
        calendar_version=calendar.version,
        calendar_years=calendar.covered_years()[-3:],
    )
