"""Routes: departments' government credit records (政务信用记录) and their public list."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import ActorDep, SessionDep
from api.schemas import DepartmentCreditRecord, GovernmentBreaches
from models.government_credit import department_record, public_government_breaches

router = APIRouter(tags=["政务信用记录"])


@router.get(
    "/departments/{code}/credit-record",
    response_model=DepartmentCreditRecord,
    summary="部门政务信用记录（确认的违约失信）",
)
def credit_record(code: str, session: SessionDep, actor: ActorDep) -> DepartmentCreditRecord:
    """督办人员、管理员和本部门经办人可查看；confirmed_breaches 为计入考核的违约失信次数。"""
    return DepartmentCreditRecord.model_validate(department_record(session=session, code=code, actor=actor))


@router.get(
    "/public/government-breaches",
    response_model=GovernmentBreaches,
    summary="政府违约失信公示（无需登录）",
    tags=["信用公示"],
)
def government_breaches(
    session: SessionDep, limit: int = Query(100, ge=1, le=500, description="最多返回条数")
) -> GovernmentBreaches:
    """经确认的政府违约失信记录：部门名称、事项摘要、认定日期。本地区未公开时返回 404。"""
    return GovernmentBreaches.model_validate(
        {"items": public_government_breaches(session=session, limit=limit)}
    )
