"""Files handed in with a case, one mechanism for every kind: a pledge's evidence (``pledge_evidence``), a
complaint's rectification report and a breach record's objection or repair request (``case_file``).

A submission is checked before anything is written: at most ``upload_max_files`` files, none empty, each
and all together within ``upload_max_bytes``, each of an allowed type recognised by its first bytes (a
renamed .exe is refused whatever its name), and its name made to end in that type's extension. A file
is stored outside the database under its SHA-256 (content-addressed: the same bytes are stored once, and
the path comes from the hash alone, never from the name the client gave). Reading it back checks the
hash, so a file altered or lost on disk is not served. Who may read a file is the caller's check (the
case's own visibility rule); nothing here serves the public.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import secrets
import time
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Column, Index, union
from sqlmodel import Field, Session, SQLModel, col, select

from models.clock import utcnow
from models.errors import NotFound, TooLarge, ValidationFailed
from models.id_sets import chunks, in_list
from models.pledge import PledgeEvidence
from models.settings import get_settings
from models.types import UTCDateTime

# Allowed types, recognised by their first bytes.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"PK\x03\x04", "application/ofd"),  # OFD is a ZIP container with OFD.xml at its root (GB/T 33190)
)
# The extensions a file's name may end in for each type; a name ending in another gets the first added.
# The reader's computer opens a downloaded file by its extension: "证明.hta" or "证明.html" whose bytes begin
# with "%PDF-" would otherwise be run or opened as a page, and a .jar or .docm passes for an OFD's ZIP.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "application/ofd": (".ofd",),
}
NAME_MAX = 120
ALLOWED_TYPES = "PDF、PNG、JPEG、OFD"
# Shown in the browser (an image, or the PDF viewer in a frame); other types are only downloaded.
PREVIEWABLE = frozenset({"application/pdf", "image/png", "image/jpeg"})

FileKind = Literal["rectification", "objection", "repair"]
FILE_KIND_LABELS: dict[str, str] = {
    "rectification": "整改材料",
    "objection": "异议证明材料",
    "repair": "信用修复材料",
}


@dataclass(frozen=True)
class Upload:
    """A file as the client sent it: its name (only shown, never used as a path) and its bytes."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class StoredFile:
    """What is known of a checked file: the safe name, the type by content, the size and the hash."""

    filename: str
    content_type: str
    size: int
    sha256: str

    def audit(self) -> dict[str, Any]:
        """The file as the audit event records it (the hash chains the content into the case's history)."""
        return {"filename": self.filename, "sha256": self.sha256, "size": self.size}


class CaseFile(SQLModel, table=True):
    """A file handed in with a complaint's or a breach record's event (``event_seq`` of that case)."""

    __tablename__ = "case_file"
    __table_args__ = (Index("ix_case_file_case", "case_kind", "case_id"),)
    id: int | None = Field(default=None, primary_key=True)
    case_kind: str = Field(max_length=16)
    case_id: int
    kind: str = Field(max_length=16)
    event_seq: int
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    uploaded_by: str = Field(max_length=128)
    uploaded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


def _is_ofd(content: bytes) -> bool:
    """A ZIP whose central directory names OFD.xml at the root (read from the directory only, nothing is
    unpacked): any other ZIP (a .docx, .jar or a plain archive) is not an OFD."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return any(name.lower() == "ofd.xml" for name in archive.namelist())
    # An upload's directory is untrusted: one the zipfile module cannot read (corrupt, truncated, or an
    # unsupported "version needed", which raises NotImplementedError) is not an OFD, never a 500.
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False


def sniff(content: bytes, filename: str = "") -> str:
    for magic, content_type in _SIGNATURES:
        if content.startswith(magic) and (content_type != "application/ofd" or _is_ofd(content)):
            return content_type
    which = f"“{filename}”" if filename else ""
    raise ValidationFailed(
        f"文件{which}类型不受支持：仅接受 {ALLOWED_TYPES} 文件（按文件内容识别，与扩展名无关）；"
        "请转换后重新上传 (unsupported file type)",
        field="files",
    )


def sanitise_filename(name: str) -> str:
    """The last path component, control and path characters removed, and the invisible format characters
    (a right-to-left override shows "证明\u202efdp.exe" as "证明exe.pdf"), at most 120 characters."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) != "Cf")
    base = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", base).strip(" .")
    return base[:NAME_MAX] or "evidence"


def typed_name(filename: str, content_type: str) -> str:
    """``filename`` ending in an extension of ``content_type`` (the type recognised from the content): kept
    when it does, else with the type's extension added ("说明.html" holding a PDF is "说明.html.pdf"), so
    whoever downloads it opens it with the program for what it is. At most ``NAME_MAX`` characters."""
    extensions = EXTENSIONS.get(content_type)
    if not extensions or filename.lower().endswith(extensions):
        return filename
    return filename[: NAME_MAX - len(extensions[0])] + extensions[0]


