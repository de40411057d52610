"""An uploaded import file, stored and worked through later by the ``import_pledges`` flow.

The upload is checked (size, format, header) and stored as a ``queued`` ``PledgeImport``; the request
answers at once. A run of the flow claims the import with a compare-and-set on its status (a second or
concurrent run finds nothing to claim), imports it chunk by chunk through ``models.pledges.importing``,
committing the progress and the report so far with each chunk, and marks it ``done`` (or ``failed``, with
the reason). A run that died leaves its claim to go stale after ``STALE_AFTER``; the next run takes the
import over and goes on after the last committed chunk.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import uuid
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, Index, LargeBinary, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from models.calendar import load_calendar
from models.clock import utcnow
from models.errors import Conflict, DomainError, NotFound, NotPermitted, ValidationFailed
from models.lifecycle import Role
from models.org import Department
from models.pledges.import_rows import check_import_file, estimate_rows, read_import_file
from models.pledges.importing import ImportReport, import_pledges
from models.settings import get_settings
from models.types import UTCDateTime
from models.workflow import Actor

log = logging.getLogger(__name__)

# A claim not renewed (by a committed chunk) for this long belongs to a run that died.
STALE_AFTER = dt.timedelta(minutes=10)


class ImportStatus(StrEnum):
    QUEUED = "queued"  # stored, waiting for the flow
    RUNNING = "running"  # claimed by a flow run
    DONE = "done"
    FAILED = "failed"  # the reason is in ``error``; chunks committed before it stay imported


# One uploaded file and, once worked through, its report. Visible to the uploader's department only.
class PledgeImport(SQLModel, table=True):
    __tablename__ = "pledge_import"
    __table_args__ = (Index("ix_pledge_import_status", "status"),)  # the flow's scan for work
    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=255)
    # The file until it is imported (then emptied: the pledges hold its content).
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploader_id: int | None = Field(default=None, foreign_key="app_user.id")
    uploader_name: str = Field(max_length=128)
    uploader_role: str = Field(max_length=16)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    default_authority: str | None = Field(default=None, max_length=32)
    accepted_on: dt.date  # the business day of the upload: the year of the pledges' numbers
    status: ImportStatus = Field(default=ImportStatus.QUEUED, max_length=16)
    claim: str | None = Field(default=None, max_length=36)  # the token of the run working on it
    attempts: int = 0
    rows_total: int | None = None  # a CSV's estimate until done, then the rows read
    rows_processed: int = 0
    imported: int = 0
    already_imported: int = 0
    refused: int = 0  # rows refused by the credit check
    failed: int = 0  # rows not imported for an error or a refusal
    # ImportReport.stored(): errors, refusals, numbers and the access codes to hand over on paper.
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, max_length=2000)
    flow_run_id: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    started_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    heartbeat_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


_T = PledgeImport.__table__  # type: ignore[attr-defined]


def submit_import(
    *,
    session: Session,
    content: bytes,
    filename: str,
    actor: Actor,
    today: dt.date,
    default_authority: str | None = None,
) -> PledgeImport:
    """Check and store an upload for the flow (flushed, not committed). A file too large, not CSV or
    XLSX, not UTF-8 or without the required header is refused now with ``ValidationFailed``. A handler's
    own department is the default authority, as for a registration."""
    limit = get_settings().import_max_bytes
    if len(content) > limit:
        raise ValidationFailed(f"文件过大：上限 {limit} 字节；请压缩或拆分后上传 (file too large)")
    check_import_file(content, filename)
    if default_authority is None and actor.role == Role.HANDLER and actor.department_id is not None:
        department = session.get(Department, actor.department_id)
        default_authority = department.code if department else None
    job = PledgeImport(
        filename=filename[:255],
        content=content,
        uploader_id=actor.id,
        uploader_name=actor.name[:128],
        uploader_role=str(actor.role),
        department_id=actor.department_id,
        default_authority=default_authority,
        accepted_on=today,
        rows_total=estimate_rows(content, filename),
    )
    session.add(job)
    session.flush()
    return job


def _visible(actor: Actor) -> Any:
    return (
        col(PledgeImport.department_id).is_(None)
        if actor.department_id is None
        else col(PledgeImport.department_id) == actor.department_id
    )


def get_import(*, session: Session, import_id: int, actor: Actor) -> PledgeImport:
    """The import, if the actor's department uploaded it; another department's is "not found"."""
    job = session.exec(select(PledgeImport).where(PledgeImport.id == import_id, _visible(actor))).first()
    if job is None:
        raise NotFound(f"导入任务 {import_id} 不存在 (import not found)")
    return job


def list_imports(*, session: Session, actor: Actor, limit: int = 50) -> list[PledgeImport]:
    """The department's imports, newest first."""
    stmt = select(PledgeImport).where(_visible(actor)).order_by(col(PledgeImport.id).desc()).limit(limit)
    return list(session.exec(stmt).all())


