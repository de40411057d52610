"""Routes: CSV/XLSX exports of the complaint list (staff) and of the public register (no login).

Registered before the complaint and public routers so ``/complaints/export`` is not read as an id."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from api.deps import ActorDep, SessionDep, TodayDep
from models.complaints import ComplaintFilter
from models.exports import COMPLAINT_COLUMNS, breach_rows, complaint_rows, render
from models.lifecycle import ComplaintState

router = APIRouter()

_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FILE: dict[int | str, dict[str, Any]] = {
    200: {"content": {m: {} for m in _MEDIA.values()}, "description": "导出文件"}
}


def _download(content: bytes, name: str, fmt: str) -> Response:
    return Response(
        content=content,
        media_type=_MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/complaints/export",
    summary="导出投诉列表（CSV/XLSX，联系方式脱敏）",
    tags=["投诉"],
    response_class=Response,
    responses=_FILE,
)
def export_complaints(
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    format: Literal["csv", "xlsx"] = Query("csv", description="csv 或 xlsx"),  # noqa: A002
    state: ComplaintState | None = Query(None, description="状态"),
    department: str | None = Query(None, max_length=32, description="部门代码"),
) -> Response:
    """经办人只导出本部门可见的投诉；以 = + - @ 等开头的单元格加前导 ' 防止公式注入。"""
    filters = ComplaintFilter(state=state, department_code=department)
    rows = complaint_rows(session=session, actor=actor, filters=filters, today=today)
    content = render([label for _, label in COMPLAINT_COLUMNS], rows, format)
    return _download(content, f"complaints-{today:%Y%m%d}", format)


@router.get(
    "/public/breaches/export",
    summary="导出失信公示记录（CSV/XLSX，无需登录）",
    tags=["信用公示"],
    response_class=Response,
    responses=_FILE,
)
def export_register(
    session: SessionDep,
    today: TodayDep,
    format: Literal["csv", "xlsx"] = Query("csv", description="csv 或 xlsx"),  # noqa: A002
) -> Response:
    headers, rows = breach_rows(session=session, today=today)
    return _download(render(headers, rows, format), f"breaches-{today:%Y%m%d}", format)
