"""Deadlines that wait for the calendar (待日历确定): work goes on while next year's notice is not loaded.

"Never guess a working day" must not become "never work": a stage whose deadline lands in a year the
calendar does not cover still starts. Its deadline is stored as pending (``models.stage_deadline``: no
date, the flag, and the working days still owed counted from a known day), so the date is exact once the
year is loaded. Supervision sees no date and so nothing is due: nothing is warned, chased or escalated on
a guess.

``resolve_pending_deadlines`` gives every pending deadline of every kind (complaint stages and their
extensions, the evidence review of a pledge, a record's objection and repair decisions) its date when a
notice is loaded (models/calendar_admin.py), in the loader's transaction, one audit event per case; a
loaded year's notice corrected later moves the known deadlines it changes the same way, except that a
deadline already told never moves earlier than the told date. Either way the party the deadline binds is
told the date (``deadline_set``), as the mail that said 待日历确定 promised.
``calendar_warning`` tells administrators in time that next year is not loaded yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import func, select, update
from sqlmodel import Session

from models.breach import PublishedBreach
from models.bulk import insert_rows
from models.calendar import WorkCalendar
from models.clock import Clock, iso_date, utcnow
from models.complaint import Complaint
from models.complaints.visibility import VERIFIER, awaited_party
from models.deadlines import HeldStep, held_steps, known_late_data, known_late_floor, known_late_note
from models.errors import OutOfCalendarCoverage
from models.hotline_dated import report_deadlines_dated
from models.id_sets import chunks, in_list
from models.lifecycle import BREACH, COMPLAINT, LIFECYCLES, PledgeState, Role
from models.org import Department
from models.outbox import Notification, outbox_rows
from models.pledge import Pledge
from models.pledges.review import REVIEW_EVENTS
from models.settings import get_settings
from models.stage_deadline import PENDING_LABEL, due_day
from models.workflow import Actor, Fired, record_events_many

# The audit event that gives a pending deadline its date (not a transition: the state stays).
RESOLVED_EVENT = "deadline_resolved"
# The audit event that moves a known deadline after a loaded year's notice was corrected.
RECOMPUTED_EVENT = "deadline_recomputed"

_MODELS: dict[str, Any] = {"complaint": Complaint, "pledge": Pledge, "breach": PublishedBreach}
# The notice a dated or moved deadline sends (``_tell_bound_parties``), and what it calls each kind's case.
SET_TEMPLATE = "deadline_set"
CASE_LABELS = {"complaint": "投诉", "pledge": "告知承诺", "breach": "信用记录"}
# What ``calendar status`` and the digest call each kind's pending deadlines.
KIND_LABELS = {"complaint": "投诉办理环节", "pledge": "告知承诺材料核查", "breach": "信用记录异议/修复决定"}


@dataclass(frozen=True)
class DeadlineUpdates:
    """What dating deadlines by a loaded or corrected calendar did (``resolve_pending_deadlines``)."""

    # Deadlines dated (pending ones) or moved (a corrected notice), by kind: complaint, pledge, breach.
    counts: dict[str, int]
    # The numbers of the cases whose deadline, already told to the party it binds, moved (later).
    told_moved: list[str] = field(default_factory=list)
    # The numbers of the cases whose told deadline the calendar now puts earlier: the told date is kept.
    kept: list[str] = field(default_factory=list)


def resolve_pending_deadlines(
    *,
    session: Session,
    calendar: WorkCalendar,
    actor: Actor,
    now: dt.datetime | None = None,
    today: dt.date | None = None,
) -> DeadlineUpdates:
    """Date every open stage's deadline by ``calendar``, just loaded or corrected, in the caller's
    transaction: a pending deadline the calendar can now compute gets its date (``deadline_resolved``),
    and a known one whose working days a corrected notice moved gets the new date (``deadline_recomputed``,
    with the old one), each counted from the day and working days the stage keeps. A deadline still beyond
    the calendar stays pending.

    A known deadline the party it binds was told (``_PARTIES``: the dispatch mail, the verify request, a
    ``deadline_set``…) never moves earlier than the told date, as a pledge's publication day never moves
    earlier than the day the pledgor was told (models/publication_days.py): the department works to it,
    and an earlier date, maybe already past, would be warned red and chased the same day with no warning
    ever sent (for a rectification, towards 拒不整改). A later one still moves, audited and told.

    A pending deadline dated ``today`` (default: the Asia/Shanghai date of ``now``, or the clock's today)
    is never earlier than the grace after it (``models.deadlines.known_late_floor``), as a pending
    publication day is not: a notice loaded in January would otherwise date it days ago, and the party
    told it would be warned red, chased and supervised the day it is told. Its working days grow to reach
    the floor (so an extension or a resume counts on from it), and ``deadline_resolved`` records the date
    the calendar gives and why (``known_late``). Where the grace runs into a year not loaded, it stays
    pending.

    The update is guarded by the stage the deadline belongs to (``stage_seq``) and the date or flag it
    had, and bumps the version: a case another transaction moved meanwhile keeps its new stage's own."""
    if today is None:
        today = Clock.from_settings().local_date(now) if now is not None else Clock.from_settings().today()
    now = now or utcnow()
    counts: dict[str, int] = {}
    told_moved: list[str] = []
    kept: list[str] = []
    for kind, model in _MODELS.items():
        done = _resolve_kind(
            session=session, model=model, kind=kind, calendar=calendar, actor=actor, now=now, today=today
        )
        counts[kind] = done.dated
        told_moved += done.told_moved
        kept += done.kept
    return DeadlineUpdates(counts=counts, told_moved=told_moved, kept=kept)


class _Move(NamedTuple):
    """A stage's deadline the calendar computes differently from the stored one (None: pending)."""

    id: int
    number: str
    stage_seq: int
    start: dt.date
    days: int
    old: dt.date | None
    day: dt.date
    computed: dt.date | None = None  # the date the calendar gives, when the floor put ``day`` later


class _KindDone(NamedTuple):
    dated: int  # dated or moved
    told_moved: list[str]
    kept: list[str]


def _moves(*, session: Session, model: Any, calendar: WorkCalendar) -> list[_Move]:
    t = model.__table__
    rows = session.execute(
        select(
            t.c.id, t.c.number, t.c.stage_seq, t.c.deadline_counted_from, t.c.deadline_working_days,
            t.c.stage_deadline,
        )
        .where(
            t.c.deadline_counted_from.is_not(None),
            t.c.deadline_working_days.is_not(None),
            t.c.deadline_pending.is_(True) | t.c.stage_deadline.is_not(None),
        )
        .order_by(t.c.id)
    ).all()  # fmt: skip
    moves = []
    for case_id, number, stage_seq, start, days, old in rows:
        try:
            day = due_day(calendar, start, days)  # a resumed overdue stage owes fewer than none
        except OutOfCalendarCoverage:
            continue  # a later year still missing: it stays pending
        if day != old:
            moves.append(_Move(case_id, number, stage_seq, start, days, old, day))
    return moves


def _toward_told_date(m: _Move, calendar: WorkCalendar) -> _Move:
    """A told date the corrected calendar would bring earlier, counted again to stay: the stage's working
    days grow until the calendar reaches the told date, so whatever counts it again from its start and
    working days (an extension decided, a pause resumed: models/stage_deadline.py) lands no earlier. Where
    the correction made the told date itself a holiday, the count reaches the next working day: a later
    move, dated and told as one."""
    assert m.old is not None
    days = m.days + calendar.working_days_between(m.day, m.old)
    if due_day(calendar, m.start, days) < m.old:
        days += 1
    return m._replace(days=days, day=due_day(calendar, m.start, days))


def _known_late(moves: list[_Move], calendar: WorkCalendar, today: dt.date) -> list[_Move]:
    """``moves`` with each pending deadline the calendar dates before ``known_late_floor`` put at the
    floor, counted to reach it; one the floor cannot be computed for (its grace runs into a year not
    loaded) is left out: it stays pending until that year is loaded."""
    floor = known_late_floor(calendar, today)
    result = []
    for m in moves:
        if m.old is not None or (floor is not None and m.day >= floor):
            result.append(m)
        elif floor is not None:
            days = m.days + calendar.working_days_between(m.day, floor)
            while due_day(calendar, m.start, days) < floor:
                days += 1
            result.append(m._replace(days=days, day=due_day(calendar, m.start, days), computed=m.day))
    return result


def _resolve_kind(
    *,
    session: Session,
    model: Any,
    kind: str,
    calendar: WorkCalendar,
    actor: Actor,
    now: dt.datetime,
    today: dt.date,
) -> _KindDone:
    t = model.__table__
    moves = _known_late(_moves(session=session, model=model, calendar=calendar), calendar, today)
    parties = _PARTIES[kind](session, [m.id for m in moves]) if moves else {}
    moves = [
        _toward_told_date(m, calendar) if m.old is not None and m.day < m.old and m.id in parties else m
        for m in moves
    ]
    kept = [m for m in moves if m.day == m.old]
    for m in kept:
        session.execute(
            update(t)
            .where(t.c.id == m.id, t.c.stage_seq == m.stage_seq, t.c.stage_deadline == m.old)
            .values(deadline_working_days=m.days, version=t.c.version + 1)
        )
    keep = {m.id for m in kept}
    resolved: list[Fired] = []
    recomputed: list[Fired] = []
    dates: dict[int, _Move] = {}
    for m in moves:
        if m.id in keep:
            continue
        unchanged = t.c.deadline_pending.is_(True) if m.old is None else t.c.stage_deadline == m.old
        moved = session.execute(
            update(t)
            .where(t.c.id == m.id, t.c.stage_seq == m.stage_seq, unchanged)
            .values(stage_deadline=m.day, deadline_working_days=m.days, deadline_pending=False)
            .values(version=t.c.version + 1)
            .returning(t.c.id, t.c.number, t.c.state, t.c.version)
        ).first()
        if moved is None:
            continue
        fired = Fired(moved.id, moved.number, str(moved.state), str(moved.state), moved.version)
        (resolved if m.old is None else recomputed).append(fired)
        dates[moved.id] = m

    def data(f: Fired) -> dict[str, Any]:
        m = dates[f.id]
        moved = {"old_deadline": m.old.isoformat()} if m.old is not None else {}
        late = known_late_data(m.computed, today, "deadline_known_late") if m.computed is not None else {}
        return {"counted_from": m.start.isoformat(), "working_days": m.days, "deadline": m.day.isoformat(),
                **moved, **late, "calendar_version": calendar.version}  # fmt: skip

    def resolved_note(f: Fired) -> str:
        m = dates[f.id]
        if m.computed is not None:
            return known_late_note("办理期限", m.computed, today, m.day)
        return f"办理期限已按载入的日历确定为 {m.day.isoformat()}"

    seqs = record_events_many(
        session=session, kind=kind, cases=resolved, event=RESOLVED_EVENT, actor=actor, now=now,
        note=resolved_note, data=data,
    )  # fmt: skip
    seqs |= record_events_many(
        session=session, kind=kind, cases=recomputed, event=RECOMPUTED_EVENT, actor=actor, now=now,
        note=lambda f: f"日历更正，办理期限由 {iso_date(dates[f.id].old)} 调整为 {iso_date(dates[f.id].day)}",
        data=data,
    )  # fmt: skip
    told = [(f, dates[f.id].stage_seq, seqs[f.id], dates[f.id].day, dates[f.id].old)
            for f in [*resolved, *recomputed]]  # fmt: skip
    _tell_bound_parties(session=session, kind=kind, cases=told, parties=parties, actor=actor, now=now)
    _sync_session(session, model, list(dates))
    if kind == COMPLAINT.kind:
        report_deadlines_dated(session, seqs)  # 12345 keeps its own clock for the orders it handed in
    return _KindDone(
        dated=len(resolved) + len(recomputed),
        told_moved=[f.number for f in recomputed if f.id in parties],
        kept=[m.number for m in kept],
    )


# ---------------------------------------------------------------------------------------------------
# Telling the party a dated or moved deadline binds
# ---------------------------------------------------------------------------------------------------


class _Party(NamedTuple):
    kind: str  # the outbox's recipient kind: department, pledgor
    name: str
    email: str | None
    key: str  # tells the recipients of one case apart in the outbox key
    phone: str | None = None


# (case, its stage_seq, the seq of the audit event that dated or moved it, the new deadline, the old one:
# None when it was pending)
_Dated = tuple[Fired, int, int, dt.date, dt.date | None]


def _tell_bound_parties(
    *,
    session: Session,
    kind: str,
    cases: list[_Dated],
    parties: dict[int, list[_Party]],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """Queue ``deadline_set`` (the case, the stage, the new deadline, and why: loaded or corrected) to the
    party each case's deadline binds (``parties``, read by ``_PARTIES``), in one insert that skips a key
    already queued. The mails that gave these stages 待日历确定 promised to tell the date once the year is
    loaded (另行告知), and a party works to the date it was given, so a corrected one is told too.

    Keyed by the case, the stage and the audit event that dated or moved the deadline: a re-run moves
    nothing and so queues nothing twice. The calendar version would not do: reloading an earlier notice
    gives its hash again, and so the key of a mail already queued for another date."""
    if not cases:
        return
    lifecycle = LIFECYCLES[kind]
    rows: list[dict[str, Any]] = []
    for f, stage_seq, event_seq, day, old in cases:
        spec = lifecycle.state(f.to_state)
        stage_label = spec.deadline.label if spec.deadline else spec.label
        for to in parties.get(f.id, ()):
            rows += outbox_rows(
                template=SET_TEMPLATE, recipient_kind=to.kind, recipient_name=to.name,
                recipient_email=to.email, recipient_phone=to.phone,
                key=f"{kind}:{f.id}:stage{stage_seq}:{SET_TEMPLATE}:{day.isoformat()}:ev{event_seq}:{to.key}",
                context={"recipient_name": to.name, "case_label": CASE_LABELS[kind],
                         "case_number": f.number, "stage_label": stage_label, "deadline": day.isoformat(),
                         "old_deadline": iso_date(old)},
                now=now, case_kind=kind, case_id=f.id, case_number=f.number, flow_run_id=actor.flow_run_id,
            )  # fmt: skip
    insert_rows(session, Notification.__table__, rows, on_conflict_do_nothing=["idempotency_key"])  # type: ignore[attr-defined]


def _departments(session: Session) -> dict[int, Any]:
    """Every department (a few hundred at most): one query instead of one per case."""
    d = Department.__table__  # type: ignore[attr-defined]
    return {r.id: r for r in session.execute(select(d.c.id, d.c.name, d.c.email, d.c.competent_id))}


def _department(row: Any) -> _Party:
    return _Party("department", row.name, row.email, f"dept{row.id}")


def _rows_of(session: Session, model: Any, ids: list[int], *columns: str) -> list[Any]:
    t = model.__table__
    cols = [t.c.id, *(t.c[name] for name in columns)]
    return [
        r
        for part in chunks(ids)
        for r in session.execute(select(*cols).where(in_list(session, t.c.id, part)))
    ]


def _complaint_parties(session: Session, ids: list[int]) -> dict[int, list[_Party]]:
    """A stage that waits on handlers binds the lead department, which the dispatch mail told; a stage
    the verifier acts on (核实, 责令整改) binds the verifier too (the lead's 主管部门, told by the verify
    request). A stage that waits on intake or supervisors (初审, 派单, 改派, 回访) was promised to nobody
    by mail: its date shows in their work queue."""
    departments = _departments(session)
    parties: dict[int, list[_Party]] = {}
    for row in _rows_of(session, Complaint, ids, "state", "lead_department_id"):
        lead = departments.get(row.lead_department_id)
        if lead is None or Role.HANDLER not in COMPLAINT.state(row.state).waiting_on:
            continue
        parties[row.id] = [_department(lead)]
        verifier = departments.get(lead.competent_id)
        if awaited_party(row.state) == VERIFIER and verifier is not None and verifier.id != lead.id:
            parties[row.id].append(_department(verifier))
    return parties


def _pledge_parties(session: Session, ids: list[int]) -> dict[int, list[_Party]]:
    """The evidence review's deadline: the pledgor, told of it when the evidence arrived, reached as
    ``models.pledges.mail.enqueue_for_pledgor`` reaches one."""
    rows = _rows_of(session, Pledge, ids, "pledgor_name", "pledgor_email", "pledgor_phone")
    return {
        r.id: [_Party("pledgor", r.pledgor_name, r.pledgor_email, "pledgor", r.pledgor_phone)] for r in rows
    }


def _breach_parties(session: Session, ids: list[int]) -> dict[int, list[_Party]]:
    """An objection's or repair request's decision deadline: the deciding department (认定部门), told of
    it by ``breach_request_received``."""
    departments = _departments(session)
    rows = _rows_of(session, PublishedBreach, ids, "department_id")
    return {r.id: [_department(departments[r.department_id])] for r in rows if r.department_id in departments}


_PARTIES: dict[str, Callable[[Session, list[int]], dict[int, list[_Party]]]] = {
    "complaint": _complaint_parties,
    "pledge": _pledge_parties,
    "breach": _breach_parties,
}


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


@dataclass(frozen=True)
class SupervisionHold:
    """Deadline supervision held for want of this year's notice: the cases whose next step waits."""

    year: int
    cases: list[HeldStep]


def supervision_hold(*, session: Session, today: dt.date, calendar: WorkCalendar) -> SupervisionHold | None:
    """While ``today``'s year has no holiday notice, every supervised case whose known deadline has passed
    and whose ladder has a step left (a red warning, 催办, 督办, 提级办理): the runs send none of them
    until the notice is loaded (models/deadlines.py ``supervise_each``), so the supervisors are told which
    wait rather than read an old 已催办 as the latest word. None when the year is loaded."""
    if calendar.covers(today.year):
        return None
    held = [
        # As models/complaints/supervision.py climbs it: an approved extension starts the ladder afresh.
        *held_steps(session=session, model=Complaint, kind="complaint", today=today, top="escalate",
                    states=COMPLAINT.transition("warn_yellow").sources, restarts=("approve_extension",)),
        *held_steps(session=session, model=Pledge, kind="pledge", today=today, top="escalate",
                    states={PledgeState.EVIDENCE_SUBMITTED}, events=REVIEW_EVENTS),
        # A record's objection or repair decision is chased, neither supervised nor escalated.
        *held_steps(session=session, model=PublishedBreach, kind="breach", today=today, top="remind",
                    states=BREACH.transition("warn_yellow").sources),
    ]  # fmt: skip
    return SupervisionHold(today.year, held)


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
