"""A complaint's rectification files (整改材料) for staff: listed and read back under the case's own
visibility rule (another department's case is "not found"). The public tracking page serves no file."""

from __future__ import annotations

from sqlmodel import Session

from models.complaints.visibility import get_complaint
from models.errors import NotFound
from models.files import CaseFile, case_files, read_case_file
from models.lifecycle import Role
from models.workflow import Actor


def _visible(session: Session, complaint_id: int, actor: Actor) -> None:
    if actor.role in (Role.PUBLIC, Role.SYSTEM):
        raise NotFound(f"投诉 #{complaint_id} 不存在或无权查看 (complaint not found)", id=complaint_id)
    get_complaint(session=session, complaint_id=complaint_id, actor=actor)


def complaint_files(*, session: Session, complaint_id: int, actor: Actor) -> list[CaseFile]:
    """The files handed in with the complaint's rectification reports, oldest first."""
    _visible(session, complaint_id, actor)
    return case_files(session=session, case_kind="complaint", case_ids=[complaint_id]).get(complaint_id, [])


def read_complaint_file(
    *, session: Session, complaint_id: int, file_id: int, actor: Actor
) -> tuple[CaseFile, bytes]:
    _visible(session, complaint_id, actor)
    return read_case_file(session=session, case_kind="complaint", case_id=complaint_id, file_id=file_id)
