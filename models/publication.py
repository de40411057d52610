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
import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, and_, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from models.audit import CaseEvent, event_hash

# The audit module's own test for values orjson writes exactly as the standard library does.
from models.audit import _simple as _plain_json
from models.breach import PublishedBreach, Severity
from models.bulk import column_converter, insert_converted, insert_converted_shared, insert_rows
from models.calendar import WorkCalendar, load_calendar
from models.clock import utcnow
from models.errors import OutOfCalendarCoverage
from models.gcpause import collector_paused
from models.lifecycle import PLEDGE, BreachState, PledgeState
from models.numbering import BREACH_PREFIX, reserve_numbers
from models.outbox import Notification as _Notification
from models.outbox import outbox_row, without_secrets
from models.platform import DocumentKind, PlatformDocument, document_row
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
# JSON functions are built into SQLite from 3.38 on (an option before).
_SQLITE_JSON = sqlite3.sqlite_version_info >= (3, 38)
_T = Pledge.__table__  # type: ignore[attr-defined]
_E = CaseEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Fired:
    """One pledge an event was applied to."""

    id: int
    number: str
    from_state: str
    to_state: str
    # The case's version after the change (claim() reads it back); 0 where nobody needs it.
    version: int = field(default=0, compare=False)


def in_list(session: Session, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` for a batch of ids or keys.

    On SQLite the values go as one JSON array through ``json_each``: an expanding IN has SQLAlchemy render
    a bound parameter per value on every execution (7 % of the sweep's time over its 2,000-id statements),
    and SQLite plans both forms as the same index search. PostgreSQL keeps the plain IN."""
    if session.get_bind().dialect.name == "sqlite" and _SQLITE_JSON:
        each = func.json_each(orjson.dumps(list(values)).decode()).table_valued("value")
        return column.in_(select(each.c.value))
    return column.in_(values)


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
                .where(in_list(session, _T.c.id, part), _T.c.state == PS(source), *conditions)
                .values(**values)
                .returning(_T.c.id, _T.c.number, _T.c.version)
            )
            fired += [
                Fired(pid, number, str(source), str(target), version)
                for pid, number, version in session.execute(stmt)
            ]
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
    last: Mapping[int, tuple[int, str]] | None = None,
) -> dict[int, int]:
    """Append one audit event per case, continuing each case's seq and hash chain, in one bulk insert.
    Returns each case's new event seq.

    ``last`` is each case's last (seq, hash) when the caller read it already (``last_events``); a case
    that gained an event since then makes the insert fail on the unique (kind, case, seq), never a fork."""
    if not fired:
        return {}
    if last is None:
        last = last_events(session=session, kind=kind, ids=[f.id for f in fired])
    # The fields every event of the batch shares are checked and formatted once; hashed_fields formats
    # the same ``at`` per row, which was a tenth of the sweep's Python time.
    role = str(actor.role)
    at = now.astimezone(dt.UTC).isoformat(timespec="microseconds")
    shared = {"kind": kind, "event": event, "actor": actor.id, "actor_name": actor.name, "role": role,
              "at": at, "run": actor.flow_run_id}  # fmt: skip
    plain = _plain_json(shared)
    # Rows in driver form straight away: a dict per row converted column by column in insert_rows cost
    # more than building the row.
    dialect = session.get_bind().dialect.name
    stamp = column_converter(_E, "at", dialect)(now)
    to_json = column_converter(_E, "data", dialect)
    out: list[tuple[Any, ...]] = []
    for f in fired:
        seq, prev = last.get(f.id, (0, ""))
        seq += 1
        from_state = f.from_state or None
        row_note = note(f) if note else None
        row_data = data(f) if data else {}
        fields = {"kind": kind, "case": f.id, "seq": seq, "event": event, "from": from_state,
                  "to": f.to_state, "actor": actor.id, "actor_name": actor.name, "role": role, "at": at,
                  "note": row_note, "data": row_data, "run": actor.flow_run_id}  # fmt: skip
        out.append((
            f.id, f.number, seq, from_state, f.to_state, row_note, to_json(row_data),
            key(f) if key else None, prev, _chain_hash(prev, fields, plain),
        ))  # fmt: skip
    # The batch's shared values are bound once per statement, not once per row.
    shared_row = {"case_kind": kind, "event": event, "actor_id": actor.id, "actor_name": actor.name,
                  "actor_role": role, "at": stamp, "flow_run_id": actor.flow_run_id}  # fmt: skip
    insert_converted_shared(session, _E, shared_row, _EVENT_COLUMNS, out)
    return {row[0]: row[2] for row in out}


# An event's own columns (write_events binds the others once per statement).
_EVENT_COLUMNS = (
    "case_id", "case_number", "seq", "from_state", "to_state", "note", "data", "idempotency_key",
    "prev_hash", "hash",
)  # fmt: skip


def _chain_hash(prev: str, fields: dict[str, Any], shared_plain: bool) -> str:
    """``event_hash(prev, fields)``, byte for byte; when the batch's shared fields are plain JSON only this
    event's own values need checking before orjson writes the canonical form directly."""
    if (
        shared_plain
        and type(fields["case"]) is int
        and type(fields["seq"]) is int
        and _plain_json(fields["from"])
        and _plain_json(fields["to"])
        and _plain_json(fields["note"])
        and _plain_json(fields["data"])
    ):
        try:
            return hashlib.sha256(
                prev.encode() + orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
            ).hexdigest()
        except orjson.JSONEncodeError:
            pass  # an integer beyond 64 bits: the standard library's form, as event_hash writes it
    return event_hash(prev, fields)


def last_events(*, session: Session, kind: str, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """Each case's last event as (seq, hash); cases without events are absent."""
    last: dict[int, tuple[int, str]] = {}
    for part in chunks(ids):
        # Every event of these cases in (case, seq) order, the last one kept: a range scan of the unique
        # (kind, case, seq) index on both databases. The GROUP BY max(seq) join it replaces made
        # PostgreSQL hash-join all 2 million events (30 s a batch over a million pledges).
        stmt = (
            select(_E.c.case_id, _E.c.seq, _E.c.hash)
            .where(_E.c.case_kind == kind, in_list(session, _E.c.case_id, part))
            .order_by(_E.c.case_id, _E.c.seq)
        )
        last.update({case_id: (seq, digest) for case_id, seq, digest in session.execute(stmt)})
    return last


def existing_keys(*, session: Session, keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        stmt = select(_E.c.idempotency_key).where(in_list(session, _E.c.idempotency_key, part))
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
        _T.c.authority_id, _T.c.publication_day, _T.c.calendar_version, _T.c.state, _T.c.version,
    ]  # fmt: skip
    result: dict[int, Any] = {}
    for part in chunks(ids):
        result.update(
            {r.id: r for r in session.execute(select(*cols).where(in_list(session, _T.c.id, part)))}
        )
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

    Everything that does not depend on the breach numbers is worked out from reads made before the first
    write, so the batch holds SQLite's write lock (or PostgreSQL's row locks) about a quarter less long. A
    pledge whose version moved between those reads and the compare-and-set is read again inside the
    transaction; an event appended without a version change fails the batch on the unique (kind, case,
    seq), and ``run_batch`` retries it.
    """
    del calendar
    now = now or utcnow()
    departments = department_names(session)
    plan = _plan_publications(session, ids, today, severity, departments, now)
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
    stale = [f.id for f in fired if f.id not in plan or plan[f.id].version + 1 != f.version]
    if stale:
        # Read again after the compare-and-set, so in its new state: every one of them is due.
        plan.update(_plan_publications(session, stale, None, severity, departments, now))
    numbers = [n for _, n in reserve_numbers(session=session, prefix=BREACH_PREFIX, year=today.year,
                                             count=len(fired))]  # fmt: skip
    number_of = {f.id: n for f, n in zip(fired, numbers, strict=True)}
    inserted = _insert_breaches(
        session, [(n, *plan[f.id].breach) for f, n in zip(fired, numbers, strict=True)], numbers
    )
    fired = [f for f in fired if f.id in inserted]
    write_events(
        session=session,
        kind="pledge",
        fired=fired,
        event="publish",
        actor=actor,
        now=now,
        key=lambda f: f"pledge:{f.id}:publish",
        data=lambda f: {"record_number": number_of[f.id], "publication_day": plan[f.id].day},
        last={f.id: plan[f.id].last for f in fired},
    )
    created = [Fired(inserted[f.id], number_of[f.id], "", str(BreachState.PUBLISHED)) for f in fired]
    write_events(
        session=session,
        kind="breach",
        fired=created,
        event="create",
        actor=actor,
        now=now,
        data=lambda _: {"source": "pledge"},
    )
    _insert_published_mails(session, [(plan[f.id], number_of[f.id]) for f in fired], actor, now)
    _insert_publish_documents(session, [(plan[f.id], number_of[f.id], inserted[f.id]) for f in fired], now)
    return len(fired)


@dataclass
class _Planned:
    """One pledge's publication as far as it can be prepared before the breach number is known."""

    version: int
    last: tuple[int, str]  # the pledge's last audit event (seq, hash), or (0, "")
    day: str | None  # the publication day as the publish event records it
    # The breach row after its number (the columns of _BREACH_COLUMNS[1:]), in driver form.
    breach: tuple[Any, ...]
    # The platform document's record (public_fields) but for its number, under "record_number".
    payload: dict[str, Any]
    mail: tuple[Any, ...]  # (pledge id, pledge number, pledgor's name, e-mail, matter, decided, end)


_BREACH_COLUMNS = (
    "number", "source_kind", "pledge_id", "complaint_id", "subject_kind", "subject_name",
    "subject_credit_code", "matter", "facts", "basis", "department_id", "severity", "decision_date",
    "publication_end", "repair_earliest", "state", "version", "stage_seq", "stage_deadline", "created_at",
    "updated_at",
)  # fmt: skip
_MAIL_COLUMNS = (
    "template", "recipient_kind", "recipient_name", "recipient_email", "case_kind", "case_id",
    "case_number", "context", "status", "attempts", "next_attempt_at", "last_error", "idempotency_key",
    "created_at", "sent_at", "flow_run_id",
)  # fmt: skip
_DOCUMENT_SHARED = ("kind", "status", "attempts", "next_attempt_at", "last_error", "created_at", "sent_at")


def _plan_publications(
    session: Session,
    ids: Sequence[int],
    today: dt.date | None,
    severity: Severity,
    departments: Mapping[int, tuple[str, str]],
    now: dt.datetime,
) -> dict[int, _Planned]:
    """Read-only: the pledges among ``ids`` that are publishable ``today`` (all of them when None), with
    their rows prepared."""
    c = _T.c
    cols = [
        c.id, c.number, c.pledgor_kind, c.pledgor_name, c.pledgor_credit_code, c.pledgor_email, c.matter,
        c.obligation, c.deadline, c.legal_basis, c.authority_id, c.publication_day, c.state, c.version,
    ]  # fmt: skip
    rows: list[Any] = []
    for part in chunks(ids):
        # Tuples, not attribute access on each row: these reads are a tenth of the sweep's Python time.
        rows += session.execute(select(*cols).where(in_list(session, c.id, part))).tuples().all()
    due = [
        row
        for row in rows
        if today is None or (row[12] in PUBLISHABLE and row[11] is not None and row[11] <= today)
    ]
    last = last_events(session=session, kind="pledge", ids=[row[0] for row in due])
    # Values every breach row of the batch shares, converted once, as insert_rows would convert them.
    dialect = session.get_bind().dialect.name
    table = PublishedBreach.__table__  # type: ignore[attr-defined]
    convert_date = column_converter(table, "decision_date", dialect)
    stamp = column_converter(table, "created_at", dialect)(now)
    severity_value = column_converter(table, "severity", dialect)(severity)
    state = column_converter(table, "state", dialect)(BreachState.PUBLISHED)
    no_deadline = column_converter(table, "stage_deadline", dialect)(None)
    # The decision date (JDRQ) is the pledge's publication day, the day the rule fixes, also when a sweep
    # catches up later (the service was down, the calendar year was missing): the publication period
    # runs from it, so a late run never keeps a record public longer than the rule allows. The events
    # still record when the publication actually happened.
    periods: dict[dt.date, tuple[Any, Any, Any, str, str]] = {}
    templates: dict[tuple[Any, int], dict[str, Any]] = {}
    plan: dict[int, _Planned] = {}
    for (
        pid,
        number,
        kind,
        name,
        code,
        email,
        matter,
        obligation,
        deadline,
        basis,
        dept,
        decided,
        _,
        version,
    ) in due:
        if decided not in periods:
            end, earliest = publication_end(severity, decided), repair_earliest(severity, decided)
            periods[decided] = (convert_date(decided), convert_date(end), convert_date(earliest),
                                decided.isoformat(), end.isoformat())  # fmt: skip
        decided_db, end_db, earliest_db, decided_iso, end_iso = periods[decided]
        facts = (
            f"未在承诺期限内履行承诺：承诺于 {deadline.isoformat()} 前提交“{obligation}”，"
            f"逾期未履行（承诺编号 {number}）"
        )
        basis = basis or "告知承诺书"
        subject_kind = str(kind)
        template = templates.get((subject_kind, dept))
        if template is None:
            template = templates[(subject_kind, dept)] = public_fields(
                {"number": None, "subject_kind": subject_kind, "subject_name": name,
                 "subject_credit_code": code, "matter": matter, "facts": facts, "basis": basis,
                 "department_id": dept, "severity": severity, "decision_date": decided,
                 "publication_end": publication_end(severity, decided), "state": BreachState.PUBLISHED},
                departments, mask=False,
            )  # fmt: skip
        # public_fields' values that differ between records of one subject kind and department (labels and
        # codes come from the one call above); tests/test_publication_rows.py compares the documents with
        # those of the code that called public_fields per record.
        payload = template.copy()
        payload.update(record_number=None, XDR_MC=name, XDR_SHXYM=code, matter=matter, facts=facts,
                       basis=basis, JDRQ=decided_iso, GSJZQ=end_iso)  # fmt: skip
        breach = (
            "pledge", pid, None, subject_kind, name, code, matter, facts, basis, dept, severity_value,
            decided_db, end_db, earliest_db, state, 1, 0, no_deadline, stamp, stamp,
        )  # fmt: skip
        plan[pid] = _Planned(
            version=version,
            last=last.get(pid, (0, "")),
            day=decided_iso,
            breach=breach,
            payload=payload,
            mail=(pid, number, name, email, matter, decided_iso, end_iso),
        )
    return plan


def _insert_breaches(session: Session, rows: list[tuple[Any, ...]], numbers: list[str]) -> dict[int, int]:
    """INSERT … ON CONFLICT (pledge_id) DO NOTHING of rows of _BREACH_COLUMNS in driver form; returns
    {pledge_id: breach_id} of rows inserted."""
    table = PublishedBreach.__table__  # type: ignore[attr-defined]
    insert_converted(session, table, _BREACH_COLUMNS, rows, on_conflict_do_nothing=["pledge_id"])
    # The numbers were reserved for this batch alone, so the rows carrying them are the ones inserted
    # here (a pledge another sweep published keeps that sweep's number).
    inserted: dict[int, int] = {}
    for start in range(0, len(numbers), _CHUNK):
        part = numbers[start : start + _CHUNK]
        stmt = select(table.c.pledge_id, table.c.id).where(in_list(session, table.c.number, part))
        inserted.update(list(session.execute(stmt).tuples()))
    return inserted


def _insert_published_mails(
    session: Session, planned: list[tuple[_Planned, str]], actor: Actor, now: dt.datetime
) -> None:
    """The pledgors' ``pledge_published`` mails, the rows ``outbox_row`` makes, in driver form."""
    if not planned:
        return
    table = _Notification.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    to_json = column_converter(table, "context", dialect)
    # outbox_row's columns for a recipient with and without an address, converted once; a row takes the
    # recipient, case and context of its own.
    shapes = {}
    for email in ("-", None):
        shape = outbox_row(
            template="pledge_published", recipient_kind="pledgor", recipient_name="", recipient_email=email,
            key="", now=now, case_kind="pledge", case_id=0, case_number="", flow_run_id=actor.flow_run_id,
            context={},
        )  # fmt: skip
        shapes[email is not None] = tuple(
            column_converter(table, name, dialect)(shape[name]) for name in _MAIL_COLUMNS
        )
    rows = []
    for p, record_number in planned:
        pid, number, name, email, matter, decided_iso, end_iso = p.mail
        email = email or None
        context = {
            "pledge_number": number, "pledgor_name": name, "matter": matter,
            "record_number": record_number, "decision_date": decided_iso, "publication_end": end_iso,
        }  # fmt: skip
        s = shapes[email is not None]
        rows.append((
            s[0], s[1], name, email, s[4], pid, number,
            to_json(context if email else without_secrets(context)), s[8], s[9], s[10], s[11],
            f"pledge:{pid}:publish:pledge_published"[:200], s[13], s[14], s[15],
        ))  # fmt: skip
    # Skipping a mail whose key is already queued, as _insert_notifications does.
    insert_converted(session, table, _MAIL_COLUMNS, rows, on_conflict_do_nothing=["idempotency_key"])


def _insert_publish_documents(
    session: Session, planned: list[tuple[_Planned, str, int]], now: dt.datetime
) -> None:
    """The platform's ``publish`` documents, the rows ``document_row`` makes, in driver form."""
    if not planned:
        return
    table = PlatformDocument.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    to_json = column_converter(table, "payload", dialect)
    shape = document_row(kind=DocumentKind.PUBLISH, breach_id=0, number="", payload={}, now=now)
    # document_row's columns but the document's id, breach and payload, converted once and bound once.
    shared = {name: column_converter(table, name, dialect)(shape[name]) for name in _DOCUMENT_SHARED}
    kind = DocumentKind.PUBLISH.value
    rows = []
    for p, number, breach_id in planned:
        document_id = f"{number}:{kind}"
        record = p.payload
        record["record_number"] = number
        rows.append(
            (document_id, breach_id, to_json({"document_id": document_id, "kind": kind, "record": record}))
        )
    insert_converted_shared(session, table, shared, ("document_id", "breach_id", "payload"), rows)


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
            with collector_paused(), Session(engine, expire_on_commit=False) as session:
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
    # SQLite keeps one writer. A second thread preparing the next batch was tried and gained nothing: the
    # driver gives up the GIL around every row it steps through, so the writer waited for the preparing
    # thread at each one (wall time equal to CPU time, ~10 % more CPU). A second *process* preparing batch
    # N+1 (commit 440f4ea, reverted) gained 3-5 % at 100,000 publications: the writer's own SQLite work,
    # ~100 us per publication, is most of a batch, and the plan cost 30-45 ms per batch to receive.
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
