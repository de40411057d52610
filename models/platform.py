"""The push outbox towards the external credit platform: one document for every register change that
alters what the public sees (publication, correction, withdrawal, repair, expiry), idempotent by
``document_id``, in order per record. The domain writes the documents and offers their state changes
(which are due, sent, refused, failed with back-off); notifications/platform_push.py delivers them over
HTTP."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, Index, and_, exists, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col

from models.breach import PublishedBreach
from models.bulk import insert_rows
from models.clock import utcnow
from models.delivery_queue import (
    HANDLED_NOTE_MAX,
    HTTP_TIMEOUT_SECONDS,
    claim,
    doubling_backoff,
    due_in_order,
    http_lease,
    still_claimed,
)
from models.id_sets import chunks, in_list
from models.platform_fields import add_national_fields
from models.settings import get_settings
from models.types import UTCDateTime


class DocumentKind(StrEnum):
    PUBLISH = "publish"
    # An upheld objection changed the record's facts, basis, class or end date; it stays published.
    CORRECT = "correct"
    WITHDRAW = "withdraw"
    REPAIR = "repair"
    # The publication period ended (GSJZQ passed): the record stops showing.
    EXPIRE = "expire"


# The kinds after which the platform no longer shows a record.
STOP_KINDS = (DocumentKind.WITHDRAW, DocumentKind.REPAIR, DocumentKind.EXPIRE)


class DocumentStatus(StrEnum):
    PENDING = "pending"
    # Delivered (2xx) but not yet acknowledged with a receipt id: asked again, by the same
    # Idempotency-Key, every RECEIPT_POLL until the platform answers with its receipt.
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"  # the platform's receipt id is stored: the delivery is done
    DEAD = "dead"  # failed: the platform refused it (4xx); its answer is kept in last_error
    # An admin reported it to the platform another way and said how: never sent, and the later documents
    # of its record go on.
    HANDLED = "handled"


# The states as the admin page and the CLI name them (a refused document is "failed").
STATUS_LABELS = {
    DocumentStatus.PENDING: "待推送",
    DocumentStatus.SENT: "已推送待回执",
    DocumentStatus.ACKNOWLEDGED: "已回执",
    DocumentStatus.DEAD: "失败",
    DocumentStatus.HANDLED: "已人工处理",
}

# The states in which the platform has had a document: posted and taken, or passed on by an admin.
DELIVERED = (DocumentStatus.SENT, DocumentStatus.ACKNOWLEDGED, DocumentStatus.HANDLED)

# The states an admin may retry a document from, or settle it by hand in: refused; sent and still without
# a receipt (past the alarm the platform may never give one); pending after a failed attempt (an answer
# that could not be read, an outage), waiting for its back-off. A pending document never tried, or just
# retried, is not stuck: it goes with the next run.
STUCK = (DocumentStatus.DEAD, DocumentStatus.SENT, DocumentStatus.PENDING)


# How often a sent document without a receipt is asked about again.
RECEIPT_POLL = dt.timedelta(hours=1)


# One document to push; ``document_id`` is what the platform de-duplicates on (Idempotency-Key).
class PlatformDocument(SQLModel, table=True):
    __tablename__ = "platform_document"
    __table_args__ = (Index("ix_platform_document_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(max_length=64, unique=True, index=True)
    kind: DocumentKind = Field(max_length=16)
    breach_id: int = Field(index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: DocumentStatus = Field(default=DocumentStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # The platform's receipt (回执) for the document, from its answer; set once, with the time it came.
    receipt_id: str | None = Field(default=None, max_length=128)
    acknowledged_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # Who settled a failed document by hand, how, and when (``mark_handled``).
    handled_by: str | None = Field(default=None, max_length=64)
    handled_note: str | None = Field(default=None, max_length=HANDLED_NOTE_MAX)
    handled_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


def document_row(
    *,
    kind: DocumentKind,
    breach_id: int,
    number: str,
    payload: dict[str, Any],
    now: dt.datetime,
    revision: int | str | None = None,
) -> dict[str, Any]:
    """A complete row for a bulk insert (core inserts skip the model's Python-side defaults).

    ``revision`` (the record's version after the change, or a mark and count) tells apart changes that
    can happen more than once to one record, such as two corrections; the others happen once and keep
    ``<number>:<kind>``.
    """
    document_id = f"{number}:{kind.value}" if revision is None else f"{number}:{kind.value}:{revision}"
    return {
        "document_id": document_id,
        "kind": kind,
        "breach_id": breach_id,
        "payload": {"document_id": document_id, "kind": kind.value, "record": payload},
        "status": DocumentStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
        "receipt_id": None,
        "acknowledged_at": None,
    }


def enqueue_documents(*, session: Session, rows: list[dict[str, Any]], skip_existing: bool = False) -> None:
    """Write the document rows (``document_row``), each with the national exchange's fields added and
    every field without a value as an empty string (the exchange expects each field present, never null).

    The platform is told only what changes what it shows (``_as_shown``): a record it never had a PUBLISH
    for (a government breach registered by migration 0016 before the push knew it, a record created as
    轻微) gets one instead of a CORRECT, with the record's current values; a WITHDRAW, REPAIR or EXPIRE of
    a record the platform does not show (never shown, or already taken down: withdrawn as 轻微 or as not
    public, repaired, expired) is not written at all. ``skip_existing`` leaves out a row whose
    ``document_id`` is already stored (a run that raced another to the same document)."""
    rows = _as_shown(session, rows)
    add_national_fields(session, rows)
    for row in rows:
        record = row["payload"]["record"]
        record.update({name: "" for name, value in record.items() if value is None})
    table = PlatformDocument.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, rows, on_conflict_do_nothing=["document_id"] if skip_existing else ())


# The kinds that decide whether the platform shows a record: the last one written of these says.
_SHOWING_KINDS = (DocumentKind.PUBLISH, *STOP_KINDS)


def _as_shown(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` as the platform can take them (see ``enqueue_documents``): each record's first document a
    PUBLISH, and no document taking down a record the platform does not show. Whether it shows one is
    the last PUBLISH or WITHDRAW/REPAIR/EXPIRE written for it, here or before. The sweep's batches are
    all PUBLISH and cost no query."""
    later = sorted({row["breach_id"] for row in rows if row["kind"] != DocumentKind.PUBLISH})
    if not later:
        return rows
    table = PlatformDocument.__table__  # type: ignore[attr-defined]
    # None: never published; True: shown; False: taken down.
    shown: dict[int, bool | None] = dict.fromkeys(later)
    for part in chunks(later):
        query = (
            sa_select(table.c.breach_id, table.c.kind)
            .where(in_list(session, table.c.breach_id, part), table.c.kind.in_(_SHOWING_KINDS))
            .order_by(table.c.id)
        )
        for breach_id, kind in session.execute(query):
            shown[breach_id] = kind == DocumentKind.PUBLISH
    kept: list[dict[str, Any]] = []
    for row in rows:
        breach_id, kind = row["breach_id"], row["kind"]
        if kind == DocumentKind.PUBLISH:
            shown[breach_id] = True
        elif kind in STOP_KINDS:
            if not shown.get(breach_id, True):
                continue  # not on the platform: nothing to take down
            shown[breach_id] = False
        elif shown.get(breach_id, True) is None:
            row = _as_publish(row)
            shown[breach_id] = True
        kept.append(row)
    return kept


def _as_publish(row: dict[str, Any]) -> dict[str, Any]:
    """A CORRECT row turned into the record's PUBLISH: the record as it now stands, without what only a
    change carries (the values before, the day it took effect)."""
    record = {k: v for k, v in row["payload"]["record"].items() if k not in ("corrections", "effective_date")}
    document_id = f"{record['record_number']}:{DocumentKind.PUBLISH.value}"
    kind = DocumentKind.PUBLISH
    payload = {"document_id": document_id, "kind": kind.value, "record": record}
    return {**row, "document_id": document_id, "kind": kind, "payload": payload}


# Back-off after the n-th failed attempt: 1 min, 2, 4 … capped at 6 hours.
def backoff(attempts: int) -> dt.timedelta:
    # A receiving platform down for maintenance is down for hours: retries stop doubling at 6 h.
    return doubling_backoff(attempts, cap=dt.timedelta(hours=6))


@dataclass(frozen=True)
class DueDocument:
    """A document claimed for delivery (pending, or sent and due to be asked for its receipt again), as
    the delivery adapter needs it."""

    id: int
    breach_id: int
    document_id: str
    payload: dict[str, Any]
    attempts: int  # failed attempts so far
    status: DocumentStatus  # as claimed: an outcome is recorded only while it still is
    leased_until: dt.datetime  # the claim's lease: an outcome is recorded only while it holds


def claim_due(
    *, session: Session, now: dt.datetime, limit: int = 500, timeout: float = HTTP_TIMEOUT_SECONDS
) -> list[DueDocument]:
    """The pending documents due at ``now``, and the sent ones whose receipt is due to be asked for again,
    in the order written (by id), at most ``limit``, leased to the caller for as long as the batch can
    take with ``timeout`` (seconds) per request (models/delivery_queue.py ``http_lease``), so a run that
    starts meanwhile does not post them again. The caller commits the claim before it starts sending.

    A record's documents go in the order they were written: a correction or withdrawal overtaking a
    publication still in back-off would be overwritten on the platform by the older facts. So a document
    is left out while an earlier one of its record waits for its back-off or another run's lease, or is
    dead (refused, waiting for an admin to retry it); an earlier one that is due comes first in this same
    list, and the caller holds (``release``) the rest of its record when that one fails.

    Where government breaches are internal only (SHOUXIN_PUBLISH_GOVERNMENT_BREACHES=false) a government
    record's documents wait (``government_held``) until it is on again, but for those that take the
    record off the platform.
    """
    statuses = (DocumentStatus.PENDING, DocumentStatus.SENT)
    where = [
        due_in_order(
            PlatformDocument,
            "breach_id",
            now=now,
            statuses=statuses,
            waiting_status=DocumentStatus.PENDING,
            blocking_status=DocumentStatus.DEAD,
        )
    ]
    if not get_settings().publish_government_breaches:
        where.append(~government_held())
    claimed = claim(
        session,
        PlatformDocument,
        now=now,
        statuses=statuses,
        limit=limit,
        lease=lambda count: http_lease(count, timeout=timeout),
        order_by=(col(PlatformDocument.id),),
        where=where,
    )
    # SQLAlchemy's select: sqlmodel's typed overloads stop at four columns.
    rows = session.execute(
        sa_select(
            col(PlatformDocument.id),
            col(PlatformDocument.breach_id),
            col(PlatformDocument.document_id),
            col(PlatformDocument.payload),
            col(PlatformDocument.attempts),
        )
        .where(col(PlatformDocument.id).in_(claimed.statuses))
        .order_by(col(PlatformDocument.id))
    ).all()
    return [
        DueDocument(
            id=row_id,
            breach_id=breach_id,
            document_id=document_id,
            payload=payload,
            attempts=attempts,
            status=DocumentStatus(claimed.statuses[row_id]),
            leased_until=claimed.until,
        )  # fmt: skip
        for row_id, breach_id, document_id, payload, attempts in rows
    ]


def government_held() -> ColumnElement[bool]:
    """SQL condition, while government breaches are internal only: a government record's (from a
    complaint) document that waits until they are published again. Only what ends with the record off a
    platform that showed it (a PUBLISH of it delivered) goes: each document up to its last WITHDRAW,
    REPAIR or EXPIRE, that one included (models/register/government_feed.py writes such a WITHDRAW)."""
    table = PlatformDocument.__table__  # type: ignore[attr-defined]
    later, publish = table.alias(), table.alias()
    ends_off = exists().where(
        later.c.breach_id == table.c.breach_id, later.c.id >= table.c.id, later.c.kind.in_(STOP_KINDS)
    )
    was_shown = exists().where(
        publish.c.breach_id == table.c.breach_id,
        publish.c.kind == DocumentKind.PUBLISH,
        publish.c.status.in_(DELIVERED),
    )
    breaches = PublishedBreach.__table__  # type: ignore[attr-defined]
    government = exists().where(breaches.c.id == table.c.breach_id, breaches.c.source_kind == "complaint")
    return and_(government, ~and_(ends_off, was_shown))


def _set(session: Session, document: DueDocument, *, failed: bool, **values: Any) -> bool:
    """Record an outcome on ``document`` while it is still in the status and lease it was claimed in;
    False (and nothing changed) when another run claimed it since, or it is already settled."""
    attempts = document.attempts + 1 if failed else document.attempts
    claimed = still_claimed(
        PlatformDocument, document.id, status=document.status, leased_until=document.leased_until
    )
    settled = session.execute(
        update(PlatformDocument)
        .where(*claimed)
        .values(attempts=attempts, **values)
        .returning(col(PlatformDocument.id))
    )
    return settled.first() is not None


def release(*, session: Session, document: DueDocument, now: dt.datetime) -> bool:
    """Give back a claimed document that was not sent (an earlier one of its record failed): due at once,
    it waits behind that one by the order rule of ``claim_due``."""
    return _set(session, document, failed=False, next_attempt_at=now)


def mark_sent(
    *, session: Session, document: DueDocument, now: dt.datetime, receipt_id: str | None = None
) -> bool:
    """The platform took ``document`` (2xx). With its receipt id the delivery is done (acknowledged) and
    the document is never sent again; without one it is asked about again after ``RECEIPT_POLL``."""
    first_sent = func.coalesce(PlatformDocument.sent_at, now)
    if receipt_id:
        return _set(
            session, document, failed=False, status=DocumentStatus.ACKNOWLEDGED, sent_at=first_sent,
            receipt_id=receipt_id[:128], acknowledged_at=now, last_error=None,
        )  # fmt: skip
    return _set(
        session, document, failed=False, status=DocumentStatus.SENT, sent_at=first_sent,
        next_attempt_at=now + RECEIPT_POLL, last_error=None,
    )  # fmt: skip


def mark_refused(*, session: Session, document: DueDocument, error: str) -> bool:
    """The platform refused ``document`` for good (its answer kept in ``last_error``)."""
    return _set(session, document, failed=True, status=DocumentStatus.DEAD, last_error=error)


def mark_failed(*, session: Session, document: DueDocument, error: str, now: dt.datetime) -> bool:
    """The attempt failed in a way worth retrying: ``document`` comes due again after its back-off (a sent
    one stays sent: only its receipt is outstanding)."""
    return _set(
        session, document, failed=True, next_attempt_at=now + backoff(document.attempts + 1), last_error=error
    )
