"""The append-only audit trail: one row per change of any case, hash-chained per case."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.clock import utcnow
from models.types import UTCDateTime


# One audit row. ``seq`` numbers the case's events; the unique (kind, case, seq) refuses a lost race.
class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (
        UniqueConstraint("case_kind", "case_id", "seq", name="uq_case_event_seq"),
        UniqueConstraint("idempotency_key", name="uq_case_event_idem"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_kind: str = Field(max_length=16, index=True)
    case_id: int = Field(index=True)
    case_number: str = Field(max_length=24, index=True)
    seq: int
    event: str = Field(max_length=48, index=True)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    actor_id: int | None = None
    actor_name: str = Field(max_length=128)
    actor_role: str = Field(max_length=16)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    note: str | None = Field(default=None, max_length=4000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    flow_run_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=160)
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


# What the timeline endpoint returns.
class CaseEventPublic(SQLModel):
    seq: int
    event: str
    label: str
    from_state: str | None
    to_state: str
    actor_name: str
    actor_role: str
    at: dt.datetime
    note: str | None
    data: dict[str, Any]
    flow_run_id: str | None


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON: an edit breaks the chain."""
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def hashed_fields(e: CaseEvent) -> dict[str, Any]:
    at = e.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return {
        "kind": e.case_kind,
        "case": e.case_id,
        "seq": e.seq,
        "event": e.event,
        "from": e.from_state,
        "to": e.to_state,
        "actor": e.actor_id,
        "actor_name": e.actor_name,
        "role": e.actor_role,
        "at": at,
        "note": e.note,
        "data": e.data,
        "run": e.flow_run_id,
    }
