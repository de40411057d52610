"""The push outbox towards the external credit platform: one document for every register change that
alters what the public sees (publication, correction, withdrawal, repair, expiry), delivered as signed
JSON, retried with back-off, idempotent by ``document_id``, in order per record."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy import JSON, Column, Index, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Field, Session, SQLModel, col, select

from models.bulk import insert_rows
from models.clock import utcnow
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


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Back-off after the n-th failed attempt: 1 min, 2, 4 … capped at 6 hours.
def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


@dataclass
class PushReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: bool = False  # no platform URL configured: documents stay pending


def push_due(
    *, engine: Engine, now: dt.datetime | None = None, limit: int = 500, timeout: float = 10.0
) -> PushReport:
    """Deliver the pending documents whose time has come; 2xx sent, 5xx/timeout retried later, 4xx dead."""
    settings = get_settings()
    report = PushReport()
    if not settings.credit_platform_url:
        report.skipped = True
        return report
    moment = now or utcnow()
    # A record's documents go in the order they were written: a correction or withdrawal overtaking a
    # publication still in back-off would be overwritten on the platform by the older facts. An earlier
    # document that is due comes first in this same batch (ordered by id); one that fails holds the rest.
    earlier = aliased(PlatformDocument)
    waiting = (
        select(earlier.id)
        .where(
            earlier.breach_id == PlatformDocument.breach_id,
            col(earlier.id) < PlatformDocument.id,
            earlier.status == DocumentStatus.PENDING,
            col(earlier.next_attempt_at) > moment,
        )
        .exists()
    )
    with Session(engine, expire_on_commit=False) as session:
        # SQLAlchemy's select: sqlmodel's typed overloads stop at four columns.
        due = session.execute(
            sa_select(
                col(PlatformDocument.id),
                col(PlatformDocument.breach_id),
                col(PlatformDocument.document_id),
                col(PlatformDocument.payload),
                col(PlatformDocument.attempts),
            )
            .where(
                col(PlatformDocument.status) == DocumentStatus.PENDING,
                col(PlatformDocument.next_attempt_at) <= moment,
                ~waiting,
            )
            .order_by(col(PlatformDocument.id))
            .limit(limit)
        ).all()
    held: set[int] = set()  # records whose document failed in this round: their later ones wait too
    with httpx.Client(timeout=timeout) as client:
        for row_id, breach_id, document_id, payload, attempts in due:
            assert row_id is not None
            if breach_id in held:
                continue
            outcome = _deliver(
                client,
                settings.credit_platform_url,
                settings.credit_platform_secret or "",
                document_id,
                payload,
            )
            if outcome[0] == "retry":
                held.add(breach_id)
            _record(engine, row_id, attempts + 1, outcome, moment, report)
    return report


def _deliver(
    client: httpx.Client, url: str, secret: str, document_id: str, payload: Mapping[str, Any]
) -> tuple[str, str | None]:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Shouxin-Signature": sign(body, secret),
        "Idempotency-Key": document_id,
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return "retry", f"{type(exc).__name__}: {exc}"
    if response.is_success:
        return "sent", None
    answer = f"HTTP {response.status_code}: {response.text[:1500]}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        return "dead", answer
    return "retry", answer


def _record(
    engine: Engine,
    row_id: int,
    attempts: int,
    outcome: tuple[str, str | None],
    now: dt.datetime,
    report: PushReport,
) -> None:
    status, error = outcome
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if status == "sent":
        values.update(status=DocumentStatus.SENT, sent_at=now)
        report.sent += 1
    elif status == "dead":
        values.update(status=DocumentStatus.DEAD)
        report.dead += 1
    else:
        values.update(next_attempt_at=now + backoff(attempts))
        report.retried += 1
    with Session(engine) as session:
        session.execute(update(PlatformDocument).where(col(PlatformDocument.id) == row_id).values(**values))
        session.commit()
