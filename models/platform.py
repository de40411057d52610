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

from sqlalchemy import JSON, Column, Index, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Field, Session, SQLModel, col, select

from models.bulk import insert_rows
from models.clock import utcnow
from models.types import UTCDateTime


class DocumentKind(StrEnum):
    PUBLISH = "publish"
    # An upheld objection changed the record's facts, basis, class or end date; it stays published.
    CORRECT = "correct"
    WITHDRAW = "withdraw"
    REPAIR = "repair"
    # The publication period ended (GSJZQ passed): the record stops showing.
    EXPIRE = "expire"


class DocumentStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # the platform refused it (4xx); its answer is kept in last_error


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


def document_row(
    *,
    kind: DocumentKind,
    breach_id: int,
    number: str,
    payload: dict[str, Any],
    now: dt.datetime,
    revision: int | None = None,
) -> dict[str, Any]:
    """A complete row for a bulk insert (core inserts skip the model's Python-side defaults).

    ``revision`` (the record's version after the change) tells apart changes that can happen more than
    once to one record, such as two corrections; the others happen once and keep ``<number>:<kind>``.
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
    }


def enqueue_documents(*, session: Session, rows: list[dict[str, Any]]) -> None:
    insert_rows(session, PlatformDocument.__table__, rows)  # type: ignore[attr-defined]


# Back-off after the n-th failed attempt: 1 min, 2, 4 … capped at 6 hours.
def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


@dataclass(frozen=True)
class DueDocument:
    """A pending document whose time has come, as the delivery adapter needs it."""

    id: int
    breach_id: int
    document_id: str
    payload: dict[str, Any]
    attempts: int  # failed attempts so far


def due_documents(*, session: Session, now: dt.datetime, limit: int = 500) -> list[DueDocument]:
    """The pending documents due at ``now``, in the order written (by id), at most ``limit``.

    A record's documents go in the order they were written: a correction or withdrawal overtaking a
    publication still in back-off would be overwritten on the platform by the older facts. So a document
    is left out while an earlier one of its record waits for its back-off; an earlier one that is due comes
    first in this same list, and the caller holds the rest of its record when that one fails.
    """
    earlier = aliased(PlatformDocument)
    waiting = (
        select(earlier.id)
        .where(
            earlier.breach_id == PlatformDocument.breach_id,
            col(earlier.id) < PlatformDocument.id,
            earlier.status == DocumentStatus.PENDING,
            col(earlier.next_attempt_at) > now,
        )
        .exists()
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
        .where(
            col(PlatformDocument.status) == DocumentStatus.PENDING,
            col(PlatformDocument.next_attempt_at) <= now,
            ~waiting,
        )
        .order_by(col(PlatformDocument.id))
        .limit(limit)
    ).all()
    return [DueDocument(*row) for row in rows]


def _set(session: Session, document: DueDocument, **values: Any) -> None:
    session.execute(
        update(PlatformDocument)
        .where(col(PlatformDocument.id) == document.id)
        .values(attempts=document.attempts + 1, **values)
    )


def mark_sent(*, session: Session, document: DueDocument, now: dt.datetime) -> None:
    """The platform acknowledged ``document``: it is never sent again."""
    _set(session, document, status=DocumentStatus.SENT, sent_at=now, last_error=None)


def mark_refused(*, session: Session, document: DueDocument, error: str) -> None:
    """The platform refused ``document`` for good (its answer kept in ``last_error``)."""
    _set(session, document, status=DocumentStatus.DEAD, last_error=error)


def mark_failed(*, session: Session, document: DueDocument, error: str, now: dt.datetime) -> None:
    """The attempt failed in a way worth retrying: ``document`` comes due again after its back-off."""
    _set(session, document, next_attempt_at=now + backoff(document.attempts + 1), last_error=error)
