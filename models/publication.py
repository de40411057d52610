"""The pledge sweeps, set-based: mark overdue, warn, remind, publish due pledges, recompute publication days.

Every step takes a batch of pledge ids and works with a handful of statements per batch (no ORM object per
row): the state changes through ``workflow.apply_event_many`` (the lifecycle table, one compare-and-set
UPDATE per source state, the audit events through ``record_events_many``, hash-chained as ``record_event``
chains them), the mails, records and documents through ``bulk.insert_rows``. Each step is idempotent:
state changes are compare-and-set on the pledge's state, warnings carry an idempotency key, and a pledge's
breach row is protected by the UNIQUE ``pledge_id``, so repeated or concurrent sweeps add nothing twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from models.breach import Severity
from models.breach_record import department_names
from models.bulk import insert_rows
from models.calendar import WorkCalendar, load_calendar
from models.clock import iso_date, utcnow
from models.errors import OutOfCalendarCoverage
from models.gcpause import collector_paused
from models.id_sets import chunks, in_list
from models.lifecycle import BreachState, PledgeState
from models.numbering import BREACH_PREFIX, reserve_numbers_apart
from models.outbox import Notification, outbox_rows
from models.pledge import Pledge

# Callers find the publication days here too (the sweep recomputes the pending ones).
from models.publication_days import OPEN_STATES as OPEN_STATES
from models.publication_days import compute_publication_day as compute_publication_day
from models.publication_days import recompute_publication_days as recompute_publication_days
from models.publish_plan import (
    PUBLISHABLE,
    Planned,
    held,
    insert_breaches,
    insert_notices,
    late_evidence,
    plan_publications,
    pledge_version,
    publishable,
    record_id,
    why_published,
)
from models.settings import get_settings
from models.workflow import Actor, Fired, apply_event_many, record_events_many

PS = PledgeState
_T = Pledge.__table__  # type: ignore[attr-defined]


def _pledges(session: Session, ids: Sequence[int]) -> dict[int, Any]:
    """The pledge columns the steps' mails and events need, by id."""
    cols = [
        _T.c.id, _T.c.number, _T.c.pledgor_name, _T.c.pledgor_email, _T.c.pledgor_phone, _T.c.matter,
        _T.c.obligation,
        _T.c.deadline, _T.c.publication_day, _T.c.state, _T.c.evidence_submitted_on,
    ]  # fmt: skip
    result: dict[int, Any] = {}
    for part in chunks(ids):
        result.update(
            {r.id: r for r in session.execute(select(*cols).where(in_list(session, _T.c.id, part))).all()}
        )
    return result


