"""Oversight figures for the supervisor dashboard and the department scorecard.

Read-only queries: counts by state, the escalation ladder, pledges about to be published, weekly
opened/closed series, breaches per month and per-department scores (cases closed satisfied, 不满意办结 and
无法联系办结 each counted apart). A case counts as handled on time when no stage of it ever went past its
deadline, which the audit trail records as a red warning or a supervision step (催办/督办/提级); an open
case past its deadline today is late as well.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaint import Complaint
from models.lifecycle import COMPLAINT, PLEDGE
from models.lifecycle import ComplaintState as CS
from models.org import Department
from models.pledge import Pledge

# Audit events that show a stage went past its deadline.
LATE_EVENTS = ("warn_red", "remind", "supervise", "escalate")
ESCALATION_LABELS = {0: "正常办理", 1: "已催办", 2: "已督办", 3: "已提级办理"}
# The endings without satisfaction (不满意办结, 无法联系办结), each counted on its own.
_UNRESOLVED_ENDINGS = frozenset({CS.CLOSED_UNSATISFIED, CS.CLOSED_UNREACHABLE})


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True)
class LadderRow:
    level: int
    label: str
    count: int
    numbers: list[str]


@dataclass(frozen=True)
class PledgeDue:
    number: str
    pledgor_name: str
    matter: str
    deadline: dt.date
    publication_day: dt.date
    working_days_left: int
    state_label: str


@dataclass(frozen=True)
class WeekFlow:
    week_start: dt.date
    opened: int
    closed: int


@dataclass(frozen=True)
class DepartmentScore:
    code: str
    name: str
    handled: int
    on_time: int
    closed: int
    redone: int
    breaches: int
    satisfied: int
    rated: int
    # Cases that ended without satisfaction, counted apart from ``closed`` (closed satisfied).
    closed_unsatisfied: int = 0
    closed_unreachable: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.handled if self.handled else None

    @property
    def redo_rate(self) -> float | None:
        return self.redone / self.closed if self.closed else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


def state_counts(*, session: Session) -> list[StateCount]:
    """Every complaint state in lifecycle order, with how many cases are in it (zeros included)."""
    counts: Counter[str] = Counter(str(s) for s in session.exec(select(Complaint.state)).all())
    return [StateCount(str(s.name), s.label, counts.get(str(s.name), 0)) for s in COMPLAINT.states]


def escalation_ladder(*, session: Session, sample: int = 5) -> list[LadderRow]:
    """Open cases by escalation level of their current stage, with a few case numbers per level."""
    rows = session.exec(
        select(Complaint.escalation_level, Complaint.number)
        .where(col(Complaint.state).in_(COMPLAINT.open_states()))
        .order_by(col(Complaint.stage_deadline))
    ).all()
    by_level: dict[int, list[str]] = {level: [] for level in ESCALATION_LABELS}
    for level, number in rows:
        by_level.setdefault(int(level), []).append(number)
    return [
        LadderRow(level, ESCALATION_LABELS.get(level, f"第{level}级"), len(numbers), numbers[:sample])
        for level, numbers in sorted(by_level.items())
    ]


def pledges_due(
    *, session: Session, today: dt.date, calendar: WorkCalendar, working_days: int = 10
) -> list[PledgeDue]:
    """Open pledges whose publication day falls within the next ``working_days`` working days."""
    horizon = calendar.horizon(today, working_days)  # a December without next year's notice still shows
    open_states = [s.name for s in PLEDGE.states if not s.terminal]
    rows = session.exec(
        select(Pledge)
        .where(
            col(Pledge.publication_day) >= today,
            col(Pledge.publication_day) <= horizon,
            col(Pledge.state).in_(open_states),
        )
        .order_by(col(Pledge.publication_day), col(Pledge.id))
    ).all()
    result = []
    for p in rows:
        assert p.publication_day is not None
        result.append(
            PledgeDue(
                number=p.number,
                pledgor_name=p.pledgor_name,
                matter=p.matter,
                deadline=p.deadline,
                publication_day=p.publication_day,
                working_days_left=calendar.working_days_between(today, p.publication_day),
                state_label=PLEDGE.state(p.state).label,
            )
        )
    return result


def weekly_flow(*, session: Session, clock: Clock, today: dt.date, weeks: int = 8) -> list[WeekFlow]:
    """Complaints opened and closed per ISO week (Monday start, Asia/Shanghai dates), oldest first."""
    monday = today - dt.timedelta(days=today.weekday())
    starts = [monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    opened: Counter[dt.date] = Counter()
    closed: Counter[dt.date] = Counter()

    def week_of(at: dt.datetime) -> dt.date:
        day = clock.local_date(at)
        return day - dt.timedelta(days=day.weekday())

    for created, closed_at in session.exec(select(Complaint.created_at, Complaint.closed_at)).all():
        opened[week_of(created)] += 1
        if closed_at is not None:
            closed[week_of(closed_at)] += 1
    return [WeekFlow(s, opened.get(s, 0), closed.get(s, 0)) for s in starts]


def breaches_per_month(
    *, session: Session, clock: Clock, today: dt.date, months: int = 12
) -> list[tuple[str, int, int]]:
    """Per month, oldest first: pledge breaches published (by JDRQ) and government breaches confirmed."""
    keys = []
    year, month = today.year, today.month
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keys.reverse()
    published: Counter[str] = Counter(
        d.strftime("%Y-%m") for d in session.exec(select(col(PublishedBreach.decision_date))).all()
    )
    confirmed: Counter[str] = Counter(
        clock.local_date(at).strftime("%Y-%m")
        for at in session.exec(
            select(CaseEvent.at).where(
                CaseEvent.case_kind == "complaint", CaseEvent.event == "confirm_breach"
            )
        ).all()
    )
    return [(k, published.get(k, 0), confirmed.get(k, 0)) for k in keys]


def department_scores(*, session: Session, today: dt.date) -> list[DepartmentScore]:
    """One scorecard row per department that has led at least one complaint, by department code."""
    late_ids = set(
        session.exec(
            select(CaseEvent.case_id).where(
                CaseEvent.case_kind == "complaint", col(CaseEvent.event).in_(LATE_EVENTS)
            )
        ).all()
    )
    open_states = set(COMPLAINT.open_states())
    clocked = {s.name for s in COMPLAINT.states if s.deadline and not s.clock_paused and not s.terminal}
    tallies: dict[int, Counter[str]] = {}
    for case in session.exec(select(Complaint).where(col(Complaint.lead_department_id).is_not(None))).all():
        assert case.lead_department_id is not None
        t = tallies.setdefault(case.lead_department_id, Counter())
        t["handled"] += 1
        overdue_now = (
            case.state in clocked
            and case.state in open_states
            and case.stage_deadline is not None
            and case.stage_deadline < today
        )
        if case.id not in late_ids and not overdue_now:
            t["on_time"] += 1
        if case.state == CS.CLOSED:
            t["closed"] += 1
            t["redone"] += 1 if case.redo_count else 0
        elif case.state in _UNRESOLVED_ENDINGS:
            t[case.state] += 1
        t["breaches"] += 1 if case.breach_confirmed else 0
        if case.satisfaction:
            t["rated"] += 1
            t["satisfied"] += 1 if case.satisfaction == "满意" else 0
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    rows = [
        DepartmentScore(
            code=departments[dept_id].code,
            name=departments[dept_id].name,
            handled=t["handled"],
            on_time=t["on_time"],
            closed=t["closed"],
            redone=t["redone"],
            breaches=t["breaches"],
            satisfied=t["satisfied"],
            rated=t["rated"],
            closed_unsatisfied=t[CS.CLOSED_UNSATISFIED],
            closed_unreachable=t[CS.CLOSED_UNREACHABLE],
        )
        for dept_id, t in tallies.items()
        if dept_id in departments
    ]
    return sorted(rows, key=lambda r: r.code)
