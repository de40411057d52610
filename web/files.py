"""Files on the staff pages: a complaint's rectification files and the files of an objection or repair
request, opened (PDF and images shown in the page's frame) or downloaded, for staff who may see the case;
and the files a page's form sends (read with the same size limit as the API's). The public pages serve no
file: whoever handed one in does not read it, or anyone else's, back."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.deps import SessionDep, read_upload
from api.downloads import file_response
from models.breach_requests import read_request_file
from models.complaints.files import read_complaint_file
from models.files import ALLOWED_TYPES, Upload
from models.lifecycle import Role
from models.settings import get_settings
from web.core import current_actor, page_router

router = page_router("/staff")

STAFF = (Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN)  # as the case page
DECIDERS = (Role.HANDLER, Role.SUPERVISOR)  # as the breach record page


async def form_uploads(request: Request, field: str = "files") -> list[Upload]:
    """The files a form sent under ``field``; a file input left empty (no name, no bytes) is no file.
    Call after ``form_data`` checked the CSRF field (Starlette keeps the parsed form)."""
    form = await request.form()
    uploads = []
    for item in form.getlist(field):
        if isinstance(item, UploadFile) and (item.filename or item.size):
            uploads.append(Upload(item.filename or "file", await read_upload(item)))  # type: ignore[arg-type]
    return uploads


def upload_hint(*, multiple: bool = True) -> str:
    """What a file input accepts, as the service checks it."""
    settings = get_settings()
    size = f"{settings.upload_max_bytes / (1024 * 1024):.3g} MB"
    if not multiple:
        return f"{ALLOWED_TYPES}；每次一个文件，不超过 {size}"
    return f"{ALLOWED_TYPES}；可多选，每次最多 {settings.upload_max_files} 个，合计不超过 {size}"


@router.get("/complaints/{complaint_id}/files/{file_id}")
def complaint_file(
    request: Request, complaint_id: int, file_id: int, session: SessionDep, inline: bool = False
) -> Response:
    _, actor = current_actor(request, session, *STAFF)
    row, content = read_complaint_file(
        session=session, complaint_id=complaint_id, file_id=file_id, actor=actor
    )
    return file_response(filename=row.filename, content_type=row.content_type, content=content, inline=inline)


@router.get("/breaches/{breach_id}/files/{file_id}")
def breach_file(
    request: Request, breach_id: int, file_id: int, session: SessionDep, inline: bool = False
) -> Response:
    _, actor = current_actor(request, session, *DECIDERS)
    row, content = read_request_file(session=session, breach_id=breach_id, file_id=file_id, actor=actor)
    return file_response(filename=row.filename, content_type=row.content_type, content=content, inline=inline)
