"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import CalendarDep, SessionDep, TodayDep

router = APIRouter(tags=["系统"])


@router.get("/health", summary="健康检查")
def health(session: SessionDep, today: TodayDep, calendar: CalendarDep) -> dict[str, Any]:
    session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "today": today.isoformat(),
        "calendar_version": calendar.version,
        "calendar_years": calendar.covered_years()[-3:],
    }
