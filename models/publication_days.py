"""Publication days: the N-th working day after a pledge's deadline (``compute_publication_day``), and
their recomputation, audited, when the working-day calendar changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlmodel import Session

from models.calendar import WorkCalendar
from models.clock import iso_date, utcnow
from models.errors import OutOfCalendarCoverage
from models.id_sets import chunks, in_list
from models.lifecycle import PledgeState
from models.pledge import Pledge, registration_publication_day
from models.settings import get_settings
from models.workflow import Actor, apply_event_many

OPEN_STATES = (PledgeState.REGISTERED, PledgeState.EVIDENCE_SUBMITTED, PledgeState.OVERDUE)
_T = Pledge.__table__  # type: ignore[attr-defined]


def compute_publication_day(calendar: WorkCalendar, deadline: dt.date) -> dt.date | None:
    """The N-th working day after the deadline, or None when that year's calendar is not loaded."""
    try:
        return calendar.nth_working_day_after(deadline, get_settings().publication_working_days)
    except OutOfCalendarCoverage:
        return None


def publication_day_of(
    calendar: WorkCalendar, *, deadline: dt.date, counted_from: dt.date | None, registered_on: dt.date | None
) -> dt.date | None:
    """A pledge's publication day: from its deadline, or, after evidence rejected too late to leave the
    pledgor the grace before that day (``models.pledges.review.decide``), the N-th working day
    (``pledge_rejection_grace_working_days``) after the rejection; None while the year it falls in is not
    loaded. Otherwise as registration set it (``registration_publication_day``): never before the N-th
    working day after ``registered_on``, so a back-registered pledge keeps its days when recomputed."""
    if counted_from is None:
        if registered_on is None:
            return compute_publication_day(calendar, deadline)
        return registration_publication_day(calendar, deadline=deadline, registered_on=registered_on)
    try:
        return calendar.nth_working_day_after(
            counted_from, get_settings().pledge_rejection_grace_working_days
        )
    except OutOfCalendarCoverage:
        return None


def recompute_publication_days(
    *,
    session: Session,
    calendar: WorkCalendar,
    actor: Actor,
    only_pending: bool = False,
    now: dt.datetime | None = None,
) -> int:
    """After a calendar change, recompute open pledges' publication days; each change is audited with the
    old and new day and the calendar version. Returns the number of pledges whose day changed."""
    now = now or utcnow()

    stmt = select(
        _T.c.id, _T.c.deadline, _T.c.publication_counted_from, _T.c.registered_on, _T.c.publication_day
    ).where(_T.c.state.in_(OPEN_STATES))
    if only_pending:
        stmt = stmt.where(_T.c.publication_day.is_(None))
    by_start: dict[tuple[dt.date, dt.date | None, dt.date | None], dt.date | None] = {}
    changes: dict[int, tuple[dt.date | None, dt.date | None]] = {}
    for pid, deadline, counted_from, registered_on, old in session.execute(stmt):
        # The registration day counts only for a pledge registered after its deadline (and not since
        # rejected): otherwise it stays out of the key, and each deadline's day is computed once.
        since = registered_on if counted_from is None and registered_on and registered_on > deadline else None
        start = (deadline, counted_from, since)
        if start not in by_start:
            by_start[start] = publication_day_of(
                calendar, deadline=deadline, counted_from=counted_from, registered_on=since
            )
        if by_start[start] != old:
            changes[pid] = (old, by_start[start])
    version = calendar.version
    # Only the pledges apply_event_many moved get their new day: one a concurrent sweep holds (or moved
    # on) gets neither a new day nor an event now, so the day never changes without its audit record; the
    # next run retries it.
    fired = apply_event_many(
        session=session, kind="pledge", ids=sorted(changes), event="recompute", actor=actor, now=now,
        data=lambda f: {"old": iso_date(changes[f.id][0]), "new": iso_date(changes[f.id][1]),
                        "calendar_version": version},
    )  # fmt: skip
    by_day: dict[dt.date | None, list[int]] = {}
    for f in fired:
        by_day.setdefault(changes[f.id][1], []).append(f.id)
    for day, moved in by_day.items():
        for part in chunks(moved):
            session.execute(
                update(_T)
                .where(in_list(session, _T.c.id, part))
                .values(publication_day=day, calendar_version=version)
            )
    if not only_pending:
        # A skipped pledge keeps its old version too: its day was computed with the old calendar.
        skipped = sorted(set(changes) - {f.id for f in fired})
        session.execute(
            update(_T)
            .where(_T.c.state.in_(OPEN_STATES), _T.c.publication_day.is_not(None),
                   func.coalesce(_T.c.calendar_version, "") != version, _T.c.id.not_in(skipped))
            .values(calendar_version=version)
        )  # fmt: skip
    return len(fired)
