"""Publication days: the N-th working day after a pledge's deadline (``compute_publication_day``), and
their recomputation, audited, when the working-day calendar changes: never earlier than a day the pledgor
was told, and told to the pledgor when it moves later or gets its date (``recompute_publication_days``).

A pending day (待日历确定) that gets its date on day L (a holiday notice loaded late, e.g. next year's in
January) is never earlier than the N-th working day after L (``pledge_rejection_grace_working_days``, the
grace a late rejection of evidence gets): the pledgor, told only then, is never told a day already past
nor published for the authority's delay (RULEBOOK informed pledges §3). Once told, that day binds as any
told day does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from models.bulk import insert_rows
from models.calendar import WorkCalendar
from models.clock import Clock, iso_date, utcnow
from models.deadlines import known_late_data, known_late_floor, known_late_note
from models.errors import OutOfCalendarCoverage
from models.id_sets import chunks, in_list
from models.lifecycle import PledgeState
from models.outbox import Notification, outbox_rows
from models.pledge import Pledge, registration_publication_day
from models.settings import get_settings
from models.workflow import Actor, apply_event_many

OPEN_STATES = (PledgeState.REGISTERED, PledgeState.EVIDENCE_SUBMITTED, PledgeState.OVERDUE)
# The notice that tells a pledgor the publication day moved (later) or got its date.
TOLD_TEMPLATE = "pledge_publication_day_set"
_T = Pledge.__table__  # type: ignore[attr-defined]
_N = Notification.__table__  # type: ignore[attr-defined]


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
    today: dt.date | None = None,
) -> int:
    """After a calendar change, recompute open pledges' publication days; each change is audited with the
    old and new day and the calendar version. Returns the number of pledges whose day changed (or whose
    told day was kept).

    What the pledgor was told binds: the days stated in the pledge's notices (``told_publication_days``).
    A day never moves earlier than the latest day a notice told the pledgor, who relies on it: the told
    day is kept, and the ``recompute`` event says so (``computed``, ``kept_told_day``) once per calendar
    version. A day that ends later than every day told — or a pending day that gets its date for a
    pledgor told it was pending — is told to the pledgor (``pledge_publication_day_set``) in the same
    transaction, keyed by the pledge, the day and the calendar version, so a re-run queues nothing twice.
    A pledgor never told anything about the day (no such notice) is not told of a change either.

    ``today`` (default: the Asia/Shanghai date of ``now``, or the clock's today) is the day a pending day
    gets its date: it is never earlier than the grace after it (``models.deadlines.known_late_floor``), and
    the event records the day the calendar gives and why (``known_late``)."""
    if today is None:
        today = Clock.from_settings().local_date(now) if now is not None else Clock.from_settings().today()
    now = now or utcnow()
    version = calendar.version
    computed, floored = _computed_days(session=session, calendar=calendar, only_pending=only_pending,
                                       today=today)  # fmt: skip
    told = told_publication_days(session=session, ids=sorted(computed))
    changes, kept = _bound_by_told(computed, told, version)
    # Only the pledges apply_event_many moved get their new day: one a concurrent sweep holds (or moved
    # on) gets neither a new day nor an event now, so the day never changes without its audit record; the
    # next run retries it.
    fired = apply_event_many(
        session=session, kind="pledge", ids=sorted(changes), event="recompute", actor=actor, now=now,
        note=lambda f: _note(f.id, changes[f.id][1], kept, floored, today),
        data=lambda f: {"old": iso_date(changes[f.id][0]), "new": iso_date(changes[f.id][1]),
                        "calendar_version": version, **_kept_data(kept, f.id),
                        **_floored_data(floored, f.id, today)},
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
    later = {f.id: changes[f.id] for f in fired if _told_later(told, f.id, *changes[f.id])}
    _tell_pledgors(session=session, moved=later, told=told, version=version, actor=actor, now=now)
    return len(fired)


_Computed = dict[int, tuple[dt.date | None, dt.date | None, str | None]]
_Changes = dict[int, tuple[dt.date | None, dt.date | None]]


def _computed_days(
    *, session: Session, calendar: WorkCalendar, only_pending: bool, today: dt.date
) -> tuple[_Computed, dict[int, dt.date]]:
    """The open pledges whose day ``calendar`` computes differently from the stored one: (stored day,
    computed day, the calendar version the stored one was computed with), by pledge; and the pending
    ones whose day the grace after ``today`` put later (``models.deadlines.known_late_floor``), with the
    day the calendar gives."""
    stmt = select(
        _T.c.id, _T.c.deadline, _T.c.publication_counted_from, _T.c.registered_on, _T.c.publication_day,
        _T.c.calendar_version,
    ).where(_T.c.state.in_(OPEN_STATES))  # fmt: skip
    if only_pending:
        stmt = stmt.where(_T.c.publication_day.is_(None))
    by_start: dict[tuple[dt.date, dt.date | None, dt.date | None], dt.date | None] = {}
    computed: _Computed = {}
    floored: dict[int, dt.date] = {}
    floor = known_late_floor(calendar, today)
    for pid, deadline, counted_from, registered_on, old, old_version in session.execute(stmt):
        # The registration day counts only for a pledge registered after its deadline (and not since
        # rejected): otherwise it stays out of the key, and each deadline's day is computed once.
        since = registered_on if counted_from is None and registered_on and registered_on > deadline else None
        start = (deadline, counted_from, since)
        if start not in by_start:
            by_start[start] = publication_day_of(
                calendar, deadline=deadline, counted_from=counted_from, registered_on=since
            )
        day = by_start[start]
        if old is None and day is not None and (floor is None or day < floor):
            # A pending day getting its date now: the pledgor learns it only now, so it is never a day
            # already past nor one too close to act on. No floor (the grace runs into a year not loaded):
            # it stays pending until that year is.
            if floor is None:
                continue
            floored[pid], day = day, floor
        if day != old:
            computed[pid] = (old, day, old_version)
    return computed, floored


def _bound_by_told(
    computed: _Computed, told: dict[int, dt.date | None], version: str
) -> tuple[_Changes, dict[int, dt.date]]:
    """The changes to make, (stored day, new day) by pledge, the new day never earlier than the latest
    day told; and the pledges whose told day is kept, with the (earlier) day the calendar gives. A kept
    day equal to the stored one is a change only once per calendar version: audited, not at every load."""
    changes: _Changes = {}
    kept: dict[int, dt.date] = {}
    for pid, (old, new, old_version) in computed.items():
        latest = told.get(pid)
        if new is not None and latest is not None and new < latest:
            kept[pid] = new
            if latest != old or old_version != version:
                changes[pid] = (old, latest)
        else:
            changes[pid] = (old, new)
    return changes, kept


def _kept_data(kept: dict[int, dt.date], pid: int) -> dict[str, Any]:
    return {"computed": kept[pid].isoformat(), "kept_told_day": True} if pid in kept else {}


def _floored_data(floored: dict[int, dt.date], pid: int, today: dt.date) -> dict[str, Any]:
    return known_late_data(floored[pid], today, "publication_day_known_late") if pid in floored else {}


def _note(
    pid: int, day: dt.date | None, kept: dict[int, dt.date], floored: dict[int, dt.date], today: dt.date
) -> str | None:
    if pid in kept:
        return _kept_note(day, kept[pid])
    if pid in floored:
        return known_late_note("公示日", floored[pid], today, day)
    return None


def _told_later(told: dict[int, dt.date | None], pid: int, old: dt.date | None, day: dt.date | None) -> bool:
    """Whether the pledgor of ``pid``, told of the publication day, must hear of the moved ``day``: it is
    later than every day told, or the first date after notices that said it was pending."""
    if pid not in told or day is None or day == old:
        return False
    latest = told[pid]
    return latest is None or day > latest


def _kept_note(day: dt.date | None, computed: dt.date) -> str:
    return (
        f"已告知当事人的公示日为 {iso_date(day)}，按变更后的日历应为 {computed.isoformat()}，"
        "不早于已告知的日期，维持原公示日 (the told day is kept: never earlier than told)"
    )


def told_publication_days(*, session: Session, ids: Sequence[int]) -> dict[int, dt.date | None]:
    """The pledges among ``ids`` whose pledgor was sent a notice stating the publication day (registration,
    overdue, pre-publication, evidence rejected, a moved day: every such notice carries
    ``publication_day`` in its context), each with the latest day stated, or None when every such notice
    said the day was still pending (待日历确定).

    The outbox is the record of what the pledgor was told, whatever became of delivery: a notice that could
    not be sent was handed over on paper (``models.outbox.queued_channels``). The outbox has no index on
    the case (each index costs every bulk insert), so this reads it once per chunk of ids: it runs only
    for the pledges whose day a calendar change moves."""
    told: dict[int, dt.date | None] = {}
    for part in chunks(ids):
        rows = session.execute(
            select(_N.c.case_id, _N.c.context).where(
                _N.c.case_kind == "pledge",
                _N.c.recipient_kind == "pledgor",
                in_list(session, _N.c.case_id, part),
            )
        )
        for pid, context in rows:
            if "publication_day" not in context:
                continue
            stated = context["publication_day"]
            day = dt.date.fromisoformat(stated) if stated else None
            latest = told.get(pid)
            told[pid] = max(latest, day) if latest is not None and day is not None else latest or day
    return told


def _tell_pledgors(
    *,
    session: Session,
    moved: _Changes,
    told: dict[int, dt.date | None],
    version: str,
    actor: Actor,
    now: dt.datetime,
) -> None:
    """Queue ``pledge_publication_day_set`` for each pledge of ``moved`` (its stored and new day: a stored
    day means a corrected notice moved it, none that its year was loaded), to the pledgor as
    ``models.pledges.mail.enqueue_for_pledgor`` reaches one (e-mail, SMS or both: ``outbox_rows``), in
    one insert that skips a key already queued (a re-run of the same calendar version)."""
    cols = [_T.c.id, _T.c.number, _T.c.pledgor_name, _T.c.pledgor_email, _T.c.pledgor_phone, _T.c.matter,
            _T.c.deadline]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for part in chunks(sorted(moved)):
        for p in session.execute(select(*cols).where(in_list(session, _T.c.id, part))):
            old, day = moved[p.id]
            assert day is not None  # _told_later: only a day, never a day gone back to pending
            rows += outbox_rows(
                template=TOLD_TEMPLATE, recipient_kind="pledgor", recipient_name=p.pledgor_name,
                recipient_email=p.pledgor_email, recipient_phone=p.pledgor_phone,
                key=f"pledge:{p.id}:publication_day:{day.isoformat()}:{version}:{TOLD_TEMPLATE}",
                context={"pledge_number": p.number, "pledgor_name": p.pledgor_name, "matter": p.matter,
                         "deadline": p.deadline.isoformat(), "publication_day": day.isoformat(),
                         "told_day": iso_date(told[p.id]), "corrected": old is not None},
                now=now, case_kind="pledge", case_id=p.id, case_number=p.number,
                flow_run_id=actor.flow_run_id,
            )  # fmt: skip
    insert_rows(session, _N, rows, on_conflict_do_nothing=["idempotency_key"])
