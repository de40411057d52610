"""The end of a record's publication period (GSJZQ): expiry in batches, for the expire_publications
flow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.breach_record import (
    PLATFORM_DOCUMENTS,
    department_names,
    platform_document,
)
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.id_sets import chunks, in_list
from models.lifecycle import BREACH
from models.platform import enqueue_documents
from models.workflow import Actor, apply_event, apply_event_many

# The publication period ends whatever review is pending: an objection or repair request filed on the
# last day must not keep a record public past its end date (GSJZQ).
_EXPIRABLE = sorted(BREACH.transition("expire").sources)


def expiry_candidates(*, session: Session, today: dt.date) -> list[int]:
    stmt = select(PublishedBreach.id).where(
        col(PublishedBreach.state).in_(_EXPIRABLE), col(PublishedBreach.publication_end) < today
    )
    return [i for i in session.exec(stmt.order_by(col(PublishedBreach.id))).all() if i is not None]


def expire_records(*, session: Session, ids: Sequence[int], today: dt.date, actor: Actor) -> int:
    """Records past their end date stop showing (``expire``) and the platform is told (one EXPIRE
    document each it still shows: ``enqueue_documents`` leaves out a record it never showed or already
    took down, such as one corrected to 轻微); set-based and idempotent by state."""
    now = utcnow()
    table = PublishedBreach.__table__  # type: ignore[attr-defined]
    # Each audit event records the state the record really left (apply_event_many moves each source
    # state in a statement of its own).
    expired = apply_event_many(
        session=session,
        kind="breach",
        ids=ids,
        event="expire",
        actor=actor,
        now=now,
        where=[table.c.publication_end < today],
        data={"as_of": today.isoformat()},
    )
    if not expired:
        return 0
    # The documents carry the records as they now stand, in the order the records left their states.
    rows: dict[int, Any] = {}
    for part in chunks([f.id for f in expired]):
        found = session.execute(core_select(table).where(in_list(session, table.c.id, part)))
        rows.update((r.id, r._mapping) for r in found)
    departments = department_names(session)
    kind = PLATFORM_DOCUMENTS["expire"]
    # The record stopped showing the day after its GSJZQ whatever day the flow got to it (a run missed
    # for days must not tell the platform a later end).
    documents = [
        platform_document(
            kind=kind,
            record=rows[f.id],
            departments=departments,
            effective=rows[f.id]["publication_end"] + dt.timedelta(days=1),
            now=now,
        )
        for f in expired
    ]
    enqueue_documents(session=session, rows=documents)
    return len(expired)


def end_now(
    *, session: Session, record: PublishedBreach, today: dt.date, calendar: WorkCalendar, actor: Actor
) -> None:
    """A decision (a correction to a lighter class) moved ``record``'s GSJZQ before ``today``: the
    publication ends with that decision, not on the past day, which the platform was told nothing of.
    The record is expired as of ``today`` (its audit event says so); the decision writes the EXPIRE
    document, dated ``today``, after its own."""
    apply_event(
        session=session,
        case=record,
        event="expire",
        actor=Actor.system(flow_run_id=actor.flow_run_id),
        today=today,
        calendar=calendar,
        data={"as_of": today.isoformat(), "publication_end": record.publication_end.isoformat()},
    )
