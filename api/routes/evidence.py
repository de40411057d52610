"""Routes: reading a pledge's evidence (staff) and the pledgor's own upload (no login)."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from api.deps import ActorDep, CalendarDep, SessionDep, TodayDep, read_upload, require_roles
from api.schemas import EvidenceReceived, EvidenceView
from models.lifecycle import Role
from models.pledges.evidence_files import list_evidence, read_evidence, submit_by_pledgor

router = APIRouter(tags=["告知承诺"])

STAFF = require_roles(Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN)


def attachment_header(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266); no quote or CR/LF gets in."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename).strip("._") or "evidence"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


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
    return Response(
        content=content,
        media_type=row.content_type,
        headers={
            "Content-Disposition": attachment_header(row.filename),
            "X-Content-Type-Options": "nosniff",
        },
    )


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
    access_code: str = Form(..., max_length=32, description="办理码（承诺登记时告知，形如 ABCD-EFGH-JKMN）"),
    file: UploadFile = File(..., description="PDF、PNG、JPEG 或 OFD"),
) -> EvidenceReceived:
    """须填写承诺的办理码：编号不存在返回 404，办理码错误返回 403，错误次数过多返回 429。"""
    content = await read_upload(file)
    row = submit_by_pledgor(
        session=session,
        number=number,
        access_code=access_code,
        address=request.client.host if request.client else None,
        filename=file.filename or "evidence",
        content=content,
        today=today,
        calendar=calendar,
    )
    session.commit()
    return EvidenceReceived.model_validate(row, from_attributes=True)
