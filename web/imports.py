"""Bulk import of pledges on a page: upload a CSV/XLSX, follow its progress, read the per-row report, and
take the access codes of pledgors no e-mail or SMS reaches (once).

The same services as ``POST /api/v1/pledges/import`` (api/routes/imports.py): the upload is checked,
capped in bytes and rows, stored and imported later by the ``import_pledges`` flow; the pages only read
what the flow records. A page of an unfinished import refreshes itself, so nobody has to press F5.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import SessionDep, TodayDep, read_upload
from api.import_caps import check_row_count
from models.errors import DomainError
from models.lifecycle import Role
from models.org import Department
from models.pledges.import_jobs import (
    CODES_TAKEN,
    ImportStatus,
    PledgeImport,
    get_import,
    import_report,
    list_imports,
    submit_import,
    take_offline_codes,
)
from models.privacy import neutralise
from models.settings import get_settings
from models.workflow import Actor
from web.core import current_actor, form_data, page_router, redirect, refused, render
from web.staff import departments

router = page_router("/staff/pledges/import")

IMPORTERS = (Role.INTAKE, Role.HANDLER, Role.SUPERVISOR)  # as the API: api/routes/imports.py
STATUS_LABELS = {
    ImportStatus.QUEUED: "排队等待",
    ImportStatus.RUNNING: "正在导入",
    ImportStatus.DONE: "已完成",
    ImportStatus.FAILED: "导入失败",
}
UNFINISHED = (ImportStatus.QUEUED, ImportStatus.RUNNING)
REFRESH_SECONDS = 5
# A report can hold a row error for each of 100,000 rows; the page shows the first ones.
REPORT_ROWS_SHOWN = 500
CODES_HEADER = ("承诺编号", "承诺人名称", "办理码")


def _local(moment: dt.datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M")


def may_take_codes(job: PledgeImport, actor: Actor) -> bool:
    """Whether the page offers the download: to the uploader or a supervisor, as ``take_offline_codes``."""
    return actor.role == Role.SUPERVISOR or (job.uploader_id is not None and job.uploader_id == actor.id)


def _own_department(session: Session, actor: Actor) -> Department | None:
    """A handler's department, the only authority its imports may name (the import refuses every row
    naming another); None for intake and supervisors, who import for any department."""
    if actor.role != Role.HANDLER or actor.department_id is None:
        return None
    return session.get(Department, actor.department_id)


def _list_page(request: Request, session: Session, actor: Actor, **context: Any) -> Response:
    context.setdefault("error", None)
    context.setdefault("status_code", 200)
    jobs = list_imports(session=session, actor=actor)
    own = _own_department(session, actor)
    return render(
        request,
        "imports.html",
        title="批量导入告知承诺",
        jobs=jobs,
        labels=STATUS_LABELS,
        local=_local,
        # A handler is offered no other department: choosing one only had every row refused, after the run.
        departments=[] if actor.role == Role.HANDLER else departments(session),
        own_department=own,
        is_handler=actor.role == Role.HANDLER,
        refresh=REFRESH_SECONDS if any(j.status in UNFINISHED for j in jobs) else None,
        max_mb=get_settings().import_max_bytes // (1024 * 1024),
        max_rows=get_settings().import_max_rows,
        **context,
    )


@router.get("")
def imports(request: Request, session: SessionDep) -> Response:
    _, actor = current_actor(request, session, *IMPORTERS)
    return _list_page(request, session, actor)


@router.post("")
async def upload(request: Request, session: SessionDep, today: TodayDep) -> Response:
    """Store the file for the import flow and go to its page, which follows the import."""
    _, actor = current_actor(request, session, *IMPORTERS)
    form = await form_data(request)
    file = (await request.form()).get("file")  # parsed once: Starlette keeps the form
    if file is None or isinstance(file, str) or not file.filename:
        return _list_page(request, session, actor, error="请选择要导入的 CSV 或 XLSX 文件。", status_code=422)
    own = _own_department(session, actor)
    chosen = (form.get("authority") or "").strip().upper()
    if own is not None and chosen and chosen != own.code.upper():
        # Refused now rather than row by row once the flow has run (a hand-made form still names one).
        error = (
            f"经办人只能导入本部门（{own.code} {own.name}）的告知承诺；请将默认审批部门留空或选择本部门 "
            "(handlers import for their own department only)"
        )
        return _list_page(request, session, actor, error=error, status_code=422)
    try:
        # Starlette's form parser gives its own UploadFile; read_upload only reads from it.
        content = await read_upload(file, get_settings().import_max_bytes)  # type: ignore[arg-type]
        check_row_count(content, file.filename)
        job = submit_import(
            session=session,
            content=content,
            filename=file.filename,
            actor=actor,
            today=today,
            default_authority=form.get("authority") or None,
        )
    except DomainError as exc:
        message, status = refused(session, exc)
        return _list_page(request, session, actor, error=message, status_code=status)
    session.commit()
    return redirect(f"/staff/pledges/import/{job.id}")


@router.get("/{import_id}")
def import_page(request: Request, import_id: int, session: SessionDep) -> Response:
    _, actor = current_actor(request, session, *IMPORTERS)
    job = get_import(session=session, import_id=import_id, actor=actor)
    report = import_report(job)
    errors = report.all_errors
    return render(
        request,
        "import_detail.html",
        title=f"导入任务 #{job.id}",
        job=job,
        label=STATUS_LABELS[job.status],
        local=_local,
        refresh=REFRESH_SECONDS if job.status in UNFINISHED else None,
        errors=errors[:REPORT_ROWS_SHOWN],
        errors_total=len(errors),
        numbers=report.numbers,
        codes_waiting=len(report.offline_codes),
        codes_taken=job.report.get(CODES_TAKEN),
        taken_at=_local(dt.datetime.fromisoformat(job.report[CODES_TAKEN]["at"]))
        if job.report.get(CODES_TAKEN)
        else None,
        may_take=may_take_codes(job, actor),
        error=None,
    )


@router.post("/{import_id}/codes")
async def codes_file(request: Request, import_id: int, session: SessionDep) -> Response:
    """The offline access codes as a CSV file, once: the stored copy is erased and the download recorded
    (committed) before the file is sent, so a second click gets the page saying who took them."""
    _, actor = current_actor(request, session, *IMPORTERS)
    await form_data(request)
    try:
        job, codes = take_offline_codes(
            session=session, import_id=import_id, actor=actor, now=dt.datetime.now(dt.UTC)
        )
    except DomainError as exc:
        message, status = refused(session, exc)
        return render(request, "error.html", status_code=status, title="无法下载办理码", message=message)
    session.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CODES_HEADER)
    # Names come from the uploaded file: neutralised so a spreadsheet never runs one as a formula.
    writer.writerows(
        (neutralise(c["number"]), neutralise(c["pledgor_name"]), c["access_code"]) for c in codes
    )
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),  # the BOM makes Excel read it as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{job.id}-access-codes.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
