"""Routes: bulk import of pledges. The upload is checked and stored, and answered with 202 at once; the
``import_pledges`` flow imports it (within a minute), and its progress and report are read here."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from pydantic import BaseModel

from api.body_limit import too_large
from api.deps import ActorDep, SessionDep, TodayDep, no_store, require_roles
from api.import_caps import check_row_count
from models.lifecycle import Role
from models.pledges.import_jobs import (
    ImportStatus,
    PledgeImport,
    get_import,
    import_report,
    list_imports,
    submit_import,
)
from models.settings import get_settings

router = APIRouter(tags=["告知承诺"])

STAFF = require_roles(Role.INTAKE, Role.HANDLER, Role.SUPERVISOR)


class RowErrorView(BaseModel):
    row: int  # the spreadsheet row (the header is row 1)
    column: str
    message: str


# The access code of a pledgor the registration notice reaches by neither e-mail nor SMS (无可用邮箱或短信的
# 承诺人): staff hand it over with the printed notice.
class OfflineCode(BaseModel):
    number: str
    pledgor_name: str
    access_code: str


# One import as listed: where it stands and its counts so far.
class ImportSummary(BaseModel):
    id: int
    source: str
    status: ImportStatus
    uploader_name: str
    total: int  # rows worked through so far
    rows_estimated: int | None  # a CSV's row count before it is read; every row read once done
    imported: int
    already_imported: int
    failed: int
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


# One import with the report the synchronous import used to answer (errors, numbers, offline codes).
class ImportDetail(ImportSummary):
    errors: list[RowErrorView]
    numbers: list[str]
    offline_codes: list[OfflineCode]


def _summary(job: PledgeImport) -> dict[str, object]:
    return {
        "id": job.id, "source": job.filename, "status": job.status, "uploader_name": job.uploader_name,
        "total": job.rows_processed, "rows_estimated": job.rows_total, "imported": job.imported,
        "already_imported": job.already_imported, "failed": job.failed, "error": job.error,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
    }  # fmt: skip


def _detail(job: PledgeImport) -> ImportDetail:
    report = import_report(job).to_dict()
    return ImportDetail.model_validate({
        **_summary(job), "errors": report["errors"], "numbers": report["numbers"],
        "offline_codes": report["offline_codes"],
    })  # fmt: skip


# A plain def: FastAPI runs it in the thread pool, so reading the upload and storing it never holds the
# event loop (the import itself runs in the flow, never in the request).
@router.post("/pledges/import", status_code=202, response_model=ImportSummary, dependencies=[STAFF])
def import_file(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    file: UploadFile = File(..., description="CSV（UTF-8）或 XLSX"),
    authority: str | None = Query(None, description="文件中未填部门代码时使用的部门代码"),
) -> ImportSummary:
    """上传批量导入文件：校验格式与大小后保存并排队（202），由导入流程在一分钟内处理；进度与逐行报告见
    `GET /pledges/imports/{id}`。重复导入不会重复登记。文件超过大小上限返回 413，数据行超过上限返回 422。"""
    # One byte past the limit is enough to refuse an oversized file without holding it whole (the body
    # itself was capped as it arrived: api/body_limit.py). Both caps before anything is stored.
    limit = get_settings().import_max_bytes
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise too_large(limit)
    check_row_count(content, file.filename or "upload.csv")
    job = submit_import(
        session=session,
        content=content,
        filename=file.filename or "upload.csv",
        actor=actor,
        today=today,
        default_authority=authority,
    )
    session.commit()
    response.headers["Location"] = str(request.url_for("import_status", import_id=job.id))
    return ImportSummary.model_validate(_summary(job))


@router.get("/pledges/imports", response_model=list[ImportSummary], dependencies=[STAFF])
def imports(
    session: SessionDep, actor: ActorDep, limit: int = Query(50, ge=1, le=200)
) -> list[ImportSummary]:
    """本部门的批量导入任务（新的在前）。"""
    return [
        ImportSummary.model_validate(_summary(j))
        for j in list_imports(session=session, actor=actor, limit=limit)
    ]


@router.get("/pledges/imports/{import_id}", response_model=ImportDetail, dependencies=[STAFF])
def import_status(import_id: int, response: Response, session: SessionDep, actor: ActorDep) -> ImportDetail:
    """导入进度与逐行报告（行号、列、原因），完成后含承诺编号和须书面送达的办理码（无可用邮箱或短信的
    承诺人）；其他部门的任务为 404。"""
    job = get_import(session=session, import_id=import_id, actor=actor)
    no_store(response)  # offline_codes
    return _detail(job)
