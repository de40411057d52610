"""The pledge sweeps, set-based: mark overdue, warn, remind, publish due pledges, recompute publication days.

Every step takes a batch of pledge ids and works with a handful of statements per batch (no ORM object per
row), so a province-sized backlog publishes at thousands of records per second. Each step is idempotent:
state changes are compare-and-set on the pledge's state, warnings carry an idempotency key, and a
pledge's breach row is protected by the UNIQUE ``pledge_id``, so repeated or concurrent sweeps add
nothing twice. The per-case audit chain (seq, prev_hash, hash) is continued exactly as ``record_event``
does, with the same ``hashed_fields``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, and_, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from models.audit import CaseEvent, event_hash, hashed_fields
from models.breach import PublishedBreach, Severity
from models.bulk import insert_rows
from models.calendar import WorkCalendar, load_calendar
from models.clock import utcnow
from models.errors import OutOfCalendarCoverage
from models.lifecycle import PLEDGE, BreachState, PledgeState
from models.numbering import BREACH_PREFIX, reserve_numbers
from models.outbox import Notification as _Notification
from models.outbox import outbox_row
from models.platform import DocumentKind, document_row, enqueue_documents
from models.pledge import Pledge
from models.register import department_names, public_fields, publication_end, repair_earliest
from models.settings import get_settings
from models.workflow import Actor

PS = PledgeState
OPEN_STATES = (PS.REGISTERED, PS.EVIDENCE_SUBMITTED, PS.OVERDUE)
PUBLISHABLE = (PS.OVERDUE, PS.EVIDENCE_SUBMITTED)
# Bound parameters per IN list; SQLite allows 32,766 per statement.
_CHUNK = 5000

_Item = TypeVar("_Item")
_T = Pledge.__table__  # type: ignore[attr-defined]
_E = CaseEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Fired:
    """One pledge an event was applied to."""

    id: int
    number: str
    from_state: str
    to_state: str


@dataclass
class _EventRow:
    # The attributes hashed_fields reads; cheaper than a mapped CaseEvent per row in the hot path.
    case_kind: str
    case_id: int
    case_number: str
    seq: int
    event: str
    from_state: str | None
    to_state: str
    actor_id: int | None
    actor_name: str
    actor_role: str
    at: dt.datetime
    note: str | None
    data: dict[str, Any]
    flow_run_id: str | None
    idempotency_key: str | None
    prev_hash: str = ""
    hash: str = ""


def chunks(items: Sequence[_Item], size: int = _CHUNK) -> Iterator[list[_Item]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# ---------------------------------------------------------------------------------------------------
# Set-based building blocks
# ---------------------------------------------------------------------------------------------------


def claim(
    *,
    session: Session,
    ids: Sequence[int],
    event: str,
    actor: Actor,
    now: dt.datetime,
    where: Iterable[ColumnElement[bool]] = (),
) -> list[Fired]:
    """Apply ``event``'s state change to the pledges among ``ids`` that allow it, compare-and-set on the
    state (and the version bumped, as ``apply_event`` does). Returns the pledges actually changed."""
    transition = PLEDGE.transition(event)
    conditions = list(where)
    fired: list[Fired] = []
    for source in sorted(transition.sources):
        PLEDGE.fire(source, event, actor.role)
        target = PLEDGE.target_of(transition, source, None)
        if target != source and PLEDGE.state(target).deadline is not None:
            raise ValueError(f"claim() cannot start the deadline of '{target}'; use apply_event")
        values: dict[str, Any] = {"version": _T.c.version + 1, "updated_at": now}
        if target != source:
            values.update(state=PS(target), stage_seq=_T.c.stage_seq + 1, stage_deadline=None)
        for part in chunks(ids):
            part = _lock(session, part, PS(source), conditions)
            if not part:
                continue
            stmt = (
                update(_T)
                .where(_T.c.id.in_(part), _T.c.state == PS(source), *conditions)
                .values(**values)
                .returning(_T.c.id, _T.c.number)
            )
            fired += [Fired(r.id, r.number, str(source), str(target)) for r in session.execute(stmt)]
    return fired


def _lock(
    session: Session, ids: list[int], state: PledgeState, conditions: list[ColumnElement[bool]]
) -> list[int]:
    """On PostgreSQL, lock the rows still in ``state``, skipping those a concurrent sweep holds."""
    if session.get_bind().dialect.name != "postgresql":
        return ids  # SQLite serialises writers; the compare-and-set UPDATE is the guard
    stmt = (
        select(_T.c.id)
        .where(_T.c.id.in_(ids), _T.c.state == state, *conditions)
        .with_for_update(skip_locked=True)
    )
    return [row[0] for row in session.execute(stmt)]


def write_events(
    *,
    session: Session,
    kind: str,
    fired: Sequence[Fired],
    event: str,
    actor: Actor,
    now: dt.datetime,
    data: Callable[[Fired], dict[str, Any]] | None = None,
    note: Callable[[Fired], str | None] | None = None,
    key: Callable[[Fired], str | None] | None = None,
) -> dict[int, int]:
    """Append one audit event per case, continuing each case's seq and hash chain, in one bulk insert.
    Returns each case's new event seq."""
    if not fired:
        return {}
    last: dict[int, tuple[int, str]] = {}
    for part in chunks([f.id for f in fired]):
        # Every event of these cases in (case, seq) order, the last one kept: a range scan of the unique
        # (kind, case, seq) index on both databases. The GROUP BY max(seq) join it replaces made
        # PostgreSQL hash-join all 2 million events (30 s a batch over a million pledges).
        stmt = (
            select(_E.c.case_id, _E.c.seq, _E.c.hash)
            .where(_E.c.case_kind == kind, _E.c.case_id.in_(part))
            .order_by(_E.c.case_id, _E.c.seq)
        )
        last.update({case_id: (seq, digest) for case_id, seq, digest in session.execute(stmt)})
    out = []
    for f in fired:
        seq, prev = last.get(f.id, (0, ""))
        row = _EventRow(
            case_kind=kind,
            case_id=f.id,
            case_number=f.number,
            seq=seq + 1,
            event=event,
            from_state=f.from_state or None,
            to_state=f.to_state,
            actor_id=actor.id,
            actor_name=actor.name,
            actor_role=str(actor.role),
            at=now,
            note=note(f) if note else None,
            data=data(f) if data else {},
            flow_run_id=actor.flow_run_id,
            idempotency_key=key(f) if key else None,
            prev_hash=prev,
        )
        row.hash = event_hash(prev, hashed_fields(cast(CaseEvent, row)))
        out.append(row.__dict__)
    insert_rows(session, _E, out)
    return {row["case_id"]: row["seq"] for row in out}


