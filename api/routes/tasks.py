"""Routes: the caller's work queue (待办)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import ActorDep, CalendarDep, SessionDep, TodayDep
from models.complaints import TaskItem, work_queue

router = APIRouter(tags=["待办"])


@router.get("/tasks", response_model=list[TaskItem], summary="我的待办（按办理期限排序）")
def my_tasks(
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
    limit: int = Query(200, ge=1, le=500, description="最多返回条数"),
) -> list[TaskItem]:
    return work_queue(session=session, actor=actor, today=today, calendar=calendar, limit=limit)
