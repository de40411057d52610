"""Which deadline-warning steps (黄牌/红牌预警, 催办, 督办, 提级办理) are due for a stage on a given day.

One rule for every supervised stage, whether a complaint's (models/complaints/) or a register record's
objection or repair decision (models/breach_supervision.py). RULEBOOK (complaints §6–7): a yellow warning
one working day before a deadline, a red one on the first working day after it, then chasing (催办),
formal supervision (督办) and escalation (提级办理). ``due_steps`` is pure (no session, no clock);
``supervise_each`` is the batch loop the supervision services share, ``climb`` fires a case's due steps
as its lifecycle events, and ``notify_stage`` tells a stage's department and the supervisors of a step.
``held_steps`` names what waits while today's year has no holiday notice, and ``known_late_floor`` is
the earliest date a deadline or publication day dated only by a late notice may have.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.accounts import active_supervisors
from models.audit import CaseEvent
from models.calendar import CalendarYear, WorkCalendar, load_calendar
from models.clock import Clock, iso_date
from models.errors import Conflict, OutOfCalendarCoverage
from models.id_sets import chunks, in_list
from models.lifecycle import LIFECYCLES, Lifecycle
from models.org import Department
from models.outbox import enqueue
from models.settings import get_settings
from models.workflow import Actor, apply_event, lifecycle_of

log = logging.getLogger(__name__)

Case = TypeVar("Case")

# The lifecycle event each step fires; the other steps (remind, supervise, escalate) are events by name.
STEP_EVENTS = {"yellow": "warn_yellow", "red": "warn_red"}


# The supervision steps, lowest first (催办 < 督办 < 提级办理): a stage that had one, by the flow or by a
# supervisor's hand, is not sent it or a lower one again.
LADDER = ("remind", "supervise", "escalate")


def step_event(step: str) -> str:
    return STEP_EVENTS.get(step, step)


def due_steps(
    *,
    deadline: dt.date | None,
    today: dt.date,
    calendar: WorkCalendar,
    supervise_after: int | None = None,
    escalate_after: int | None = None,
) -> list[str]:
    """The steps due on ``today`` (a working day) for a stage due on ``deadline``, in order.

    ``yellow`` from ``SHOUXIN_YELLOW_WARNING_WORKING_DAYS`` working days before the deadline (the last
    working day before it, by default) through the deadline itself (a run catches up a missed day, but
    never warns yellow once red is due); once overdue by n working days (counted
    strictly after the deadline): ``red`` and ``remind`` at n >= 1, ``supervise`` at n >=
    ``supervise_after`` and ``escalate`` at n >= ``escalate_after`` where the stage has those steps
    (None: it has not). Steps already taken are filtered out by the callers' idempotency keys, so "due"
    may include old ones.
    """
    if deadline is None:
        return []
    if today <= deadline:
        lead = get_settings().yellow_warning_working_days
        return ["yellow"] if calendar.working_days_between(today, deadline) <= lead else []
    overdue = calendar.working_days_between(deadline, today)
    steps = ["red", "remind"] if overdue >= 1 else []
    if supervise_after is not None and overdue >= supervise_after:
        steps.append("supervise")
    if escalate_after is not None and overdue >= escalate_after:
        steps.append("escalate")
    return steps


def supervise_each(
    *,
    session: Session,
    model: type[Case],
    ids: Sequence[int],
    states: Collection[str],
    today: dt.date,
    calendar: WorkCalendar,
    supervise: Callable[[Case], int],
) -> int:
    """Run ``supervise`` (which returns how many steps it applied) on each case still in one of ``states``.

    On a non-working day nothing new is due (a Sunday run adds nothing a working day would not). Each
    case is applied in a savepoint of the caller's transaction (the flow task commits the batch); one
    that another run or person changed meanwhile (a stale version, or a step's idempotency key taken
    first) is rolled back to its savepoint and left for the next run.
    """
    workday = calendar.is_workday_if_known(today)
    if workday is None:
        # Which days are working days is not known before the year's notice is loaded, and every step is
        # counted in working days overdue, which the mails state: none is sent on a guess, not even for a
        # case late since last year (its 红牌 and 催办 went out on the last year's working days; 督办 and
        # 提级办理 need this year's). They wait for the notice, and the supervisors see which do
        # (models/pending_deadlines.py ``supervision_hold``, the dashboard); on the day it is loaded a
        # case whose several steps fell due meanwhile is sent the highest (``climb``, ``_folded``).
        log.warning(
            "%s 年节假日安排尚未载入工作日历，期限督办暂停，载入后恢复 (no %s notice: supervision waits)",
            today.year,
            today.year,
        )
        return 0
    if not workday:
        return 0
    applied = 0
    for case_id in ids:
        case: Any = session.get(model, case_id)
        if case is None or case.state not in states:
            continue
        try:
            with session.begin_nested():  # flushed when the savepoint is released
                steps = supervise(case)
        except (Conflict, IntegrityError):
            continue  # the savepoint is rolled back: this case wrote nothing
        applied += steps  # only once its savepoint is released: a rolled-back case applied nothing
    return applied


def climb(
    *,
    session: Session,
    case: Any,
    steps: Sequence[str],
    key: str,
    actor: Actor,
    today: dt.date,
    data: Mapping[str, Any],
    notify: Callable[[CaseEvent, str], None],
    events: Mapping[str, str] = STEP_EVENTS,
    restarts: Collection[str] = (),
) -> int:
    """Fire each of ``steps`` (``due_steps``'s answer) on ``case`` as the lifecycle event ``events`` names
    it (a step not named there is an event by its own name), recording ``data``; returns how many were
    applied.

    Each step's idempotency key is ``{key}:{step}`` (``key`` names the case and its stage), so a step
    already taken is skipped; ``notify(event, step)`` runs after each step that was applied. A supervision
    step (``LADDER``) is skipped too when the stage already had it or a higher one from a supervisor's
    hand, which writes no key: the department is not sent a second 督办 for one stage (``taken_rank``;
    ``restarts``: the events that start the stage's ladder afresh without a new stage).

    Steps that fell due while the calendar could not count them (``_folded``: a January before the
    year's notice was loaded, when ``supervise_each`` holds every step) are not all sent on the day it is
    loaded: only the highest of them is, its event saying which lower ones were skipped and why."""
    applied = 0
    taken: int | None = None  # looked up once, and only when a supervision step is due
    folded = _folded(session=session, case=case, steps=steps, today=today, events=events, restarts=restarts)
    if folded is not None:
        taken = folded.taken
    for step in steps:
        rank = LADDER.index(step) + 1 if step in LADDER else 0
        if rank:
            if taken is None:
                taken = taken_rank(session=session, case=case, events=events, restarts=restarts)
            if rank <= taken or (folded is not None and step in folded.skipped):
                continue
        told = folded if folded is not None and step == folded.fired else _Fold(0)
        event = apply_event(
            session=session,
            case=case,
            event=events.get(step, step),
            actor=actor,
            today=today,
            note=told.note,
            data={**data, **told.data},
            idempotency_key=f"{key}:{step}",
        )
        if event is None:
            continue
        applied += 1
        if rank:
            taken = rank
        notify(event, step)
    return applied


@dataclass(frozen=True)
class _Fold:
    """The ladder steps due at once on a case, of which the lower ones fell due while the calendar was
    missing: ``skipped`` are not sent, ``fired`` is (the highest), with ``note`` and ``data`` saying so."""

    taken: int
    skipped: tuple[str, ...] = ()
    fired: str = ""
    note: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _folded(
    *,
    session: Session,
    case: Any,
    steps: Sequence[str],
    today: dt.date,
    events: Mapping[str, str],
    restarts: Collection[str],
) -> _Fold | None:
    """Which of several ladder steps due at once fell due while the calendar was missing; None when at
    most one ladder step is due (the usual run: nothing is read).

    The ladder is counted in working days, so ``supervise_each`` sends none while today's year has no
    notice, and on the day it is loaded the steps of that whole stretch come due together (a case late
    since December: 督办 due on 5 January, 提级办理 on the 7th, both on the 8th when the notice came).
    Sending them all at once, without a word, is a burst nobody can follow; holding the higher ones back
    would delay an escalation already due for the administrators' delay. So the highest is sent, as a
    supervisor's 提级办理 by hand supersedes the lower steps (``taken_rank``), and its event names the
    skipped ones and the day the notice was loaded. A step that fell due on a day the calendar counted
    (missed by a run that did not happen) is caught up as before.

    A step's day is counted as ``due_steps`` counts it, with the thresholds of the settings (the ones
    every supervised kind passes it). The day a year became known is when its notice was first stored:
    never for the years the chinese_calendar package covers; a corrected notice does not move it
    (``_year_known_on``)."""
    ladder = [step for step in steps if step in LADDER]
    if len(ladder) < 2:
        return None
    taken = taken_rank(session=session, case=case, events=events, restarts=restarts)
    untaken = [step for step in ladder if LADDER.index(step) + 1 > taken]
    deadline = getattr(case, "stage_deadline", None)
    if len(untaken) < 2 or deadline is None:
        return _Fold(taken)
    calendar = load_calendar(session=session)
    skipped: list[str] = []
    loaded: list[dt.date] = []
    for step in untaken[:-1]:
        due = calendar.nth_working_day_after(deadline, _overdue_at(step))
        known_on = _year_known_on(session, due.year, today)
        if known_on is not None and due < known_on:
            skipped.append(step)
            loaded.append(known_on)
    if not skipped:
        return _Fold(taken)
    fired = untaken[-1]
    lifecycle = lifecycle_of(case)
    label = lifecycle.transition(events.get(fired, fired)).label
    names = "、".join(lifecycle.transition(events.get(step, step)).label for step in skipped)
    on = max(loaded)
    note = (
        f"{on.year} 年节假日安排于 {on.isoformat()} 载入工作日历，此前超期工作日无法计算，期间到期的{names}"
        f"未能发出，不再补发；现直接{label}（已到期的最高一级）"
    )  # Chinese only: the department's notice carries it (models/complaints/supervision.py)
    data = {"skipped_steps": skipped, "skipped_reason": "calendar_missing",
            "calendar_loaded_on": on.isoformat()}  # fmt: skip
    return _Fold(taken, tuple(skipped), fired, note, data)


def _overdue_at(step: str) -> int:
    """The working days overdue at which ``due_steps`` makes ``step`` due (with the settings' thresholds)."""
    settings = get_settings()
    return {"supervise": settings.supervise_after_overdue_days,
            "escalate": settings.escalate_after_overdue_days}.get(step, 1)  # fmt: skip


def _year_known_on(session: Session, year: int, today: dt.date) -> dt.date | None:
    """The day ``year``'s working days became known (its first notice stored, Asia/Shanghai; a correction
    loaded later does not move it, models/calendar.py ``save_year_notice`` says why); None when they
    always were (a year of the chinese_calendar package).

    With a pinned today (``SHOUXIN_TODAY``: demos, drills) the stored time is the machine's, off the
    drill's timeline: the year is then taken as known from ``today``, the run's day, at the latest."""
    if WorkCalendar().covers(year):
        return None
    row = session.get(CalendarYear, year)
    if row is None:
        return None
    first = row.first_loaded_at
    moment = first if first.tzinfo is not None else first.replace(tzinfo=dt.UTC)
    clock = Clock.from_settings()
    stored = clock.local_date(moment)
    return max(stored, today) if clock.pinned_today is not None else stored


def taken_rank(
    *, session: Session, case: Any, events: Mapping[str, str] = STEP_EVENTS, restarts: Collection[str] = ()
) -> int:
    """The highest supervision step (1 催办, 2 督办, 3 提级办理; 0 none) the case's current stage had.

    The stage is the one its key names (``stage_seq``): its events are those after the last one that
    started a stage — the case's creation or a move to another state — other than pausing and resuming,
    which keep the stage (the paused clock resumes it, ``keep_stage``), or after the last of ``restarts``
    (an approved extension: the extended deadline's ladder is keyed apart, ``:extended``)."""
    lifecycle = lifecycle_of(case)
    rows = session.exec(
        select(CaseEvent.event, CaseEvent.from_state, CaseEvent.to_state)
        .where(CaseEvent.case_kind == lifecycle.kind, CaseEvent.case_id == case.id)
        .order_by(col(CaseEvent.seq).desc())
    )
    return _rank(stage_event_names(rows, lifecycle, restarts), events)


def stage_event_names(rows: Iterable[Any], lifecycle: Lifecycle, restarts: Collection[str] = ()) -> set[str]:
    """The names of the events of a case's current stage (``taken_rank`` says which), from ``rows``: its
    (event, from_state, to_state), newest first."""
    paused = {s.name for s in lifecycle.states if s.clock_paused}
    names: set[str] = set()
    for name, from_state, to_state in rows:
        names.add(name)
        moved = from_state != to_state and from_state not in paused and to_state not in paused
        if from_state is None or moved or name in restarts:
            break
    return names


def _rank(names: Collection[str], events: Mapping[str, str]) -> int:
    ranks = {events.get(step, step): i for i, step in enumerate(LADDER, start=1)}
    return max((ranks.get(name, 0) for name in names), default=0)


def next_step(names: Collection[str], *, top: str, events: Mapping[str, str] = STEP_EVENTS) -> str | None:
    """The step a stage whose events are ``names`` (``stage_event_names``) would be sent next once overdue:
    the red warning, then the ladder up to ``top`` (the highest step the kind has); None when it had all."""
    if events.get("red", "red") not in names:
        return "red"
    ladder = LADDER[: LADDER.index(top) + 1]
    taken = _rank(names, events)
    return ladder[taken] if taken < len(ladder) else None


def notify_stage(
    *,
    session: Session,
    kind: str,
    case: Any,
    event: CaseEvent,
    template: str,
    department: Department | None,
    supervisors: bool,
    context: dict[str, Any],
    pressed_by: int | None = None,
) -> None:
    """Queue ``template`` about a step (``event``) for the stage's ``department`` and, with ``supervisors``,
    every active supervisor but the one who pressed it by hand (``pressed_by``: they know already); each
    row is keyed by the case, the event and the recipient."""
    recipients: list[tuple[str, str, str | None, str]] = []
    if department is not None:
        recipients.append(("department", department.name, department.email, f"dept{department.id}"))
    if supervisors:
        recipients += [
            ("supervisor", u.name, u.email, f"user{u.id}")
            for u in active_supervisors(session=session)
            if pressed_by is None or u.id != pressed_by
        ]
    for recipient_kind, name, email, recipient_key in recipients:
        enqueue(
            session=session,
            template=template,
            recipient_kind=recipient_kind,
            recipient_name=name,
            recipient_email=email,
            key=f"{kind}:{case.id}:{event.seq}:{template}:{recipient_key}",
            context=context,
            case_kind=kind,
            case_id=case.id,
            case_number=case.number,
            flow_run_id=event.flow_run_id,
        )


# ---------------------------------------------------------------------------------------------------
# A date known late
# ---------------------------------------------------------------------------------------------------


def known_late_floor(calendar: WorkCalendar, today: dt.date) -> dt.date | None:
    """The earliest date a deadline or publication day that gets its date only ``today`` may have (a
    holiday notice loaded late, e.g. next year's in January): the N-th working day after ``today``
    (``pledge_rejection_grace_working_days``, the grace a late rejection of evidence gets); None while
    that day lies in a year not loaded.

    Whoever the date binds learns it only now: it is never a day already past nor one too close to act
    on — a pledgor published for the authority's delay, a department told a deadline, warned red, chased
    and supervised the same day. One rule for a pledge's publication day (models/publication_days.py) and
    a stage's deadline (models/pending_deadlines.py), audited alike (``known_late_data``)."""
    try:
        return calendar.nth_working_day_after(today, get_settings().pledge_rejection_grace_working_days)
    except OutOfCalendarCoverage:
        return None


def known_late_data(computed: dt.date, today: dt.date, reason: str) -> dict[str, Any]:
    """What the audit event of a date put later by ``known_late_floor`` records: the date the calendar
    gives, the day it became known, the grace and why (``reason``)."""
    grace = get_settings().pledge_rejection_grace_working_days
    return {"known_late": {"computed": computed.isoformat(), "known_on": today.isoformat(),
                           "grace_working_days": grace, "reason": reason}}  # fmt: skip


def known_late_note(what: str, computed: dt.date, today: dt.date, day: dt.date | None) -> str:
    """The audit note of a date put later by ``known_late_floor``; ``what`` names it (公示日, 办理期限)."""
    grace = get_settings().pledge_rejection_grace_working_days
    return (
        f"按载入的日历{what}应为 {computed.isoformat()}，但该日期于 {today.isoformat()} 方才确定，"
        f"顺延至确定之日后第 {grace} 个工作日 {iso_date(day)} "
        "(the day became known too late to act on: the grace after it is kept)"
    )


# ---------------------------------------------------------------------------------------------------
# What waits while the calendar is missing
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldStep:
    """A case whose next step (``next_step``) waits for the calendar: its overdue working days cannot be
    counted in a year without a notice (``supervise_each``)."""

    kind: str
    id: int
    number: str
    deadline: dt.date
    step: str
    label: str  # the step's event as the lifecycle names it (催办, 材料核查督办 …)


def held_steps(
    *,
    session: Session,
    model: Any,
    kind: str,
    states: Collection[str],
    today: dt.date,
    top: str,
    events: Mapping[str, str] = STEP_EVENTS,
    restarts: Collection[str] = (),
) -> list[HeldStep]:
    """The cases of ``kind`` (table ``model``) in ``states`` (the ones its supervision runs on) whose
    known deadline passed before ``today`` and whose ladder, up to ``top``, has a step left: the steps a
    run holds while today's year has no notice. The longest overdue first; their events are read in one
    query per chunk of cases."""
    lifecycle = LIFECYCLES[kind]
    t = model.__table__
    rows = session.execute(
        select(t.c.id, t.c.number, t.c.stage_deadline)
        .where(t.c.state.in_(sorted(states)), t.c.stage_deadline.is_not(None), t.c.stage_deadline < today)
        .order_by(t.c.stage_deadline, t.c.id)
    ).all()
    by_case: dict[int, list[Any]] = {}
    e = CaseEvent.__table__  # type: ignore[attr-defined]
    for part in chunks([row.id for row in rows]):
        for row in session.execute(
            select(e.c.case_id, e.c.event, e.c.from_state, e.c.to_state)
            .where(e.c.case_kind == kind, in_list(session, e.c.case_id, part))
            .order_by(e.c.case_id, e.c.seq.desc())
        ):
            by_case.setdefault(row.case_id, []).append((row.event, row.from_state, row.to_state))
    held = []
    for case_id, number, deadline in rows:
        names = stage_event_names(by_case.get(case_id, []), lifecycle, restarts)
        step = next_step(names, top=top, events=events)
        if step is not None:
            label = lifecycle.transition(events.get(step, step)).label
            held.append(HeldStep(kind, case_id, number, deadline, step, label))
    return held