def check_uploads(uploads: Sequence[Upload]) -> list[StoredFile]:
    """Each upload checked (count, emptiness, size, type), in order; nothing is written."""
    settings = get_settings()
    if len(uploads) > settings.upload_max_files:
        raise ValidationFailed(
            f"文件过多：每次最多上传 {settings.upload_max_files} 个文件，本次 {len(uploads)} 个；"
            "请合并为一个 PDF 或分次提交 (too many files)",
            field="files",
            max_files=settings.upload_max_files,
        )
    limit = settings.upload_max_bytes
    checked = []
    for upload in uploads:
        name = sanitise_filename(upload.filename)
        if not upload.content:
            raise ValidationFailed(f"文件“{name}”为空；请选择要上传的材料 (empty file)", field="files")
        if len(upload.content) > limit:
            raise TooLarge(
                f"文件过大：“{name}” {len(upload.content)} 字节，上限 {limit} 字节；请压缩或拆分后上传 "
                "(file too large)",
                field="files",
                limit_bytes=limit,
            )
        digest = hashlib.sha256(upload.content).hexdigest()
        content_type = sniff(upload.content, name)
        checked.append(StoredFile(typed_name(name, content_type), content_type, len(upload.content), digest))
    total = sum(f.size for f in checked)
    if total > limit:
        raise TooLarge(
            f"文件过大：本次上传的文件合计 {total} 字节，上限 {limit} 字节；请压缩后上传或分次提交 "
            "(files too large together)",
            field="files",
            limit_bytes=limit,
        )
    return checked


