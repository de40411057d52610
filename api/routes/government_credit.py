"""Routes: departments' government credit records (政务信用记录), their public list, and the respondent
department's objection and credit repair, filed and decided by the credit office's supervisors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from api.deps import ActorDep, CalendarDep, SessionDep, TodayDep, require_roles
from api.routes.evidence import FILES, read_files
from api.schemas import BreachRecord, DepartmentCreditRecord, GovernmentBreaches
from models.breach import PublishedBreach
from models.breach_record import department_names, public_fields
from models.complaint import Complaint
from models.errors import NotFound
from models.files import Upload
from models.government_credit import (
    department_record,
    object_for_department,
    public_government_breaches,
    public_text_draft,
    request_repair_for_department,
)
from models.lifecycle import Role
from models.text import Line, Paragraph

router = APIRouter(tags=["政务信用记录"])
SUPERVISORS = require_roles(Role.SUPERVISOR)


class DepartmentObjection(BaseModel):
    reason: Paragraph = Field(min_length=2, max_length=2000, description="被认定部门书面异议的理由")
    document_reference: Line | None = Field(default=None, max_length=128, description="书面异议的文号")


class DepartmentRepair(BaseModel):
    statement: Paragraph = Field(min_length=2, max_length=2000, description="整改情况说明")
    repair_pledge: Paragraph = Field(min_length=2, max_length=2000, description="信用修复承诺")


class PublicTextDraft(BaseModel):
    public_text: str = Field(description="事实摘要草稿：投诉摘要遮蔽个人信息后的文本，供确认违约失信时修改")


@router.get(
    "/departments/{code}/credit-record",
    response_model=DepartmentCreditRecord,
    summary="部门政务信用记录（确认的违约失信）",
)
def credit_record(code: str, session: SessionDep, actor: ActorDep) -> DepartmentCreditRecord:
    """督办人员、管理员和本部门经办人可查看；confirmed_breaches 为计入考核的违约失信次数。"""
    return DepartmentCreditRecord.model_validate(department_record(session=session, code=code, actor=actor))


@router.get(
    "/complaints/{complaint_id}/breach-public-text",
    response_model=PublicTextDraft,
    dependencies=[SUPERVISORS],
    summary="确认违约失信的事实摘要草稿（遮蔽个人信息）",
)
def breach_public_text(complaint_id: int, session: SessionDep) -> PublicTextDraft:
    """确认违约失信（confirm_breach）时 public_text 的预填内容；督办人员可在此基础上改写。"""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(f"投诉 #{complaint_id} 不存在 (no complaint {complaint_id})")
    return PublicTextDraft(public_text=public_text_draft(complaint))


class DepartmentFiling:
    """What both filings on a department's record share, built by FastAPI for each request: the session,
    the supervisor filing, today and the work calendar; ``file`` runs the service, commits and answers
    with the record as the public sees it."""

    def __init__(self, session: SessionDep, actor: ActorDep, today: TodayDep, calendar: CalendarDep) -> None:
        self.session, self.actor, self.today, self.calendar = session, actor, today, calendar

    def file(self, service: Callable[..., PublishedBreach], **fields: Any) -> BreachRecord:
        record = service(
            session=self.session, actor=self.actor, today=self.today, calendar=self.calendar, **fields
        )
        self.session.commit()
        return BreachRecord.model_validate(public_fields(record, department_names(self.session)))


FilingDep = Annotated[DepartmentFiling, Depends()]


async def uploaded_files(files: list[UploadFile] = FILES) -> list[Upload]:
    """The multipart filings' files, read here so the endpoint itself runs in the thread pool as the JSON
    filings do (the service checks them: count, emptiness, size, type by content)."""
    return await read_files(files)


FilesDep = Annotated[list[Upload], Depends(uploaded_files)]
M = TypeVar("M", bound=BaseModel)


def _form(model: type[M], **fields: Any) -> M:
    """The multipart form's fields checked by the JSON filing's model (same limits, same 422)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def objection_form(
    reason: str = Form(..., description="被认定部门书面异议的理由"),
    document_reference: str | None = Form(None, description="书面异议的文号"),
) -> DepartmentObjection:
    return _form(DepartmentObjection, reason=reason, document_reference=document_reference)


