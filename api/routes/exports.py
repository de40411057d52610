"""Routes: CSV/XLSX exports of the complaint list (staff) and of the public register (no login).

Registered before the complaint and public routers so ``/complaints/export`` is not read as an id."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorDep, SessionDep, TodayDep
from models.complaints import ComplaintFilter
from models.exports import COMPLAINT_COLUMNS, breach_rows, complaint_rows, render
from models.lifecycle import ComplaintState
from models.register.queries import RegisterQuery
from models.text import Line

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


class RegisterExport(BaseModel):
    """The register export's query: the register page's filters (one query, ``register_select``); a
    parameter the export does not know is refused, not ignored, so a filter is never silently dropped."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "xlsx"] = Field("csv", description="csv 或 xlsx")
    name: Line | None = Field(
        None, max_length=128, description="失信主体名称（前缀匹配，不区分全半角、大小写和空格）"
    )
    credit_code: Line | None = Field(None, max_length=64, description="统一社会信用代码")
    department: Line | None = Field(None, max_length=32, description="认定部门代码")
    subject_kind: Line | None = Field(
        None, max_length=16, description="主体类型：enterprise 企业、individual 个人、government 政府部门"
    )
    severity: Line | None = Field(None, max_length=16, description="失信程度：general 一般、serious 严重")
    date_from: dt.date | None = Field(None, description="决定日期（JDRQ）起")
    date_to: dt.date | None = Field(None, description="决定日期（JDRQ）止")


@router.get(
    "/public/breaches/export",
    summary="导出失信公示记录（CSV/XLSX，无需登录）",
    tags=["信用公示"],
    response_class=Response,
    responses=_FILE,
)
def export_register(
    session: SessionDep, today: TodayDep, params: Annotated[RegisterExport, Query()]
) -> Response:
    """与公示页面相同的筛选条件；表头为中文；未知参数或取值返回 422。"""
    query = RegisterQuery(**params.model_dump(exclude={"format"}))
    headers, rows = breach_rows(session=session, query=query, today=today)
    return _download(render(headers, rows, params.format), f"breaches-{today:%Y%m%d}", params.format)