def import_report(job: PledgeImport) -> ImportReport:
    """The report of the rows worked through so far (all of them once done)."""
    return ImportReport.restore(
        job.filename,
        job.report,
        total=job.rows_processed,
        imported=job.imported,
        already_imported=job.already_imported,
    )


def importable_ids(*, session: Session, now: dt.datetime) -> list[int]:
    """Imports waiting for a run: queued ones, and running ones whose run died (a stale claim)."""
    stmt = select(PledgeImport.id).where(_claimable(now)).order_by(col(PledgeImport.id))
    return [i for i in session.exec(stmt).all() if i is not None]


def _claimable(now: dt.datetime) -> Any:
    return or_(
        _T.c.status == ImportStatus.QUEUED,
        (_T.c.status == ImportStatus.RUNNING) & (_T.c.heartbeat_at < now - STALE_AFTER),
    )


def claim_import(
    *, session: Session, import_id: int, now: dt.datetime, flow_run_id: str | None
) -> str | None:
    """Take the import for this run: a compare-and-set on its status (and stale claim), so of two runs
    only one gets it. Returns the claim's token, or None if it is not there to take. Not committed."""
    token = str(uuid.uuid4())
    result = session.execute(
        update(_T)
        .where(_T.c.id == import_id, _claimable(now))
        .values(
            status=ImportStatus.RUNNING,
            claim=token,
            attempts=_T.c.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            flow_run_id=flow_run_id,
        )
    )
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


class LostClaim(Exception):
    """Another run took the import over (this one was taken for dead): this run stops, its chunk undone."""