def existing_keys(*, session: Session, keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        stmt = select(_E.c.idempotency_key).where(_E.c.idempotency_key.in_(wanted[start : start + _CHUNK]))
        found.update(r[0] for r in session.execute(stmt))
    return found


def notification_row(
    *, template: str, pledge: Any, key: str, context: dict[str, Any], actor: Actor, now: dt.datetime
) -> dict[str, Any]:
    """The pledgor's message as a complete outbox row for a bulk insert."""
    return outbox_row(
        template=template,
        recipient_kind="pledgor",
        recipient_name=pledge.pledgor_name,
        recipient_email=pledge.pledgor_email,
        key=key,
        context=context,
        now=now,
        case_kind="pledge",
        case_id=pledge.id,
        case_number=pledge.number,
        flow_run_id=actor.flow_run_id,
    )


def _pledges(session: Session, ids: Sequence[int]) -> dict[int, Any]:
    cols = [
        _T.c.id, _T.c.number, _T.c.pledgor_kind, _T.c.pledgor_name, _T.c.pledgor_credit_code,
        _T.c.pledgor_email, _T.c.matter, _T.c.obligation, _T.c.deadline, _T.c.legal_basis,
        _T.c.authority_id, _T.c.publication_day, _T.c.calendar_version, _T.c.state,
    ]  # fmt: skip
    result: dict[int, Any] = {}
    for part in chunks(ids):
        result.update({r.id: r for r in session.execute(select(*cols).where(_T.c.id.in_(part)))})
    return result


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _insert_notifications(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk insert, skipping rows whose idempotency key is already queued: a mail already queued for the
    same occurrence must not fail the whole batch (and, through run_batch's retries, the whole sweep)."""
    table = _Notification.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, rows, on_conflict_do_nothing=["idempotency_key"])


# ---------------------------------------------------------------------------------------------------
# The steps. Each takes a batch of ids, works in the caller's transaction and returns how many it did.
# ---------------------------------------------------------------------------------------------------


def mark_overdue(
    *,
    session: Session,
    ids: Sequence[int],
    today: dt.date,
    actor: Actor,
    calendar: WorkCalendar,
    now: dt.datetime | None = None,
) -> int:
    """Registered pledges whose deadline has passed become overdue; the pledgor is told the day."""
    del calendar  # same signature as the other steps
    now = now or utcnow()
    fired = claim(
        session=session, ids=ids, event="mark_overdue", actor=actor, now=now, where=[_T.c.deadline < today]
    )
    info = _pledges(session, [f.id for f in fired])
    seqs = write_events(
        session=session,
        kind="pledge",
        fired=fired,
        event="mark_overdue",
        actor=actor,
        now=now,
        data=lambda f: {"deadline": info[f.id].deadline.isoformat()},
    )
    _insert_notifications(session, [
        notification_row(
            # Overdue again after rejected evidence: one mail per occurrence (its event's seq).
            template="pledge_overdue", pledge=info[f.id],
            key=f"pledge:{f.id}:overdue:{seqs[f.id]}:pledge_overdue",
            actor=actor, now=now,
            context={
                "pledge_number": f.number, "pledgor_name": info[f.id].pledgor_name,
                "matter": info[f.id].matter, "obligation": info[f.id].obligation,
                "deadline": info[f.id].deadline.isoformat(),
                "publication_day": _iso(info[f.id].publication_day),
            },
        )
        for f in fired
    ])  # fmt: skip
    return len(fired)


def send_warnings(
    *,
    session: Session,
    ids: Sequence[int],
    today: dt.date,
    actor: Actor,
    calendar: WorkCalendar,
    now: dt.datetime | None = None,
) -> int:
    """Warn pledgors on the configured overdue working days (default 1 and 5) before publication.

    A pledge gets the latest warning day it has reached (a sweep missed for a few days sends one warning,
    not a burst), keyed per pledge and day number so a re-run sends nothing twice.
    """
    now = now or utcnow()
    days = sorted(get_settings().pledge_warning_days)
    info = _pledges(session, ids)
    due: dict[int, int] = {}
    for pid, p in info.items():
        if p.state not in PUBLISHABLE or p.publication_day is None or p.publication_day <= today:
            continue
        elapsed = calendar.working_days_between(p.deadline, today)
        reached = [k for k in days if k <= elapsed]
        if reached:
            due[pid] = reached[-1]
    keys = {pid: f"pledge:{pid}:warn:{k}" for pid, k in due.items()}
    done = existing_keys(session=session, keys=keys.values())
    todo = [pid for pid in due if keys[pid] not in done]
    fired = claim(session=session, ids=todo, event="warn", actor=actor, now=now)
    left = {f.id: calendar.working_days_between(today, info[f.id].publication_day) for f in fired}
    write_events(
        session=session,
        kind="pledge",
        fired=fired,
        event="warn",
        actor=actor,
        now=now,
        key=lambda f: keys[f.id],
        data=lambda f: {"overdue_working_day": due[f.id], "working_days_left": left[f.id]},
    )
    _insert_notifications(session, [
        notification_row(
            template="pledge_prepublication", pledge=info[f.id], key=f"{keys[f.id]}:pledge_prepublication",
            actor=actor, now=now,
            context={
                "pledge_number": f.number, "pledgor_name": info[f.id].pledgor_name,
                "matter": info[f.id].matter, "deadline": info[f.id].deadline.isoformat(),
                "publication_day": _iso(info[f.id].publication_day), "working_days_left": left[f.id],
            },
        )
        for f in fired
    ])  # fmt: skip
    return len(fired)


def send_reminders(
    *,
    session: Session,
    ids: Sequence[int],
    today: dt.date,
    actor: Actor,
    calendar: WorkCalendar,
    now: dt.datetime | None = None,
) -> int:
    """Remind pledgors N working days (setting) before their deadline; once per pledge."""
    now = now or utcnow()
    before = get_settings().pledge_reminder_days_before
    info = _pledges(session, ids)
    left: dict[int, int] = {}
    for pid, p in info.items():
        if p.state == PS.REGISTERED and p.deadline >= today:
            try:
                remaining = calendar.working_days_between(today, p.deadline)
            except OutOfCalendarCoverage:
                continue  # the deadline's year is not loaded yet; reminded once it is
            if remaining <= before:
                left[pid] = remaining
    keys = {pid: f"pledge:{pid}:remind:{before}" for pid in left}
    done = existing_keys(session=session, keys=keys.values())
    fired = claim(
        session=session, ids=[p for p in left if keys[p] not in done], event="remind", actor=actor, now=now
    )
    write_events(
        session=session,
        kind="pledge",
        fired=fired,
        event="remind",
        actor=actor,
        now=now,
        key=lambda f: keys[f.id],
        data=lambda f: {"working_days_left": left[f.id]},
    )
    _insert_notifications(session, [
        notification_row(
            template="pledge_reminder", pledge=info[f.id], key=f"{keys[f.id]}:pledge_reminder",
            actor=actor, now=now,
            context={
                "pledge_number": f.number, "pledgor_name": info[f.id].pledgor_name,
                "matter": info[f.id].matter, "obligation": info[f.id].obligation,
                "deadline": info[f.id].deadline.isoformat(), "working_days_left": left[f.id],
            },
        )
        for f in fired
    ])  # fmt: skip
    return len(fired)


def publish_due(
    *,
    session: Session,
    ids: Sequence[int],
    today: dt.date,
    actor: Actor,
    calendar: WorkCalendar,
    now: dt.datetime | None = None,
    severity: Severity = Severity.GENERAL,
) -> int:
    """Publish every pledge among ``ids`` still unfulfilled on or after its publication day.

    One breach row, a ``publish`` event on the pledge, a ``create`` event on the breach, the pledgor's
    mail and a platform document per pledge, all in the caller's transaction. At most once: the state
    compare-and-set picks the winner, and the UNIQUE pledge_id refuses a second breach whatever happens.
    """
    del calendar
    now = now or utcnow()
    fired = claim(
        session=session,
        ids=ids,
        event="publish",
        actor=actor,
        now=now,
        where=[_T.c.publication_day.is_not(None), _T.c.publication_day <= today],
    )
    if not fired:
        return 0
    info = _pledges(session, [f.id for f in fired])
    numbers = reserve_numbers(session=session, prefix=BREACH_PREFIX, year=today.year, count=len(fired))
    # The decision date (JDRQ) is the pledge's publication day, the day the rule fixes, also when a sweep
    # catches up later (the service was down, the calendar year was missing): the publication period
    # runs from it, so a late run never keeps a record public longer than the rule allows. The events
    # still record when the publication actually happened.
    periods: dict[dt.date, tuple[dt.date, dt.date]] = {}
    breach_rows = []
    for f, (_, number) in zip(fired, numbers, strict=True):
        p = info[f.id]
        decided = p.publication_day
        if decided not in periods:
            periods[decided] = (publication_end(severity, decided), repair_earliest(severity, decided))
        end, earliest = periods[decided]
        breach_rows.append({
            "number": number, "source_kind": "pledge", "pledge_id": f.id, "complaint_id": None,
            "subject_kind": str(p.pledgor_kind), "subject_name": p.pledgor_name,
            "subject_credit_code": p.pledgor_credit_code, "matter": p.matter,
            "facts": f"未在承诺期限内履行承诺：承诺于 {p.deadline.isoformat()} 前提交“{p.obligation}”，"
                     f"逾期未履行（承诺编号 {f.number}）",
            "basis": p.legal_basis or "告知承诺书", "department_id": p.authority_id, "severity": severity,
            "decision_date": decided, "publication_end": end, "repair_earliest": earliest,
            "state": BreachState.PUBLISHED, "version": 1, "stage_seq": 0, "stage_deadline": None,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
    inserted = _insert_breaches(session, breach_rows)
    fired = [f for f in fired if f.id in inserted]
    by_pledge = {row["pledge_id"]: row for row in breach_rows}
    write_events(
        session=session,
        kind="pledge",
        fired=fired,
        event="publish",
        actor=actor,
        now=now,
        key=lambda f: f"pledge:{f.id}:publish",
        data=lambda f: {
            "record_number": by_pledge[f.id]["number"],
            "publication_day": _iso(info[f.id].publication_day),
        },
    )
    created = [
        Fired(inserted[f.id], by_pledge[f.id]["number"], "", str(BreachState.PUBLISHED)) for f in fired
    ]
    write_events(
        session=session,
        kind="breach",
        fired=created,
        event="create",
        actor=actor,
        now=now,
        data=lambda _: {"source": "pledge"},
    )
    departments = department_names(session)
    _insert_notifications(session, [
        notification_row(
            template="pledge_published", pledge=info[f.id], key=f"pledge:{f.id}:publish:pledge_published",
            actor=actor, now=now,
            context={
                "pledge_number": f.number, "pledgor_name": info[f.id].pledgor_name,
                "matter": info[f.id].matter, "record_number": by_pledge[f.id]["number"],
                "decision_date": by_pledge[f.id]["decision_date"].isoformat(),
                "publication_end": by_pledge[f.id]["publication_end"].isoformat(),
            },
        )
        for f in fired
    ])  # fmt: skip
    enqueue_documents(session=session, rows=[
        document_row(kind=DocumentKind.PUBLISH, breach_id=inserted[f.id], number=by_pledge[f.id]["number"],
                     now=now, payload=public_fields(by_pledge[f.id], departments, mask=False))
        for f in fired
    ])  # fmt: skip
    return len(fired)


def _insert_breaches(session: Session, rows: list[dict[str, Any]]) -> dict[int, int]:
    """INSERT … ON CONFLICT (pledge_id) DO NOTHING; returns {pledge_id: breach_id} of rows inserted."""
    table = PublishedBreach.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, rows, on_conflict_do_nothing=["pledge_id"])
    # The numbers were reserved for this batch alone, so the rows carrying them are the ones inserted
    # here (a pledge another sweep published keeps that sweep's number).
    inserted: dict[int, int] = {}
    numbers = [row["number"] for row in rows]
    for start in range(0, len(numbers), _CHUNK):
        stmt = select(table.c.pledge_id, table.c.id).where(
            table.c.number.in_(numbers[start : start + _CHUNK])
        )
        inserted.update({r.pledge_id: r.id for r in session.execute(stmt)})
    return inserted


# ---------------------------------------------------------------------------------------------------
# Publication days
# ---------------------------------------------------------------------------------------------------


def compute_publication_day(calendar: WorkCalendar, deadline: dt.date) -> dt.date | None:
    """The N-th working day after the deadline, or None when that year's calendar is not loaded."""
    try:
        return calendar.nth_working_day_after(deadline, get_settings().publication_working_days)
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
    stmt = select(_T.c.id, _T.c.deadline, _T.c.publication_day).where(_T.c.state.in_(OPEN_STATES))
    if only_pending:
        stmt = stmt.where(_T.c.publication_day.is_(None))
    by_deadline: dict[dt.date, dt.date | None] = {}
    changes: dict[int, tuple[dt.date | None, dt.date | None]] = {}
    for pid, deadline, old in session.execute(stmt):
        if deadline not in by_deadline:
            by_deadline[deadline] = compute_publication_day(calendar, deadline)
        new = by_deadline[deadline]
        if new != old:
            changes[pid] = (old, new)
    version = calendar.version
    fired: list[Fired] = []
    if changes:
        fired = claim(session=session, ids=sorted(changes), event="recompute", actor=actor, now=now)
        # Only the pledges claim() changed: one a concurrent sweep holds (or moved on) gets neither a new
        # day nor an event now, so the day never changes without its audit record; the next run retries it.
        for f in fired:
            session.execute(
                update(_T)
                .where(_T.c.id == f.id)
                .values(publication_day=changes[f.id][1], calendar_version=version)
            )
        write_events(
            session=session, kind="pledge", fired=fired, event="recompute", actor=actor, now=now,
            data=lambda f: {"old": _iso(changes[f.id][0]), "new": _iso(changes[f.id][1]),
                            "calendar_version": version},
        )  # fmt: skip
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


# ---------------------------------------------------------------------------------------------------
# Which ids each step looks at (read-only; the flow batches these)
# ---------------------------------------------------------------------------------------------------

Step = Callable[..., int]
STEPS: dict[str, Step] = {
    "overdue": mark_overdue,
    "warn": send_warnings,
    "remind": send_reminders,
    "publish": publish_due,
}


def candidates(
    *, session: Session, step: str, today: dt.date, calendar: WorkCalendar, dry_run: bool = False
) -> list[int]:
    """Ids the step may act on today, in id order; cheap index scans (state, date) over open pledges."""
    c = _T.c
    if step == "overdue":
        cond = and_(c.state == PS.REGISTERED, c.deadline < today)
    elif step == "publish":
        states = (*PUBLISHABLE, PS.REGISTERED) if dry_run else PUBLISHABLE
        cond = and_(c.state.in_(states), c.publication_day <= today)
    elif step == "warn":
        # Overdue, not yet at the publication day: deadlines within the last N working days.
        low = _working_days_back(calendar, today, get_settings().publication_working_days + 1)
        states = (*PUBLISHABLE, PS.REGISTERED) if dry_run else PUBLISHABLE
        cond = and_(c.state.in_(states), c.deadline < today, c.deadline >= low, c.publication_day > today)
    elif step == "remind":
        before = get_settings().pledge_reminder_days_before
        if before == 0:
            return []
        high = _remind_window_end(calendar, today, before)
        cond = and_(c.state == PS.REGISTERED, c.deadline >= today, c.deadline <= high)
    else:
        raise ValueError(f"unknown sweep step {step!r}")
    # Sorted here, not by ORDER BY: with ORDER BY id SQLite walks the whole table in rowid order instead of
    # the covering (state, date) index, and a sweep with nothing due took seconds over a million pledges.
    return sorted(r[0] for r in session.execute(select(c.id).where(cond)))


def _remind_window_end(calendar: WorkCalendar, today: dt.date, n: int) -> dt.date:
    """The N-th working day after today, or, when that runs into a year not loaded yet (late December),
    the last day loaded: deadlines beyond it are reminded once their year is loaded, and the refusal
    must not abort the sweep's other steps."""
    try:
        return calendar.nth_working_day_after(today, n)
    except OutOfCalendarCoverage:
        year = today.year
        while calendar.covers(year + 1):
            year += 1
        return dt.date(year, 12, 31)


def _working_days_back(calendar: WorkCalendar, today: dt.date, n: int) -> dt.date:
    day, seen = today, 0
    while seen < n:
        day -= dt.timedelta(days=1)
        try:
            seen += calendar.is_workday(day)
        except OutOfCalendarCoverage:
            return day
    return day


# ---------------------------------------------------------------------------------------------------
# Running the sweep outside Prefect (the CLI, tests) and the batch runner the flow's tasks share
# ---------------------------------------------------------------------------------------------------


def run_batch(
    *, engine: Engine, step: str, ids: Sequence[int], today: dt.date, actor: Actor, attempts: int = 6
) -> int:
    """One transaction for one batch; a batch that loses a race with a concurrent sweep is rolled back
    and retried, and the retry re-reads which pledges still need the step."""
    for attempt in range(attempts):
        try:
            with Session(engine, expire_on_commit=False) as session:
                calendar = load_calendar(session=session)
                done = STEPS[step](session=session, ids=ids, today=today, actor=actor, calendar=calendar)
                session.commit()
                return done
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.02 * 2**attempt)
    return 0


def recompute_pending(*, engine: Engine, actor: Actor) -> int:
    """Pledges waiting for a calendar year get their publication day once the year is loaded."""
    with Session(engine, expire_on_commit=False) as session:
        done = recompute_publication_days(
            session=session, calendar=load_calendar(session=session), actor=actor, only_pending=True
        )
        session.commit()
        return done


@dataclass
class SweepReport:
    today: dt.date
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    # Steps the calendar refused (a year not loaded), with the message; the other steps still ran.
    refused: dict[str, str] = field(default_factory=dict)


SWEEP_ORDER = ("overdue", "warn", "remind", "publish")
STEP_LABELS = {
    "recompute": "公示日重算（待日历）",
    "overdue": "标记逾期",
    "warn": "逾期预警",
    "remind": "到期提醒",
    "publish": "公示失信",
}


def _run_batches(
    *, engine: Engine, step: str, ids: list[int], size: int, today: dt.date, actor: Actor
) -> int:
    """The step's batches, several at once on PostgreSQL (as the flow's concurrent tasks run them): the
    database works on one batch while Python prepares the next, which is where a second core helps."""
    batches = list(chunks(ids, size))
    parallel = 1 if engine.dialect.name == "sqlite" else get_settings().sweep_parallel_batches
    if parallel == 1 or len(batches) < 2:
        return sum(run_batch(engine=engine, step=step, ids=b, today=today, actor=actor) for b in batches)
    with ThreadPoolExecutor(max_workers=min(parallel, len(batches))) as pool:
        done = pool.map(
            lambda b: run_batch(engine=engine, step=step, ids=b, today=today, actor=actor), batches
        )
        return sum(done)


def sweep(
    *, engine: Engine, today: dt.date, actor: Actor, dry_run: bool = False, batch_size: int | None = None
) -> SweepReport:
    """All steps in order, batch by batch (what the flow does, without Prefect)."""
    size = batch_size or get_settings().batch_size
    report = SweepReport(today=today, dry_run=dry_run)
    report.counts["recompute"] = 0 if dry_run else recompute_pending(engine=engine, actor=actor)
    for step in SWEEP_ORDER:
        # A step the calendar cannot serve must not keep the later ones (publication above all) from running.
        try:
            with Session(engine) as session:
                ids = candidates(
                    session=session,
                    step=step,
                    today=today,
                    calendar=load_calendar(session=session),
                    dry_run=dry_run,
                )
            if dry_run:
                report.counts[step] = len(ids)
                continue
            report.counts[step] = _run_batches(engine=engine, step=step, ids=ids, size=size, today=today,
                                               actor=actor)  # fmt: skip
        except OutOfCalendarCoverage as exc:
            report.refused[step] = exc.message
    return report