def file_path(sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise NotFound("文件不存在 (no such file)")
    return Path(get_settings().upload_dir) / sha256[:2] / sha256[2:4] / sha256


def save(uploads: Sequence[Upload], checked: Sequence[StoredFile]) -> None:
    """Write the checked uploads under their hashes. A file already there is kept only when its bytes
    still match its hash; one altered or damaged on disk (which ``load`` refuses to serve) is written
    anew, so handing in the same bytes again heals it. Atomic: a crash never leaves half a file under the
    final name. A transaction rolled back afterwards leaves an unreferenced file, never a reference
    without its file (``purge_unreferenced`` removes it a grace period later; a file stored again is
    written anew or its time refreshed, so the grace counts from the latest upload)."""
    for upload, stored in zip(uploads, checked, strict=True):
        path = file_path(stored.sha256)
        # Checked before it is refreshed: only a file with the right bytes gets a new time, so the one a
        # purge puts back (``_remove``) is never a damaged file over the copy written here.
        if _intact(path, stored.sha256) and _refresh(path):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{stored.sha256}.{secrets.token_hex(6)}.tmp")
        tmp.write_bytes(upload.content)
        tmp.replace(path)


def store(uploads: Sequence[Upload]) -> list[StoredFile]:
    """``check_uploads`` then ``save``: all files are checked before the first is written."""
    checked = check_uploads(uploads)
    save(uploads, checked)
    return checked


def _intact(path: Path, sha256: str) -> bool:
    """Whether the file at ``path`` holds bytes whose SHA-256 is ``sha256``; False when it is not there
    (never stored, or being purged this instant) or was altered or damaged on disk."""
    try:
        with path.open("rb") as stored:
            return hashlib.file_digest(stored, "sha256").hexdigest() == sha256
    except FileNotFoundError:
        return False


def load(*, sha256: str, filename: str) -> bytes:
    """The stored bytes; a file whose content no longer matches its hash is not served."""
    path = file_path(sha256)
    content = path.read_bytes() if path.is_file() else None
    if content is None or hashlib.sha256(content).hexdigest() != sha256:
        raise NotFound(
            f"材料 {filename} 的文件已丢失或损坏，请联系管理员从备份恢复 (stored file missing or altered)"
        )
    return content


def attach(
    *,
    session: Session,
    case_kind: Literal["complaint", "breach"],
    case_id: int,
    kind: FileKind,
    event_seq: int,
    files: Sequence[StoredFile],
    uploaded_by: str,
) -> list[CaseFile]:
    """Rows for stored files handed in with the case's event ``event_seq``; flushed, not committed."""
    rows = [
        CaseFile(
            case_kind=case_kind,
            case_id=case_id,
            kind=kind,
            event_seq=event_seq,
            filename=f.filename,
            content_type=f.content_type,
            size=f.size,
            sha256=f.sha256,
            uploaded_by=uploaded_by,
        )
        for f in files
    ]
    session.add_all(rows)
    session.flush()
    return rows


_CASE_FILES = CaseFile.__table__  # type: ignore[attr-defined]


def case_files(
    *, session: Session, case_kind: Literal["complaint", "breach"], case_ids: Sequence[int]
) -> dict[int, list[CaseFile]]:
    """Each case's files, oldest first (one query per chunk of ids)."""
    found: dict[int, list[CaseFile]] = {}
    for part in chunks(list(case_ids)):
        stmt = select(CaseFile).where(
            CaseFile.case_kind == case_kind, in_list(session, _CASE_FILES.c.case_id, part)
        )
        for row in session.exec(stmt.order_by(col(CaseFile.id))).all():
            found.setdefault(row.case_id, []).append(row)
    return found


def read_case_file(
    *, session: Session, case_kind: Literal["complaint", "breach"], case_id: int, file_id: int
) -> tuple[CaseFile, bytes]:
    """A case's file and its bytes, for a caller that has checked the reader may see the case."""
    row = session.get(CaseFile, file_id)
    if row is None or row.case_kind != case_kind or row.case_id != case_id:
        raise NotFound(f"没有编号为 {file_id} 的材料文件 (file not found)", id=file_id)
    return row, load(sha256=row.sha256, filename=row.filename)


# Unreferenced files. A file is written before the transaction that records it commits (save, then the
# rows), so a transaction that fails, or a request refused after its files were stored, leaves a file that
# no row names. The daily purge removes those once they are older than a grace period, which must exceed
# the longest transaction: a file of a transaction still in flight is never removed.

# Every table naming a stored file by its SHA-256.
_REFERENCES: tuple[Any, ...] = (CaseFile.__table__, PledgeEvidence.__table__)  # type: ignore[attr-defined]
_HEX2 = re.compile(r"[0-9a-f]{2}")
_STORED = re.compile(r"[0-9a-f]{64}")
# A write's temporary (save) or a purge's removal in progress: left behind only by a crash.
_LEFTOVER = re.compile(r"[0-9a-f]{64}\.[0-9a-f]+\.(tmp|purge)")


@dataclass(frozen=True)
class Purged:
    """What a purge removed: how many files and their bytes."""

    files: int = 0
    bytes: int = 0


def _refresh(path: Path) -> bool:
    """Mark a stored file as handed in again now (its modification time), so the purge's grace period
    counts from this upload; False when it is not there (never stored, or being purged this instant)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def _referenced(session: Session) -> set[bytes]:
    """The hashes every referencing table names (one query, its rows streamed; 32 bytes each in memory)."""
    stmt = union(*(select(table.c.sha256) for table in _REFERENCES))
    rows = session.connection().execution_options(yield_per=10_000).execute(stmt)
    return {bytes.fromhex(sha) for (sha,) in rows if _STORED.fullmatch(sha)}


def _old_entries(root: Path, cutoff: float) -> Iterator[tuple[os.DirEntry[str], int]]:
    """Files under ``root``/xx/yy/ last written before ``cutoff`` (seconds since the epoch), with their
    sizes; subdirectories are never removed (a concurrent save may be about to write into one)."""
    for first in _subdirectories(root):
        for second in _subdirectories(Path(first.path)):
            try:
                entries = list(os.scandir(second.path))
            except FileNotFoundError:
                continue
            for entry in entries:
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if entry.is_file(follow_symlinks=False) and stat.st_mtime < cutoff:
                    yield entry, stat.st_size


def _subdirectories(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return [e for e in entries if _HEX2.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _remove(path: Path, cutoff: float) -> bool:
    """Remove an unreferenced stored file unless it was stored again meanwhile. It is first renamed aside
    (atomic): a save after that finds no file and writes it anew; one just before refreshed its time,
    which the renamed file shows, and it is put back. False when another purge took it first."""
    aside = path.with_name(f"{path.name}.{secrets.token_hex(6)}.purge")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return False
    try:
        if aside.stat().st_mtime >= cutoff:
            aside.replace(path)  # a save refreshes only a file it found intact: the bytes it would write
            return False
    except FileNotFoundError:
        return False  # another purge removed it as an old leftover: counted there
    return _unlink(aside)


def purge_unreferenced(*, session: Session, now: float | None = None) -> Purged:
    """Delete the files under ``upload_dir`` that no row references (``_REFERENCES``) and that were last
    written more than ``upload_orphan_grace_hours`` before ``now`` (default: the current time; file times
    are the machine's clock, never the product's pinned date), and temporaries a crash left as old. Only
    names the store writes (xx/yy/<sha256>) are touched. Safe to run twice or concurrently: a file already
    gone is skipped, not an error."""
    cutoff = (time.time() if now is None else now) - get_settings().upload_orphan_grace_hours * 3600
    referenced = _referenced(session)  # read before the walk: a row committed later names a newer file
    root = Path(get_settings().upload_dir)
    files = size = 0
    for entry, entry_size in _old_entries(root, cutoff):
        path, name = Path(entry.path), entry.name
        if _LEFTOVER.fullmatch(name):
            removed = _unlink(path)
        elif _STORED.fullmatch(name) and name.startswith(path.parent.parent.name + path.parent.name):
            removed = bytes.fromhex(name) not in referenced and _remove(path, cutoff)
        else:
            continue  # not a name the store writes: left alone
        if removed:
            files, size = files + 1, size + entry_size
    return Purged(files=files, bytes=size)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
