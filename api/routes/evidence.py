"""Routes for files handed in with a case (one storage, ``models.files``; one answer, ``api.downloads``):
a pledge's evidence (staff read it, the pledgor uploads with its access code), a complaint's rectification
files (the department uploads them with its report; staff read them), and the files of an objection or a
repair request (the subject uploads them with the request; only the deciding department reads them).
No route serves a file to the public."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import ActorDep, CalendarDep, SessionDep, TodayDep, read_upload, require_roles
from api.downloads import file_response
from api.routes.public import PHONE_DESCRIPTION
from api.schemas import (
    CaseFileView,
    ComplaintView,
    EvidenceReceived,
    EvidenceView,
    ObjectionReceived,
    ReceivedFile,
    RepairReceived,
    complaint_view,
)
from models import complaints as service
from models.breach_record import department_names, public_fields
from models.breach_requests import read_request_file
from models.complaints.files import complaint_files, read_complaint_file
from models.files import Upload
from models.lifecycle import Role
from models.pledges.evidence_files import list_evidence, read_evidence, submit_by_pledgor
from models.register.requests import request_repair, submit_objection

router = APIRouter(tags=["告知承诺"])

STAFF = require_roles(Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN)
DECIDERS = require_roles(Role.HANDLER, Role.SUPERVISOR)  # as the breach decision routes
FILES = File(
    ..., description="PDF、PNG、JPEG 或 OFD；每次最多 upload_max_files 个，合计不超过 upload_max_bytes"
)
ACCESS_CODE = Form(..., max_length=32, description="办理码（承诺登记时告知，形如 ABCD-EFGH-JKMN）")


async def read_files(files: list[UploadFile]) -> list[Upload]:
    """The uploads' names and bytes (each read up to the size limit at most; the service checks the rest)."""
    return [Upload(f.filename or "file", await read_upload(f)) for f in files]


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get(
    "/pledges/{pledge_id}/evidence",
    response_model=list[EvidenceView],
    dependencies=[STAFF],
    summary="履约材料列表",
)
def evidence_list(pledge_id: int, session: SessionDep, actor: ActorDep) -> list[EvidenceView]:
    return [
        EvidenceView.model_validate(row)
        for row in list_evidence(session=session, pledge_id=pledge_id, actor=actor)
    ]


@router.get("/pledges/{pledge_id}/evidence/{evidence_id}", dependencies=[STAFF], summary="下载履约材料")
def evidence_download(pledge_id: int, evidence_id: int, session: SessionDep, actor: ActorDep) -> Response:
    row, content = read_evidence(session=session, pledge_id=pledge_id, evidence_id=evidence_id, actor=actor)
    return file_response(filename=row.filename, content_type=row.content_type, content=content)


@router.post(
    "/public/pledges/{number}/evidence",
    status_code=201,
    response_model=EvidenceReceived,
    summary="承诺人自行提交履约材料（无需登录）",
    tags=["公众"],
)
async def pledgor_upload(
    number: str,
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    access_code: str = ACCESS_CODE,
    # A list under the one field name ``file``: a client that sends one part is answered as before. Its
    # own File(): FastAPI keeps a parameter's name on the object, so sharing FILES would rename the others.
    file: list[UploadFile] = File(..., description=FILES.description),
) -> EvidenceReceived:
    """须填写承诺的办理码：编号不存在返回 404，办理码错误返回 403，错误次数过多返回 429。一次可提交多个文件
    （同名字段 ``file`` 重复），记为一次提交。"""
    rows = submit_by_pledgor(
        session=session,
        number=number,
        access_code=access_code,
        address=_client(request),
        uploads=await read_files(file),
        today=today,
        calendar=calendar,
    )
    session.commit()
    files = [ReceivedFile.model_validate(row, from_attributes=True) for row in rows]
    return EvidenceReceived(**files[0].model_dump(), files=files)


