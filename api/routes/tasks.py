"""Routes: the caller's work queue (待办)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from api.deps import ActorDep, SessionDep, TodayDep, json_response
from api.hot import HotRoute
from models.calendar import load_calendar
from models.complaints import TaskItem, work_queue

router = APIRouter(tags=["待办"])


def my_tasks(
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    limit: int = Query(200, ge=1, le=500, description="最多返回条数"),
) -> Response:
    # Loaded here rather than by CalendarDep, a thread-pool hop of its own (api/routes/complaints.py).
    calendar = load_calendar(session=session)
    items = work_queue(session=session, actor=actor, today=today, calendar=calendar, limit=limit)
    return json_response(items, list[TaskItem])


# Not by the decorator, which takes no route class (as in api/routes/complaints.py).
router.add_api_route(
    "/tasks",
    my_tasks,
    methods=["GET"],
    response_model=list[TaskItem],
    summary="我的待办（按办理期限排序）",
    route_class_override=HotRoute,
)
