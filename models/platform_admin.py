"""Operating the credit platform's push outbox (models/platform.py): what the admin page, `shouxin
platform` and health list and count, the retry or settling by hand of a stuck document, and the alarms the
dashboard and the daily digest raise (no platform configured, no signing key, documents without a receipt
past the acknowledgement deadline)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.calendar import WorkCalendar
from models.clock import utcnow
from models.delivery_queue import (
    settle_by_hand,
)
from models.errors import Conflict, NotFound, OutOfCalendarCoverage
from models.platform import (
    STATUS_LABELS,
    STUCK,
    DocumentStatus,
    PlatformDocument,
)
from models.settings import get_settings


def list_documents(
    *, session: Session, status: DocumentStatus | None = None, limit: int = 100
) -> list[PlatformDocument]:
    """The newest documents first, of one state or all."""
    stmt = select(PlatformDocument).order_by(col(PlatformDocument.id).desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(PlatformDocument.status == status)
    return list(session.exec(stmt).all())


def status_counts(*, session: Session) -> dict[DocumentStatus, int]:
    """How many documents are in each state (every state present, 0 when none)."""
    rows = session.execute(
        sa_select(col(PlatformDocument.status), func.count()).group_by(col(PlatformDocument.status))
    ).all()
    counts = dict.fromkeys(DocumentStatus, 0)
    counts.update({DocumentStatus(status): int(n) for status, n in rows})
    return counts


def _document(session: Session, document_id: str) -> PlatformDocument:
    document = session.exec(
        select(PlatformDocument).where(PlatformDocument.document_id == document_id)
    ).first()
    if document is None:
        raise NotFound(
            f"没有编号为 {document_id} 的推送文档 (no such platform document)", document_id=document_id
        )
    return document


def is_stuck(document: PlatformDocument) -> bool:
    """Whether an admin may retry ``document`` or settle it by hand (``STUCK``)."""
    if document.status == DocumentStatus.PENDING:
        # Failed attempts since it was written or last retried by hand (a retry resets them; its
        # reason stays shown): one just retried is due at once and not stuck.
        return document.attempts > 0
    return document.status in STUCK


def _refuse_unless_stuck(document: PlatformDocument, doing: str, english: str) -> None:
    if not is_stuck(document):
        raise Conflict(
            f"只能{doing}失败的文档（含推送后未回执、失败后等待重试的）；"
            f"该文档当前状态为{STATUS_LABELS[document.status]}"
            f" (only a failed, unacknowledged or retrying document can be {english};"
            f" this one is {document.status.value})",
            document_id=document.document_id,
            status=document.status.value,
        )


def retry_document(*, session: Session, document_id: str, now: dt.datetime | None = None) -> PlatformDocument:
    """An admin sends a stuck document (``STUCK``) again: pending, due at once, a fresh back-off. Its last
    error stays until the next answer, so the reason it failed is still shown. A sent one is posted again
    under its Idempotency-Key, which the platform answers with its receipt if it has the document. A run
    that has the document leased meanwhile loses its lease (its outcome is not recorded); the platform
    recognises a second post by its key."""
    document = _document(session, document_id)
    _refuse_unless_stuck(document, "重推", "retried")
    document.status = DocumentStatus.PENDING
    document.attempts = 0
    document.next_attempt_at = now or utcnow()
    session.add(document)
    session.flush()
    return document


def mark_handled(
    *, session: Session, document_id: str, note: str, by: str, now: dt.datetime
) -> PlatformDocument:
    """An admin records that a stuck document (``STUCK``: refused, never acknowledged, failing) reached
    the platform another way (``note`` says how): it is never sent, and the later documents of its
    record, held back behind it, go on."""
    document = _document(session, document_id)
    _refuse_unless_stuck(document, "标记已人工处理", "settled by hand")
    settle_by_hand(
        session, document, dead=document.status, handled=DocumentStatus.HANDLED, note=note, by=by,
        now=now, what="失败、未回执或重试中的文档", state_label=STATUS_LABELS.__getitem__,
    )  # fmt: skip
    return document


@dataclass(frozen=True)
class PlatformAlarms:
    """What the dashboard and the daily digest raise about the credit platform."""

    # No platform URL configured outside demo mode: nothing is delivered, documents stay pending.
    unconfigured: bool
    # A platform URL without SHOUXIN_CREDIT_PLATFORM_SECRET: nothing is sent unsigned, documents stay
    # pending (demo mode included: a configured URL is a real peer).
    unsigned: bool
    # Documents without a receipt past the acknowledgement deadline, oldest first.
    overdue: list[PlatformDocument]
    working_days: int  # the deadline used, in working days after the document was written

    @property
    def any(self) -> bool:
        return self.unconfigured or self.unsigned or bool(self.overdue)


def unconfigured() -> bool:
    """Pushing is impossible and it is not a demo: an alarm, not a silent skip."""
    settings = get_settings()
    return not settings.credit_platform_url and not settings.demo_mode


def _ack_cutoff(today: dt.date, calendar: WorkCalendar, working_days: int) -> dt.date | None:
    """The last day a document could be written on and already be overdue on ``today``: the latest day
    whose ``working_days``-th working day after it is before today (None when none in the last year)."""
    day = today - dt.timedelta(days=1)
    for _ in range(366):
        try:
            due = calendar.nth_working_day_after(day, working_days)
        except OutOfCalendarCoverage:
            # Its deadline falls in a year whose holidays are not loaded yet: not before today.
            day -= dt.timedelta(days=1)
            continue
        if due < today:
            return day
        day -= dt.timedelta(days=1)
    return None


def overdue_documents(
    *,
    session: Session,
    today: dt.date,
    calendar: WorkCalendar,
    working_days: int | None = None,
    limit: int = 200,
) -> list[PlatformDocument]:
    """Documents neither acknowledged (no receipt id) nor settled by hand although written more than
    ``working_days`` working days before ``today`` (default ``SHOUXIN_CREDIT_PLATFORM_ACK_WORKING_DAYS``,
    7), oldest first."""
    settings = get_settings()
    n = working_days or settings.credit_platform_ack_working_days
    cutoff = _ack_cutoff(today, calendar, n)
    if cutoff is None:
        return []
    zone = ZoneInfo(settings.timezone)
    # Written before the start of the day after the cutoff, in the office's time zone.
    before = dt.datetime.combine(cutoff + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    stmt = (
        select(PlatformDocument)
        .where(
            col(PlatformDocument.status).not_in((DocumentStatus.ACKNOWLEDGED, DocumentStatus.HANDLED)),
            col(PlatformDocument.created_at) < before,
        )
        .order_by(col(PlatformDocument.id))
        .limit(limit)
    )
    return list(session.exec(stmt).all())


def platform_alarms(*, session: Session, today: dt.date, calendar: WorkCalendar) -> PlatformAlarms:
    """The credit platform's alarms for the dashboard and the digest."""
    return PlatformAlarms(
        unconfigured=unconfigured(),
        unsigned=get_settings().credit_platform_unsigned,
        overdue=overdue_documents(session=session, today=today, calendar=calendar),
        working_days=get_settings().credit_platform_ack_working_days,
    )
