"""The append-only audit trail: one row per change of any case, hash-chained per case."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from operator import attrgetter, itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.clock import utcnow
from models.types import UTCDateTime


# One audit row. ``seq`` numbers the case's events; the unique (kind, case, seq) refuses a lost race.
class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (
        UniqueConstraint("case_kind", "case_id", "seq", name="uq_case_event_seq"),
        UniqueConstraint("idempotency_key", name="uq_case_event_idem"),
        # Every read names the case (kind, id: served by uq_case_event_seq) or, for the scorecard, the kind
        # and event; no index more than these, since each costs every one of the sweep's inserts.
        Index("ix_case_event_kind_event", "case_kind", "event"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_kind: str = Field(max_length=16)
    case_id: int
    case_number: str = Field(max_length=24)
    seq: int
    event: str = Field(max_length=48)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    actor_id: int | None = None
    actor_name: str = Field(max_length=128)
    actor_role: str = Field(max_length=16)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
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


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 unescaped: the bytes the hash chain is computed over.

    For strings (enums included), integers, booleans, null, lists and dicts with string keys, orjson writes
    exactly what ``json.dumps(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)``
    writes (tested), at a ninth of the cost. Anything else — floats, whose exponent it writes differently,
    dates, integers beyond 64 bits — goes through the standard library, so every chain ever written
    verifies the same way.
    """
    if _simple(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # an integer beyond 64 bits
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def _simple(value: Any) -> bool:
    # Runs for every audit event the sweep writes: the scalars of a dict or list are checked in the loop
    # (a call per value cost more than the check), only nested containers recurse.
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        for key in value:
            if type(key) is not str:
                return False
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        # Enums and other subclasses of str and int serialise as their value in both libraries.
        return isinstance(value, str | int) and not isinstance(value, float)
    for item in items:
        if type(item) not in _SCALARS and not _simple(item):
            return False
    return True


# The scalars both libraries write alike, by exact type (one set lookup instead of four tests).
_SCALARS = frozenset({str, int, bool, type(None)})


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON: an edit breaks the chain."""
    return hashlib.sha256(prev_hash.encode() + canonical_json(fields)).hexdigest()


# The columns an event's hash covers, in the order of their keys in the hashed dict (``hashed_fields``).
_HASHED = {
    "kind": "case_kind",
    "case": "case_id",
    "seq": "seq",
    "event": "event",
    "from": "from_state",
    "to": "to_state",
    "actor": "actor_id",
    "actor_name": "actor_name",
    "role": "actor_role",
    "at": "at",
    "note": "note",
    "data": "data",
    "run": "flow_run_id",
}
_HASHED_KEYS = tuple(_HASHED)
_from_mapping = itemgetter(*_HASHED.values())
_from_row = attrgetter(*_HASHED.values())


def hashed_fields(e: CaseEvent | Mapping[str, Any]) -> dict[str, Any]:
    """The fields an event's hash covers, from a stored row or from the column values of one about to be
    written (``workflow.event_row``): both writers and the verifier hash the same dict."""
    values: Callable[[Any], tuple[Any, ...]] = _from_mapping if isinstance(e, Mapping) else _from_row
    fields = dict(zip(_HASHED_KEYS, values(e), strict=True))
    fields["at"] = _at_text(fields["at"])
    return fields


# The last ``at`` written as text, with its datetime: the events of a batch share one datetime object (its
# ``now``), converted once instead of once per event. Compared by identity, never equality: datetimes equal
# under ``==`` can still differ in offset (``fold``), and an object held here keeps its identity.
# Starts with an object no event carries, so a missing ``at`` (None) still fails as it always did.
_last_at: tuple[object, str] = (object(), "")


def _at_text(at: dt.datetime) -> str:
    global _last_at
    last = _last_at
    if last[0] is at:
        return last[1]
    text = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    _last_at = (at, text)
    return text
