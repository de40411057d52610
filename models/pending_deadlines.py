"""Deadlines that wait for the calendar (待日历确定): work goes on while next year's notice is not loaded.

"Never guess a working day" must not become "never work": a stage whose deadline lands in a year the
calendar does not cover still starts. Its deadline is stored as pending (``models.stage_deadline``: no
date, the flag, and the working days still owed counted from a known day), so the date is exact once the
year is loaded. Supervision sees no date and so nothing is due: nothing is warned, chased or escalated on
a guess.

``resolve_pending_deadlines`` gives every pending deadline of every kind (complaint stages and their
extensions, the evidence review of a pledge, a record's objection and repair decisions) its date when a
notice is loaded (models/calendar_admin.py), in the loader's transaction, one audit event per case; a
loaded year's notice corrected later moves the known deadlines it changes the same way.
``calendar_warning`` tells administrators in time that next year is not loaded yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.clock import iso_date, utcnow
from models.complaint import Complaint
from models.errors import OutOfCalendarCoverage
from models.lifecycle import LIFECYCLES
from models.pledge import Pledge
from models.settings import get_settings
from models.stage_deadline import PENDING_LABEL
from models.workflow import Actor, Fired, record_events_many

# The audit event that gives a pending deadline its date (not a transition: the state stays).
RESOLVED_EVENT = "deadline_resolved"
# The audit event that moves a known deadline after a loaded year's notice was corrected.
RECOMPUTED_EVENT = "deadline_recomputed"

_MODELS: dict[str, Any] = {"complaint": Complaint, "pledge": Pledge, "breach": PublishedBreach}
# What ``calendar status`` and the digest call each kind's pending deadlines.
KIND_LABELS = {"complaint": "投诉办理环节", "pledge": "告知承诺材料核查", "breach": "信用记录异议/修复决定"}


def resolve_pending_deadlines(
    *, session: Session, calendar: WorkCalendar, actor: Actor, now: dt.datetime | None = None
) -> dict[str, int]:
    """Date every open stage's deadline by ``calendar``, just loaded or corrected, in the caller's
    transaction: a pending deadline the calendar can now compute gets its date (``deadline_resolved``),
    and a known one whose working days a corrected notice moved gets the new date (``deadline_recomputed``,
    with the old one), each counted from the day and working days the stage keeps. A deadline still beyond
    the calendar stays pending. Returns how many deadlines were dated or moved per kind.

    The update is guarded by the stage the deadline belongs to (``stage_seq``) and the date or flag it
    had, and bumps the version: a case another transaction moved meanwhile keeps its new stage's own."""
    now = now or utcnow()
    return {
        kind: _resolve_kind(session=session, model=model, kind=kind, calendar=calendar, actor=actor, now=now)
        for kind, model in _MODELS.items()
    }


def _resolve_kind(
    *, session: Session, model: Any, kind: str, calendar: WorkCalendar, actor: Actor, now: dt.datetime
) -> int:
    t = model.__table__
    rows = session.execute(
        select(
            t.c.id, t.c.stage_seq, t.c.deadline_counted_from, t.c.deadline_working_days, t.c.stage_deadline
        )
        .where(
            t.c.deadline_counted_from.is_not(None),
            t.c.deadline_working_days.is_not(None),
            t.c.deadline_pending.is_(True) | t.c.stage_deadline.is_not(None),
        )
        .order_by(t.c.id)
    ).all()
    resolved: list[Fired] = []
    recomputed: list[Fired] = []
    dates: dict[int, tuple[dt.date, dt.date, int, dt.date | None]] = {}
    for case_id, stage_seq, start, days, old in rows:
        try:
            day = calendar.add_working_days(start, days)
        except OutOfCalendarCoverage:
            continue  # a later year still missing: it stays pending
        if day == old:
            continue
        unchanged = t.c.deadline_pending.is_(True) if old is None else t.c.stage_deadline == old
        moved = session.execute(
            update(t)
            .where(t.c.id == case_id, t.c.stage_seq == stage_seq, unchanged)
            .values(stage_deadline=day, deadline_pending=False, version=t.c.version + 1)
            .returning(t.c.id, t.c.number, t.c.state, t.c.version)
        ).first()
        if moved is None:
            continue
        fired = Fired(moved.id, moved.number, str(moved.state), str(moved.state), moved.version)
        (resolved if old is None else recomputed).append(fired)
        dates[moved.id] = (start, day, days, old)

    def data(f: Fired) -> dict[str, Any]:
        start, day, days, old = dates[f.id]
        moved = {"old_deadline": old.isoformat()} if old is not None else {}
        return {"counted_from": start.isoformat(), "working_days": days, "deadline": day.isoformat(),
                **moved, "calendar_version": calendar.version}  # fmt: skip

    record_events_many(
        session=session, kind=kind, cases=resolved, event=RESOLVED_EVENT, actor=actor, now=now,
        note=lambda f: f"办理期限已按载入的日历确定为 {dates[f.id][1].isoformat()}", data=data,
    )  # fmt: skip
    record_events_many(
        session=session, kind=kind, cases=recomputed, event=RECOMPUTED_EVENT, actor=actor, now=now,
        note=lambda f: f"日历更正，办理期限由 {iso_date(dates[f.id][3])} 调整为 {dates[f.id][1].isoformat()}",
        data=data,
    )  # fmt: skip
    _sync_session(session, model, list(dates))
    return len(resolved) + len(recomputed)


def _sync_session(session: Session, model: Any, ids: list[int]) -> None:
    """Cases of these ids already loaded in the session are expired, so they are read back as stored."""
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and obj.id in wanted:
            session.expire(obj)


# ---------------------------------------------------------------------------------------------------
# Telling administrators in time
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingCount:
    kind: str
    label: str
    count: int


def pending_counts(*, session: Session) -> list[PendingCount]:
    """How many open deadlines of each kind wait for the calendar, plus the open pledges whose
    publication day does."""
    result = []
    for kind, model in _MODELS.items():
        t = model.__table__
        total = session.execute(
            select(func.count()).select_from(t).where(t.c.deadline_pending.is_(True))
        ).scalar_one()
        result.append(PendingCount(kind, KIND_LABELS[kind], int(total)))
    open_states = [s.name for s in LIFECYCLES["pledge"].states if not s.terminal]
    t = Pledge.__table__  # type: ignore[attr-defined]
    days = session.execute(
        select(func.count()).select_from(t).where(t.c.publication_day.is_(None), t.c.state.in_(open_states))
    ).scalar_one()
    result.append(PendingCount("publication_day", "告知承诺公示日", int(days)))
    return result


def warning_starts(year: int) -> dt.date:
    """The day from which a missing notice for ``year + 1`` is announced (``calendar_warning_from``)."""
    month, day = (int(part) for part in get_settings().calendar_warning_from.split("-"))
    return dt.date(year, month, day)


def calendar_warning(calendar: WorkCalendar, today: dt.date) -> str | None:
    """The warning administrators see from ``calendar_warning_from`` (default 11-01) until next year's
    notice is loaded; None when there is nothing to say."""
    following = today.year + 1
    if calendar.covers(following) and calendar.covers(today.year):
        return None
    if not calendar.covers(today.year):
        following = today.year
    elif today < warning_starts(today.year):
        return None
    return (
        f"{following} 年节假日安排尚未载入工作日历：落在 {following} 年的办理期限暂记为“{PENDING_LABEL}”，"
        f"不预警、不催办、不公示；请管理员尽快载入国务院办公厅 {following} 年节假日安排通知"
        f"（shouxin calendar load 或“工作日历”管理页）"
    )
