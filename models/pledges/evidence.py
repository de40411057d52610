"""Evidence a pledgor hands in: allowed types by their first bytes, safe file names, and storage
under the file's SHA-256 outside the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from pathlib import Path

from sqlmodel import Session

from models.calendar import WorkCalendar
from models.errors import ValidationFailed
from models.lifecycle import PLEDGE
from models.pledge import (
    PledgeEvidence,
)
from models.pledges.mail import mail_evidence_received
from models.pledges.queries import get_pledge
from models.pledges.review import note_submission
from models.settings import get_settings
from models.workflow import Actor, apply_event

# Allowed types, recognised by their first bytes (a renamed .exe is refused whatever its name).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"PK\x03\x04", "application/ofd", ".ofd"),  # OFD is a ZIP container
)


def sniff(content: bytes) -> str:
    for magic, content_type, _ in _SIGNATURES:
        if content.startswith(magic):
            return content_type
    raise ValidationFailed(
        "文件类型不受支持：仅接受 PDF、PNG、JPEG、OFD 文件（按文件内容识别，与扩展名无关）；请转换后重新上传 "
        "(unsupported file type)"
    )


def sanitise_filename(name: str) -> str:
    """The last path component, control and path characters removed, at most 120 characters."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", base).strip(" .")
    return base[:120] or "evidence"


def store_evidence(
    *,
    session: Session,
    pledge_id: int,
    filename: str,
    content: bytes,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> PledgeEvidence:
    """Store the file under its SHA-256 outside the database and fire ``submit_evidence``."""
    settings = get_settings()
    if len(content) > settings.upload_max_bytes:
        raise ValidationFailed(
            f"文件过大：{len(content)} 字节，上限 {settings.upload_max_bytes} 字节；请压缩或拆分后上传 "
            "(file too large)"
        )
    if not content:
        raise ValidationFailed("文件为空；请选择要上传的材料 (empty file)")
    content_type = sniff(content)
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)  # hidden from other departments
    PLEDGE.fire(pledge.state, "submit_evidence", actor.role)
    digest = hashlib.sha256(content).hexdigest()
    path = Path(settings.upload_dir) / digest[:2] / digest[2:4] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)  # atomic: a crash never leaves half a file under the final name
    row = PledgeEvidence(
        pledge_id=pledge_id,
        filename=sanitise_filename(filename),
        content_type=content_type,
        size=len(content),
        sha256=digest,
        uploaded_by=actor.name,
    )
    session.add(row)
    session.flush()
    event = apply_event(
        session=session,
        case=pledge,
        event="submit_evidence",
        actor=actor,
        today=today,
        calendar=calendar,
        data={
            "evidence_id": row.id,
            "sha256": digest,
            "filename": row.filename,
            **note_submission(pledge=pledge, today=today),
        },
    )
    if event is not None:
        mail_evidence_received(session=session, pledge=pledge, filename=row.filename, event=event)
    return row