def _notify(
    session: Session,
    *,
    template: str,
    fired: Sequence[Fired],
    info: Mapping[int, Any],
    key: Callable[[Fired], str],
    context: Callable[[Fired], dict[str, Any]],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """The pledgors' ``template`` notice for each of ``fired`` (by e-mail, SMS or both, as ``outbox_rows``
    decides), in one insert that skips a row whose key is already queued: a notice already queued for the
    same occurrence must not fail the whole batch (and, through run_batch's retries, the whole sweep)."""
    rows = [
        row
        for f in fired
        for row in outbox_rows(
            template=template,
            recipient_kind="pledgor",
            recipient_name=info[f.id].pledgor_name,
            recipient_email=info[f.id].pledgor_email,
            recipient_phone=info[f.id].pledgor_phone,
            key=f"{key(f)}:{template}",
            context=context(f),
            now=now,
            case_kind="pledge",
            case_id=f.id,
            case_number=f.number,
            flow_run_id=actor.flow_run_id,
        )  # fmt: skip
    ]
    insert_rows(session, Notification.__table__, rows, on_conflict_do_nothing=["idempotency_key"])  # type: ignore[attr-defined]


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
    """Registered pledges whose deadline has passed become overdue; the pledgor is told the day.

    A catch-up sweep on or after the publication day does not send the overdue notice ("will be published
    on …") in the same minute as the publication notice: its moment has passed, so the event records it
    as skipped (``notice_skipped``) and no mail is queued.
    """
    del calendar  # same signature as the other steps
    now = now or utcnow()
    fired = apply_event_many(
        session=session, kind="pledge", ids=ids, event="mark_overdue", actor=actor, now=now,
        where=[_T.c.deadline < today], record=False,
    )  # fmt: skip
    info = _pledges(session, [f.id for f in fired])
    late = {f.id for f in fired if (info[f.id].publication_day or dt.date.max) <= today}
    seqs = record_events_many(
        session=session, kind="pledge", cases=fired, event="mark_overdue", actor=actor, now=now,
        data=lambda f: {
            "deadline": info[f.id].deadline.isoformat(),
            **({"notice_skipped": "pledge_overdue", "skipped_reason": "publication_day_reached"}
               if f.id in late else {}),
        },
    )  # fmt: skip
    _notify(
        session, template="pledge_overdue", fired=[f for f in fired if f.id not in late], info=info,
        actor=actor, now=now,
        # Overdue again after rejected evidence: one mail per occurrence (its event's seq).
        key=lambda f: f"pledge:{f.id}:overdue:{seqs[f.id]}",
        context=lambda f: {
            "pledge_number": f.number, "pledgor_name": info[f.id].pledgor_name, "matter": info[f.id].matter,
            "obligation": info[f.id].obligation, "deadline": info[f.id].deadline.isoformat(),
            "publication_day": iso_date(info[f.id].publication_day),
        },
    )  # fmt: skip
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
    days = sorted(get_settings().pledge_warning_days)
    info = _pledges(session, ids)
    due: dict[int, int] = {}
    left: dict[int, int] = {}
    for pid, p in info.items():
        if p.state not in PUBLISHABLE or p.publication_day is None or p.publication_day <= today:
            continue
        if held(p):
            continue  # evidence under review: not published on its day, so not warned that it will be
        reached = [k for k in days if k <= calendar.working_days_between(p.deadline, today)]
        if reached:
            due[pid] = reached[-1]
            left[pid] = calendar.working_days_between(today, p.publication_day)
    return _send_notices(
        session, event="warn", template="pledge_prepublication", info=info, actor=actor, now=now or utcnow(),
        keys={pid: f"pledge:{pid}:warn:{k}" for pid, k in due.items()},
        data=lambda f: {"overdue_working_day": due[f.id], "working_days_left": left[f.id]},
        context=lambda f: {
            "pledge_number": f.number, "pledgor_name": info[f.id].pledgor_name, "matter": info[f.id].matter,
            "deadline": info[f.id].deadline.isoformat(),
            "publication_day": iso_date(info[f.id].publication_day), "working_days_left": left[f.id],
        },
    )  # fmt: skip


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
    return _send_notices(
        session, event="remind", template="pledge_reminder", info=info, actor=actor, now=now or utcnow(),
        keys={pid: f"pledge:{pid}:remind:{before}" for pid in left},
        data=lambda f: {"working_days_left": left[f.id]},
        context=lambda f: {
            "pledge_number": f.number, "pledgor_name": info[f.id].pledgor_name, "matter": info[f.id].matter,
            "obligation": info[f.id].obligation, "deadline": info[f.id].deadline.isoformat(),
            "working_days_left": left[f.id], "deadline_today": info[f.id].deadline == today,
        },
    )  # fmt: skip


def _send_notices(
    session: Session,
    *,
    event: str,
    template: str,
    info: Mapping[int, Any],
    keys: Mapping[int, str],
    data: Callable[[Fired], dict[str, Any]],
    context: Callable[[Fired], dict[str, Any]],
    actor: Actor,
    now: dt.datetime,
) -> int:
    """A warning or a reminder: the ``event`` (no state change, keyed so a re-run adds nothing) on each
    pledge of ``keys`` and the pledgor's ``template`` mail."""
    fired = apply_event_many(
        session=session, kind="pledge", ids=list(keys), event=event, actor=actor, now=now,
        idempotency_key=keys.__getitem__, data=data,
    )  # fmt: skip
    _notify(session, template=template, fired=fired, info=info, key=lambda f: keys[f.id], context=context,
            actor=actor, now=now)  # fmt: skip
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

    A due pledge whose evidence awaits the authority's decision is not published: it gets one
    ``hold_publication`` event per review (``publish_plan.held``), saying why, and the publish event says
    why the others were published (RULEBOOK pledges §3).

    The rows are prepared from reads made before the first write (``publish_plan``). A pledge whose
    version moved between those reads and the compare-and-set is read again inside the transaction; an
    event appended without a version change fails the batch on the unique (kind, case, seq), and
    ``run_batch`` retries it.
    """
    del calendar
    now = now or utcnow()
    plan = plan_publications(session, ids, today)
    holds = {pid: p for pid, p in plan.items() if held(p.pledge)}
    fired = apply_event_many(
        session=session, kind="pledge", ids=[i for i in ids if i not in holds], event="publish", actor=actor,
        now=now, record=False,
        where=[_T.c.publication_day.is_not(None), _T.c.publication_day <= today, publishable()],
    )  # fmt: skip
    _hold(session, holds, actor, now)
    if not fired:
        return 0
    stale = [f.id for f in fired if f.id not in plan or pledge_version(plan[f.id].pledge) + 1 != f.version]
    if stale:
        # Read again after the compare-and-set, so in its new state: every one of them is due.
        plan.update(plan_publications(session, stale, None))
    # Committed apart on PostgreSQL: held to the end of the batch, the counter's row lock made the
    # concurrent batches publish one after another. A batch rolled back leaves a gap (numbers are unique
    # per year, not gap-free: models/numbering.py).
    reserved = reserve_numbers_apart(session=session, prefix=BREACH_PREFIX, year=today.year, count=len(fired))
    number_of = {f.id: number for f, (_, number) in zip(fired, reserved, strict=True)}
    inserted = insert_breaches(session, [(plan[f.id], number_of[f.id]) for f in fired], severity, now)
    fired = [f for f in fired if f.id in inserted]

    def published_data(f: Fired) -> dict[str, Any]:
        p = plan[f.id]
        return {"record_number": number_of[f.id], "publication_day": p.day, **why_published(p, f.from_state)}

    record_events_many(
        session=session, kind="pledge", cases=fired, event="publish", actor=actor, now=now,
        idempotency_key=lambda pid: f"pledge:{pid}:publish", data=published_data,
        last={f.id: plan[f.id].last for f in fired},
    )  # fmt: skip
    state = BreachState.PUBLISHED.value
    created = [Fired(record_id(inserted[f.id]), number_of[f.id], None, state) for f in fired]
    record_events_many(session=session, kind="breach", cases=created, event="create", actor=actor, now=now,
                       data={"source": "pledge"})  # fmt: skip
    published = [(plan[f.id], inserted[f.id]) for f in fired]
    insert_notices(session, published, department_names(session), actor, now)
    return len(fired)


def _hold(session: Session, holds: Mapping[int, Planned], actor: Actor, now: dt.datetime) -> None:
    """The ``hold_publication`` event on each due pledge whose evidence awaits the authority's decision: once
    per review (its stage) and publication day, so a pledge held for several nights has one event."""
    if not holds:
        return
    keys = {pid: f"pledge:{pid}:hold:stage{p.pledge.stage_seq}:{p.day}" for pid, p in holds.items()}
    late_rule = get_settings().pledge_late_evidence_rule
    apply_event_many(
        session=session, kind="pledge", ids=sorted(holds), event="hold_publication", actor=actor, now=now,
        where=[_T.c.state == PS.EVIDENCE_SUBMITTED], idempotency_key=keys.__getitem__,
        data=lambda f: {
            "publication_day": holds[f.id].day, "reason": "evidence_under_review",
            "evidence_submitted_on": iso_date(holds[f.id].pledge.evidence_submitted_on),
            "late": late_evidence(holds[f.id].pledge),
            **({"late_evidence_rule": late_rule} if late_evidence(holds[f.id].pledge) else {}),
            "review_deadline": iso_date(holds[f.id].pledge.stage_deadline),
        },
    )  # fmt: skip


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
        # A dry run counts what would be published (registered ones would be overdue first); a real run
        # also takes the pledges under review that are due, to record why they are held.
        states = or_(publishable(), c.state == PS.REGISTERED) if dry_run else c.state.in_(PUBLISHABLE)
        cond = and_(states, c.publication_day <= today)
    elif step == "warn":
        # Overdue, not yet at the publication day: deadlines within the last N working days.
        low = _working_days_back(calendar, today, get_settings().publication_working_days + 1)
        states = (*PUBLISHABLE, PS.REGISTERED) if dry_run else PUBLISHABLE
        cond = and_(c.state.in_(states), c.deadline < today, c.deadline >= low, c.publication_day > today)
    elif step == "remind":
        before = get_settings().pledge_reminder_days_before
        if before == 0:
            return []
        # Past the loaded holiday notices (late December) the window ends on the last loaded day: the
        # deadlines beyond it are reminded once their year is loaded, and the sweep's other steps go on.
        high = calendar.horizon(today, before)
        cond = and_(c.state == PS.REGISTERED, c.deadline >= today, c.deadline <= high)
    else:
        raise ValueError(f"unknown sweep step {step!r}")
    # Sorted here, not by ORDER BY: with ORDER BY id SQLite walks the whole table in rowid order instead of
    # the covering (state, date) index, and a sweep with nothing due took seconds over a million pledges.
    return sorted(session.execute(select(c.id).where(cond)).scalars().all())


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


def recompute_pending(*, engine: Engine, actor: Actor, today: dt.date | None = None) -> int:
    """Pending publication days get their date once the year is loaded, the grace after ``today`` kept."""
    with Session(engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        done = recompute_publication_days(
            session=session, calendar=calendar, actor=actor, only_pending=True, today=today
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
    report.counts["recompute"] = 0 if dry_run else recompute_pending(engine=engine, actor=actor, today=today)
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