def _record(session: Session, import_id: int, token: str, **values: Any) -> None:
    result = session.execute(update(_T).where(_T.c.id == import_id, _T.c.claim == token).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LostClaim(f"import {import_id} was claimed by another run")


def _progress(report: ImportReport) -> dict[str, Any]:
    return {
        "rows_processed": report.total,
        "imported": report.imported,
        "already_imported": report.already_imported,
        "refused": len({e.row for e in report.refusals}),
        "failed": report.failed_rows,
        "report": report.stored(),
    }


def run_import(*, engine: Engine, import_id: int, flow_run_id: str | None = None) -> ImportStatus | None:
    """Claim the import and work it through, committing after each chunk; returns its final status, or
    None if another run has it. A file the import refuses (``DomainError``) marks it ``failed`` with the
    message; any other error too, and is raised again for the flow run to show it."""
    with Session(engine, expire_on_commit=False) as session:
        token = claim_import(session=session, import_id=import_id, now=utcnow(), flow_run_id=flow_run_id)
        session.commit()
        if token is None:
            return None
        job = session.get(PledgeImport, import_id)
        assert job is not None
        try:
            _work_through(session, job, token, flow_run_id)
        except LostClaim:
            session.rollback()
            log.warning("导入任务 %s 已由其他运行接手", import_id)
            return None
        except Exception as exc:
            session.rollback()
            message = (
                exc.message if isinstance(exc, DomainError) else f"导入失败：内部错误 ({type(exc).__name__})"
            )
            _record(
                session,
                import_id,
                token,
                status=ImportStatus.FAILED,
                error=message[:2000],
                finished_at=utcnow(),
            )
            session.commit()
            if not isinstance(exc, DomainError):
                raise
            return ImportStatus.FAILED
        return ImportStatus.DONE


def _work_through(session: Session, job: PledgeImport, token: str, flow_run_id: str | None) -> None:
    assert job.id is not None
    import_id = job.id
    actor = Actor(
        name=job.uploader_name,
        role=Role(job.uploader_role),
        id=job.uploader_id,
        department_id=job.department_id,
        flow_run_id=flow_run_id,
    )
    # A run taking over a dead one goes on after the last chunk that one committed.
    report = import_report(job)
    rows = itertools.islice(read_import_file(job.content, job.filename), job.rows_processed, None)

    def save(progress: ImportReport) -> None:
        _record(session, import_id, token, heartbeat_at=utcnow(), **_progress(progress))
        session.commit()

    report = import_pledges(
        session=session,
        rows=rows,
        actor=actor,
        source_name=job.filename,
        today=job.accepted_on,
        calendar=load_calendar(session=session),
        default_authority=job.default_authority,
        report=report,
        after_chunk=save,
    )
    _record(
        session,
        import_id,
        token,
        status=ImportStatus.DONE,
        rows_total=report.total,
        content=b"",
        finished_at=utcnow(),
        error=None,
        **_progress(report),
    )
    session.commit()


# The download of an import's offline access codes: who took them, when and how many, kept in the report.
CODES_TAKEN = "codes_taken"


def take_offline_codes(
    *, session: Session, import_id: int, actor: Actor, now: dt.datetime
) -> tuple[PledgeImport, list[dict[str, str]]]:
    """Hand out a finished import's offline access codes once, to its uploader or a supervisor, and erase
    them from the stored report (who took them, when and how many stay), so the codes are not kept in
    clear for anyone who can read the table later. Of two downloads at once only one gets the codes: the
    report is replaced by a compare-and-set on the import's claim (unused once the import is done), given
    a new token. Another department's import is "not found". Flushed, not committed: the caller commits
    before handing the codes out, so a download that is not recorded is never given."""
    job = get_import(session=session, import_id=import_id, actor=actor)
    if actor.role != Role.SUPERVISOR and (job.uploader_id is None or job.uploader_id != actor.id):
        raise NotPermitted(
            "办理码仅限上传人或督办员下载 (only the uploader or a supervisor may take the codes)"
        )
    if job.status != ImportStatus.DONE:
        raise Conflict("导入完成后才能下载办理码 (the import is not finished)")
    taken = job.report.get(CODES_TAKEN)
    if taken:
        when = dt.datetime.fromisoformat(taken["at"]).astimezone(ZoneInfo(get_settings().timezone))
        raise Conflict(
            f"办理码已于 {when:%Y-%m-%d %H:%M} 由 {taken['by']} 下载，仅可下载一次 (already downloaded)"
        )
    codes = list(job.report.get("offline_codes", []))
    if not codes:
        raise Conflict("本次导入没有需要书面送达的办理码 (no offline codes in this import)")
    report = {
        **job.report,
        "offline_codes": [],
        CODES_TAKEN: {"by": actor.name, "by_id": actor.id, "at": now.isoformat(), "count": len(codes)},
    }
    result = session.execute(
        update(_T)
        .where(_T.c.id == import_id, _T.c.claim.is_(None) if job.claim is None else _T.c.claim == job.claim)
        .values(report=report, claim=str(uuid.uuid4()))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("办理码正在由他人下载，请刷新页面查看 (the codes were taken at the same moment)")
    session.expire(job)
    log.info("导入任务 %s 的 %d 个办理码已下载：%s（#%s）", import_id, len(codes), actor.name, actor.id)
    return job, codes