def repair_form(
    statement: str = Form(..., description="整改情况说明"),
    repair_pledge: str = Form(..., description="信用修复承诺"),
) -> DepartmentRepair:
    return _form(DepartmentRepair, statement=statement, repair_pledge=repair_pledge)


@router.post(
    "/government-breaches/{number}/objection",
    response_model=BreachRecord,
    dependencies=[SUPERVISORS],
    summary="登记被认定部门对政府违约失信记录的书面异议",
)
def department_objection(number: str, body: DepartmentObjection, filing: FilingDep) -> BreachRecord:
    """记录转为“异议处理中”，由信用办（督办人员）在期限内作出决定（谁认定、谁修复）；
    被认定部门及其主管部门均不作决定。"""
    return filing.file(
        object_for_department, number=number, reason=body.reason, document_reference=body.document_reference
    )


@router.post(
    "/government-breaches/{number}/repair",
    response_model=BreachRecord,
    dependencies=[SUPERVISORS],
    summary="登记被认定部门整改后的信用修复申请",
)
def department_repair(number: str, body: DepartmentRepair, filing: FilingDep) -> BreachRecord:
    """须已提交违约失信原因的书面说明及整改情况，且最短公示期已满；记录转为“信用修复申请中”，
    由信用办（督办人员）在期限内作出决定。"""
    return filing.file(
        request_repair_for_department,
        number=number,
        statement=body.statement,
        repair_pledge=body.repair_pledge,
    )


@router.post(
    "/government-breaches/{number}/objection/with-files",
    response_model=BreachRecord,
    dependencies=[SUPERVISORS],
    summary="登记被认定部门的书面异议并上传证明材料（multipart）",
)
def department_objection_with_files(
    number: str,
    body: Annotated[DepartmentObjection, Depends(objection_form)],
    files: FilesDep,
    filing: FilingDep,
) -> BreachRecord:
    """与 ``POST /government-breaches/{number}/objection`` 相同，另附书面异议扫描件及证明材料
    （PDF、PNG、JPEG、OFD，按内容识别类型）；文件只供作出决定的督办人员查阅
    （``GET /breaches`` 的 request_files 及记录页）。文件为空、类型不符或过多→422，过大→413，均不登记异议。"""
    return filing.file(
        object_for_department,
        number=number,
        reason=body.reason,
        document_reference=body.document_reference,
        files=files,
    )


@router.post(
    "/government-breaches/{number}/repair/with-files",
    response_model=BreachRecord,
    dependencies=[SUPERVISORS],
    summary="登记被认定部门的信用修复申请并上传整改材料（multipart）",
)
def department_repair_with_files(
    number: str, body: Annotated[DepartmentRepair, Depends(repair_form)], files: FilesDep, filing: FilingDep
) -> BreachRecord:
    """与 ``POST /government-breaches/{number}/repair`` 相同，另附申请书及整改证明材料；
    文件只供作出决定的督办人员查阅。文件的拒绝与异议相同。"""
    return filing.file(
        request_repair_for_department,
        number=number,
        statement=body.statement,
        repair_pledge=body.repair_pledge,
        files=files,
    )


@router.get(
    "/public/government-breaches",
    response_model=GovernmentBreaches,
    summary="政府违约失信公示（无需登录）",
    tags=["信用公示"],
)
def government_breaches(
    session: SessionDep, today: TodayDep, limit: int = Query(100, ge=1, le=500, description="最多返回条数")
) -> GovernmentBreaches:
    """公示中的政府违约失信记录：部门名称、事实摘要（已遮蔽个人信息）、认定日期、失信程度、公示截止日期及状态。
    已撤销、已修复或公示期满的记录不再列出。本地区未公开时返回 404。"""
    return GovernmentBreaches.model_validate(
        {"items": public_government_breaches(session=session, today=today, limit=limit)}
    )