@router.post(
    "/complaints/{complaint_id}/actions/report_rectification/with-files",
    response_model=ComplaintView,
    summary="报送整改情况并上传整改材料（multipart）",
    tags=["投诉"],
)
async def report_rectification_with_files(
    complaint_id: int,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
    evidence: str = Form(..., description="整改情况及证明"),
    attachments: list[str] = Form(default_factory=list, description="其他附件的名称、链接或档案号"),
    expected_version: int | None = Form(None),
    note: str | None = Form(None),
    files: list[UploadFile] = FILES,
) -> ComplaintView:
    """与 ``report_rectification`` 相同，另附整改材料文件（按内容识别类型）。文件为空、类型不符或过多→422，
    过大→413；状态、角色、部门和版本的拒绝与 JSON 接口相同。"""
    try:
        body = service.ReportRectificationBody(
            evidence=evidence, attachments=attachments, expected_version=expected_version, note=note
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    complaint = service.act(
        session=session,
        complaint_id=complaint_id,
        action="report_rectification",
        body=body,
        actor=actor,
        today=today,
        calendar=calendar,
        files=await read_files(files),
    )
    session.commit()
    return complaint_view(session, complaint)


@router.get(
    "/complaints/{complaint_id}/files",
    response_model=list[CaseFileView],
    dependencies=[STAFF],
    summary="投诉的整改材料文件",
    tags=["投诉"],
)
def complaint_file_list(complaint_id: int, session: SessionDep, actor: ActorDep) -> list[CaseFileView]:
    rows = complaint_files(session=session, complaint_id=complaint_id, actor=actor)
    return [CaseFileView.model_validate(row) for row in rows]


@router.get(
    "/complaints/{complaint_id}/files/{file_id}", dependencies=[STAFF], summary="下载整改材料", tags=["投诉"]
)
def complaint_file(complaint_id: int, file_id: int, session: SessionDep, actor: ActorDep) -> Response:
    row, content = read_complaint_file(
        session=session, complaint_id=complaint_id, file_id=file_id, actor=actor
    )
    return file_response(filename=row.filename, content_type=row.content_type, content=content)


@router.get(
    "/breaches/{breach_id}/files/{file_id}",
    dependencies=[DECIDERS],
    summary="下载异议或信用修复申请的材料（认定部门）",
)
def breach_request_file(breach_id: int, file_id: int, session: SessionDep, actor: ActorDep) -> Response:
    row, content = read_request_file(session=session, breach_id=breach_id, file_id=file_id, actor=actor)
    return file_response(filename=row.filename, content_type=row.content_type, content=content)


@router.post(
    "/public/breaches/{number}/objection/with-files",
    status_code=201,
    response_model=ObjectionReceived,
    summary="提出异议并上传证明材料（multipart，无需登录）",
    tags=["信用公示"],
)
async def objection_with_files(
    number: str,
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    access_code: str = ACCESS_CODE,
    reason: str = Form(..., min_length=1, max_length=2000, description="异议理由"),
    evidence: str | None = Form(None, max_length=4000, description="证明材料说明"),
    files: list[UploadFile] = FILES,
    phone: str | None = Form(None, max_length=32, description=PHONE_DESCRIPTION),
) -> ObjectionReceived:
    """与 ``POST /public/breaches/{number}/objection`` 相同，另附证明材料文件；文件只供认定部门查阅。"""
    record = submit_objection(
        session=session,
        number=number,
        access_code=access_code,
        reason=reason,
        evidence=evidence,
        today=today,
        calendar=calendar,
        address=_client(request),
        files=await read_files(files),
        phone=phone,
    )
    session.commit()
    return ObjectionReceived.model_validate(
        {**public_fields(record, department_names(session)), "reply_due": record.stage_deadline}
    )


@router.post(
    "/public/breaches/{number}/repair/with-files",
    status_code=201,
    response_model=RepairReceived,
    summary="申请信用修复并上传材料（multipart，无需登录）",
    tags=["信用公示"],
)
async def repair_with_files(
    number: str,
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
    access_code: str = ACCESS_CODE,
    statement: str = Form(..., min_length=1, max_length=4000, description="纠正失信行为的说明"),
    repair_pledge: str = Form(..., min_length=1, max_length=4000, description="信用修复承诺"),
    files: list[UploadFile] = FILES,
    phone: str | None = Form(None, max_length=32, description=PHONE_DESCRIPTION),
) -> RepairReceived:
    """与 ``POST /public/breaches/{number}/repair`` 相同，另附纠正失信行为的证明文件；
    文件只供认定部门查阅。"""
    record = request_repair(
        session=session,
        number=number,
        access_code=access_code,
        statement=statement,
        repair_pledge=repair_pledge,
        today=today,
        calendar=calendar,
        address=_client(request),
        files=await read_files(files),
        phone=phone,
    )
    session.commit()
    return RepairReceived.model_validate(
        {**public_fields(record, department_names(session)), "decision_due": record.stage_deadline}
    )
