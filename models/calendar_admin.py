"""Loading a year's holiday notice, with everything that depends on the calendar brought up to date.

Every entry point (CLI, admin API, admin page) calls this one function, so a corrected notice can never
be stored without what it changes being recomputed and audited: the pending publication days of pledges
(models/publication_days.py) and every deadline waiting for the calendar (待日历确定: complaint stages
and extensions, evidence reviews, objection and repair decisions; models/pending_deadlines.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from models.calendar import (
    CalendarYear,
    DayChange,
    WorkCalendar,
    YearNotice,
    load_calendar,
    save_year_notice,
)
from models.errors import Conflict
from models.outbox import Notification, NotificationStatus
from models.pending_deadlines import resolve_pending_deadlines
from models.publication import recompute_publication_days
from models.publication_days import TOLD_TEMPLATE
from models.workflow import Actor

_N: Any = Notification.__table__  # type: ignore[attr-defined]
_Y: Any = CalendarYear.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Recomputed:
    """What a load brought up to date: pledges with a new publication day, and deadlines that got their
    date (pending ones) or a new one (a corrected notice), by kind (complaint, pledge, breach)."""

    publication_days: int
    deadlines: dict[str, int] = field(default_factory=dict)
    # The case and pledge numbers whose date, already told (a stage deadline, a publication day), moved:
    # the people told are mailed the new one, and an administrator may be asked why.
    told_moved: list[str] = field(default_factory=list)
    # The numbers whose told deadline the corrected calendar puts earlier: the told date is kept.
    kept: list[str] = field(default_factory=list)
    # The pledges whose publication day moved but whose notice of it reaches nobody (no e-mail, no mobile):
    # staff must tell the pledgor in person or by phone.
    untold_moved: list[str] = field(default_factory=list)

    @property
    def deadlines_total(self) -> int:
        return sum(self.deadlines.values())


# A year without a loaded notice: its preview was computed from the chinese_calendar package (or from
# plain Mon–Fri), which only a deploy changes.
NO_NOTICE = "none"


def year_version(calendar: WorkCalendar, year: int) -> str:
    """What a preview of ``year``'s notice is computed from: the loaded notice's content version, or
    ``NO_NOTICE``. A preview carries it to the confirmation (``load_year_notice(previewed=...)``).

    Taken from the calendar the preview diffed against, not read again, so the two always agree.
    """
    notice = calendar.notices.get(year)
    return NO_NOTICE if notice is None else notice.content_version()


def _refuse_if_stale(*, session: Session, year: int, previewed: str) -> None:
    # A no-op write first, so the check and the save are one step: it takes the year's row lock on
    # PostgreSQL and SQLite's write lock (pysqlite runs reads before a transaction's first write outside
    # it), so two confirmations of the same preview cannot both pass and the second silently undo the first.
    table: Any = CalendarYear.__table__  # type: ignore[attr-defined]
    session.execute(update(table).where(table.c.year == year).values(version=table.c.version))
    if year_version(load_calendar(session=session), year) == previewed:
        return
    row = session.get(CalendarYear, year, populate_existing=True)  # this session may hold it from before
    who = f"另一位管理员（{row.loaded_by}）" if row is not None else "他人"
    title = f"（“{row.notice_title}”）" if row is not None else ""
    raise Conflict(
        f"预览之后，{who}已重新载入 {year} 年的放假通知{title}，本次未保存；请按最新日历重新预览差异后再确认 "
        f"(another administrator changed {year} since the preview; nothing stored)",
        year=year,
    )


def load_year_notice(
    *,
    session: Session,
    notice: YearNotice,
    loaded_by: str,
    actor: Actor,
    previewed: str | None = None,
    today: dt.date | None = None,
) -> tuple[list[DayChange], str, Recomputed]:
    """Store ``notice``, recompute open pledges' publication days and date the open stages' deadlines
    (pending ones, and known ones a corrected notice moved), all in the caller's transaction.

    ``previewed``: the ``year_version`` the confirmed preview was computed from; when the stored year
    has changed since (another administrator loaded a notice for it), nothing is stored and ``Conflict``
    is raised, since saving would silently undo a correction the confirming person never saw.

    ``today`` (default: the clock's, Asia/Shanghai): the day a pending publication day or stage deadline
    gets its date, never earlier than the grace after it (``models.deadlines.known_late_floor``).

    Returns the day changes, the new calendar version and what was recomputed.
    """
    if previewed is not None:
        _refuse_if_stale(session=session, year=notice.year, previewed=previewed)
    changes, version = save_year_notice(session=session, notice=notice, loaded_by=loaded_by)
    calendar = load_calendar(session=session)
    queued_before = session.execute(select(func.max(_N.c.id))).scalar_one() or 0
    recomputed = recompute_publication_days(session=session, calendar=calendar, actor=actor, today=today)
    told_days, untold_days = _told_publication_days_moved(
        session=session, after=queued_before, version=calendar.version
    )
    deadlines = resolve_pending_deadlines(session=session, calendar=calendar, actor=actor, today=today)
    return (
        changes,
        version,
        Recomputed(
            publication_days=recomputed,
            deadlines=deadlines.counts,
            told_moved=[*deadlines.told_moved, *told_days],
            kept=deadlines.kept,
            untold_moved=untold_days,
        ),
    )


@dataclass(frozen=True)
class YearLoad:
    """When a year's notice was loaded, as the admin calendar page and ``shouxin calendar`` show it:
    ``first_loaded_at`` the first load (from then on its working days were known, which a correction
    does not move) and, when the stored notice is a correction, ``corrected_at`` and who loaded it."""

    year: int
    first_loaded_at: dt.datetime
    loaded_by: str
    corrected_at: dt.datetime | None


def year_loads(*, session: Session) -> dict[int, YearLoad]:
    """Each loaded year's ``YearLoad``, times aware (SQLite hands them back naive, in UTC)."""
    rows = session.execute(
        select(_Y.c.year, _Y.c.first_loaded_at, _Y.c.loaded_at, _Y.c.loaded_by).order_by(_Y.c.year)
    )
    loads = {}
    for year, first, loaded, by in rows:
        first, loaded = _aware(first), _aware(loaded)
        loads[year] = YearLoad(year, first, by, loaded if loaded != first else None)
    return loads


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _told_publication_days_moved(
    *, session: Session, after: int, version: str
) -> tuple[list[str], list[str]]:
    """The pledges whose pledgor, told a publication day, was just told it moved: the corrections
    ``recompute_publication_days`` queued in this transaction (outbox rows past ``after``, keyed by the
    calendar version), not the days a newly loaded year dated for the first time. Second, those whose
    notice reaches nobody (its one row undeliverable: no e-mail, no mobile)."""
    rows = session.execute(
        select(_N.c.case_number, _N.c.context, _N.c.idempotency_key, _N.c.status)
        .where(_N.c.id > after, _N.c.template == TOLD_TEMPLATE, _N.c.case_kind == "pledge")
        .order_by(_N.c.id)
    )
    reached: dict[str, bool] = {}  # an e-mail and an SMS row tell the same pledgor once
    for number, context, key, status in rows:
        if context.get("corrected") and f":{version}:{TOLD_TEMPLATE}" in key:
            reached[number] = reached.get(number, False) or status != NotificationStatus.UNDELIVERABLE
    return [n for n, told in reached.items() if told], [n for n, told in reached.items() if not told]
