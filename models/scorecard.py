"""Oversight figures for the supervisor dashboard and the department scorecard.

Read-only queries: counts by state, the escalation ladder, pledges about to be published, weekly
opened/closed series, breaches per month and per-department scores (cases closed satisfied, 不满意办结 and
无法联系办结 each counted apart; the redo rate, 重办率, is over all three). A case counts as handled on
time when no stage of it ever went past its deadline while awaiting the lead, which the audit trail records
as a red warning or a supervision step (催办/督办/提级) whose data names the lead as awaited (events written
before they named anyone count as they always did); an open case past its deadline today in a stage the
lead holds is late as well. A delay of the 主管部门 in the stages it verifies, or of the supervisors in
their own, is not the lead's.

A scorecard covers a period (``Period``: a month, a quarter, a year or custom dates, Asia/Shanghai): the
complaints registered in it, by the lead department they had at the period's end (a later 退单, 改派 or
retirement's move undone, ``models.scorecard_lead``), and every department whose staff acted on a complaint in
it (a competent department that verified a case it does not lead included). Its government breaches are
the credit records decided in it, on the department each was confirmed against (models/government_credit.py).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, distinct, exists, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.breach_record import published_class
from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaint import SATISFIED_ANSWERS, Complaint
from models.complaints.visibility import LEAD, VERIFIER, awaited_party
from models.errors import ValidationFailed
from models.government_credit_record import GovernmentCreditRecord, breach_counts, counted
from models.id_sets import chunks, in_list
from models.lifecycle import COMPLAINT, PLEDGE
from models.lifecycle import ComplaintState as CS
from models.org import Department, User
from models.pledge import Pledge
from models.publish_plan import held
from models.scorecard_lead import leads_at
from models.settings import get_settings

_C = Complaint.__table__  # type: ignore[attr-defined]
_E = CaseEvent.__table__  # type: ignore[attr-defined]
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
    # (id, number) of the same cases, for links to them.
    cases: list[tuple[int, str]]


@dataclass(frozen=True)
class PledgeDue:
    id: int
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
    # Ended cases (all three endings) redone at least once.
    redone: int
    breaches: int
    satisfied: int
    rated: int
    # Cases that ended without satisfaction, counted apart from ``closed`` (closed satisfied).
    closed_unsatisfied: int = 0
    closed_unreachable: int = 0
    # Withdrawn by the complainant before verification (撤回办结): closed, yet no outcome of the department's
    # handling, so neither in ``ended`` (the redo rate) nor rated.
    closed_withdrawn: int = 0
    # Complaints its staff acted on in the period (led or not), and of them those it verified.
    acted: int = 0
    verified: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.handled if self.handled else None

    @property
    def ended(self) -> int:
        """Cases ended any way: 已办结, 不满意办结 and 无法联系办结."""
        return self.closed + self.closed_unsatisfied + self.closed_unreachable

    @property
    def redo_rate(self) -> float | None:
        """Of the ended cases, those redone at least once."""
        return self.redone / self.ended if self.ended else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


def state_counts(*, session: Session) -> list[StateCount]:
    """Every complaint state in lifecycle order, with how many cases are in it (zeros included)."""
    # Counted by the database: one row per state, however many cases there are.
    counts = {
        str(state): n
        for state, n in session.exec(
            select(Complaint.state, func.count()).group_by(col(Complaint.state))
        ).all()
    }
    return [StateCount(str(s.name), s.label, counts.get(str(s.name), 0)) for s in COMPLAINT.states]


def escalation_ladder(*, session: Session, sample: int = 5) -> list[LadderRow]:
    """Open cases by escalation level of their current stage, with a few case numbers per level."""
    is_open = col(Complaint.state).in_(COMPLAINT.open_states())
    # Counted by the database, and only the sampled cases read: not every open case loaded to show five.
    counts = dict.fromkeys(ESCALATION_LABELS, 0)
    for level, n in session.exec(
        select(Complaint.escalation_level, func.count())
        .where(is_open)
        .group_by(col(Complaint.escalation_level))
    ).all():
        counts[int(level)] = n
    rows = []
    for level, n in sorted(counts.items()):
        cases: list[tuple[int, str]] = []
        if n and sample > 0:
            # Earliest deadline first; the id breaks ties so the sample does not change between loads.
            for case_id, number in session.exec(
                select(Complaint.id, Complaint.number)
                .where(is_open, Complaint.escalation_level == level)
                .order_by(col(Complaint.stage_deadline), col(Complaint.id))
                .limit(sample)
            ).all():
                assert case_id is not None
                cases.append((case_id, number))
        label = ESCALATION_LABELS.get(level, f"第{level}级")
        rows.append(LadderRow(level, label, n, [number for _, number in cases], cases))
    return rows


def pledges_due(
    *, session: Session, today: dt.date, calendar: WorkCalendar, working_days: int = 10
) -> list[PledgeDue]:
    """Open pledges whose publication day falls within the next ``working_days`` working days; not those
    held for an evidence review (``publish_plan.held``), which the day does not publish."""
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
        assert p.id is not None
        if held(p):
            continue
        result.append(
            PledgeDue(
                id=p.id,
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

    # Only the cases opened or closed in the weeks drawn: older ones would be read and never shown.
    since = dt.datetime.combine(starts[0], dt.time(), clock.tz).astimezone(dt.UTC)
    recent = select(Complaint.created_at, Complaint.closed_at).where(
        or_(col(Complaint.created_at) >= since, col(Complaint.closed_at) >= since)
    )
    for created, closed_at in session.exec(recent).all():
        opened[week_of(created)] += 1
        if closed_at is not None:
            closed[week_of(closed_at)] += 1
    return [WeekFlow(s, opened.get(s, 0), closed.get(s, 0)) for s in starts]


def breaches_per_month(
    *,
    session: Session,
    clock: Clock,  # noqa: ARG001  (kept for callers: both series are now read from stored decision dates)
    today: dt.date,
    months: int = 12,
) -> list[tuple[str, int, int]]:
    """Per month, oldest first: pledge breaches published (by JDRQ) and government breaches confirmed
    (credit records by decision date, one per department confirmed against, withdrawn ones not counted).
    The register also holds government breaches (source_kind complaint, since migration 0016): only the
    pledge rows are the first series, or each confirmation would count in both."""
    keys = []
    year, month = today.year, today.month
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keys.reverse()
    pledge_records = select(col(PublishedBreach.decision_date), col(PublishedBreach.severity)).where(
        PublishedBreach.source_kind == "pledge"
    )
    # A record of class 轻微 is kept but not published (``published_class``): not one of the series.
    published: Counter[str] = Counter(
        d.strftime("%Y-%m") for d, severity in session.exec(pledge_records).all() if published_class(severity)
    )
    confirmed: Counter[str] = Counter(
        d.strftime("%Y-%m")
        for d in session.exec(select(col(GovernmentCreditRecord.decision_date)).where(counted())).all()
    )
    return [(k, published.get(k, 0), confirmed.get(k, 0)) for k in keys]


PERIOD_KINDS = {"month": "月度", "quarter": "季度", "year": "年度", "custom": "自定义"}
# A custom period longer than this is refused: the scorecard reads every complaint in it.
MAX_PERIOD_DAYS = 366 * 5


@dataclass(frozen=True)
class Period:
    """A scorecard period, both ends included (Asia/Shanghai dates)."""

    kind: str
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == "quarter":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.kind == "year":
            return f"{self.start.year}年"
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The period as UTC instants [from, to): midnight to midnight in the office's time zone."""
        zone = ZoneInfo(get_settings().timezone)
        start = dt.datetime.combine(self.start, dt.time(), zone).astimezone(dt.UTC)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        return start, end

    def shifted(self, step: int) -> Period:
        """The previous (-1) or next (+1) period of the same kind; a custom one moves by its length."""
        if self.kind == "custom":
            length = (self.end - self.start).days + 1
            return Period(
                "custom",
                self.start + dt.timedelta(days=step * length),
                self.end + dt.timedelta(days=step * length),
            )
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        index = self.start.year * 12 + self.start.month - 1 + step * months
        return period_of(self.kind, dt.date(index // 12, index % 12 + 1, 1))


def period_of(kind: str, at: dt.date, *, start: dt.date | None = None, end: dt.date | None = None) -> Period:
    """The month, quarter or year around ``at``, or the custom dates ``start``–``end``."""
    if kind == "month":
        first = at.replace(day=1)
        return Period(kind, first, _month_end(first.year, first.month))
    if kind == "quarter":
        month = (at.month - 1) // 3 * 3 + 1
        return Period(kind, dt.date(at.year, month, 1), _month_end(at.year, month + 2))
    if kind == "year":
        return Period(kind, dt.date(at.year, 1, 1), dt.date(at.year, 12, 31))
    if kind != "custom":
        raise ValidationFailed(
            f"统计周期应为月度、季度、年度或自定义 (period must be one of {', '.join(PERIOD_KINDS)})",
            field="period",
        )
    if start is None or end is None:
        raise ValidationFailed("自定义周期需填写起止日期 (custom period needs from and to)", field="start")
    if end < start:
        raise ValidationFailed("结束日期早于开始日期 (to is before from)", field="end")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationFailed("自定义周期不能超过 5 年 (custom period longer than 5 years)", field="end")
    return Period(kind, start, end)


def _month_end(year: int, month: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def _acted(session: Session, period: Period | None) -> dict[int, Counter[str]]:
    """Per department: the complaints its staff acted on (distinct cases) and those it verified."""
    verified = case((col(CaseEvent.event).in_(VERIFY_EVENTS), col(CaseEvent.case_id)))
    stmt = (
        select(
            User.department_id, func.count(distinct(col(CaseEvent.case_id))), func.count(distinct(verified))
        )
        .join(User, col(User.id) == col(CaseEvent.actor_id))
        .where(CaseEvent.case_kind == "complaint", col(User.department_id).is_not(None))
        .group_by(col(User.department_id))
    )
    if period is not None:
        start, end = period.bounds()
        stmt = stmt.where(col(CaseEvent.at) >= start, col(CaseEvent.at) < end)
    result: dict[int, Counter[str]] = {}
    for dept_id, acted, verified_n in session.exec(stmt).all():
        assert dept_id is not None
        result[dept_id] = Counter({"acted": acted, "verified": verified_n})
    return result


VERIFY_EVENTS = ("verify_true", "verify_untrue")


def _lead_at_end(
    session: Session,
    led: Select[Any],
    columns: dict[str, ColumnElement[int]],
    tallies: dict[int, Counter[str]],
    period: Period,
) -> None:
    """Move the complaints whose lead changed after the period's end (a 退单, a 改派, a retirement's move)
    back to the lead they had then (``models.scorecard_lead``), in ``tallies`` (``led``'s counts by the lead
    now, cases without one left out): the department that had the case keeps the period's work and the one
    that took it on later is not credited with it. Only those cases are read again, one row each (a case
    without a lead now, returned and not yet re-dispatched, included)."""
    start, end = period.bounds()
    cases = core_select(col(Complaint.id)).where(
        col(Complaint.created_at) >= start, col(Complaint.created_at) < end
    )
    moved = leads_at(session=session, cases=cases, end=end)
    for part in chunks(sorted(moved)):
        per_case = led.add_columns(col(Complaint.id)).where(in_list(session, _C.c.id, part))
        per_case = per_case.group_by(None).group_by(col(Complaint.lead_department_id), col(Complaint.id))
        for now_id, *values, case_id in session.execute(per_case).all():
            counts = Counter({key: int(v) for key, v in zip(columns, values, strict=True)})
            if now_id is not None:
                tallies[now_id].subtract(counts)
            tallies.setdefault(moved[case_id], Counter()).update(counts)
    # A lead whose every case of the period went back to the department it had then has no row of its own.
    for dept_id in [d for d, t in tallies.items() if t["handled"] <= 0]:
        del tallies[dept_id]


def _how_many(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet ``condition`` (a NULL condition counts as not met)."""
    return func.sum(case((condition, 1), else_=0))


def _awaited_the_lead() -> ColumnElement[bool]:
    """Whether a late event (``LATE_EVENTS``) awaited the case's lead: its data names the lead party (a
    case's lead then, though a 改派 may have changed it since, as before), or the lead's own department (a
    lead without a 主管部门 verifies its own cases); an event written before the data named anyone counts,
    as it always did. Read from the JSON data in SQL, on SQLite and PostgreSQL alike."""
    awaited = _E.c.data["awaited"].as_string()
    department = _E.c.data["awaited_department_id"].as_integer()
    return or_(awaited.is_(None), awaited == LEAD, department == col(Complaint.lead_department_id))


def _held_by_the_lead(clocked: list[str]) -> ColumnElement[bool]:
    """Whether a case in one of the ``clocked`` states waits on its lead's move there: a stage the lead
    holds, or one its verifier holds when the lead has no 主管部门 and verifies its own cases."""
    held = [s for s in clocked if awaited_party(s) == LEAD]
    verified = [s for s in clocked if awaited_party(s) == VERIFIER]
    own_verifier = ~exists().where(
        col(Department.id) == col(Complaint.lead_department_id), col(Department.competent_id).is_not(None)
    )
    return col(Complaint.state).in_(held) | (col(Complaint.state).in_(verified) & own_verifier)


def department_scores(
    *, session: Session, today: dt.date, period: Period | None = None
) -> list[DepartmentScore]:
    """One scorecard row per department that led a complaint registered in ``period`` (all time when
    None), whose staff acted on a complaint in it or that had a breach confirmed in it, by department
    code."""
    # Tallied by the database, one row per lead department: the cases of a period (of all time for the
    # on-time chart) and their audit trails are never loaded into Python.
    ended = [CS.CLOSED, *_UNRESOLVED_ENDINGS]
    clocked = [s.name for s in COMPLAINT.states if s.deadline and not s.clock_paused and not s.terminal]
    went_late = exists().where(
        col(CaseEvent.case_kind) == "complaint",
        col(CaseEvent.case_id) == col(Complaint.id),
        col(CaseEvent.event).in_(LATE_EVENTS),
        _awaited_the_lead(),
    )
    overdue_now = (
        _held_by_the_lead(clocked)
        & col(Complaint.stage_deadline).is_not(None)
        & (col(Complaint.stage_deadline) < today)
    )
    # A satisfaction given is any non-empty answer, as Python's truth test read it.
    rated = col(Complaint.satisfaction).is_not(None) & (col(Complaint.satisfaction) != "")
    columns = {
        "handled": func.count(),
        "on_time": _how_many(~went_late & ~overdue_now),
        "closed": _how_many(col(Complaint.state) == CS.CLOSED),
        CS.CLOSED_UNSATISFIED: _how_many(col(Complaint.state) == CS.CLOSED_UNSATISFIED),
        CS.CLOSED_UNREACHABLE: _how_many(col(Complaint.state) == CS.CLOSED_UNREACHABLE),
        CS.CLOSED_WITHDRAWN: _how_many(col(Complaint.state) == CS.CLOSED_WITHDRAWN),
        # Redone per case (RULEBOOK §Complaints 9) over every ending: a case redone and still closed
        # 不满意办结 is the one most redone, and counting only 已办结 dropped it.
        "redone": _how_many(col(Complaint.state).in_(ended) & (col(Complaint.redo_count) != 0)),
        "rated": _how_many(rated),
        # 满意率 as 12345 assessments count it: 满意 and 基本满意 (the two answers that close a case) over
        # every answer given; counting 满意 alone put a department whose cases all closed 基本满意 at 0 %.
        "satisfied": _how_many(col(Complaint.satisfaction).in_(SATISFIED_ANSWERS)),
    }
    led = core_select(col(Complaint.lead_department_id), *columns.values()).group_by(
        col(Complaint.lead_department_id)
    )
    if period is not None:
        start, end = period.bounds()
        led = led.where(col(Complaint.created_at) >= start, col(Complaint.created_at) < end)
    tallies: dict[int, Counter[str]] = {}
    for dept_id, *values in session.execute(led.where(col(Complaint.lead_department_id).is_not(None))).all():
        assert dept_id is not None
        tallies[dept_id] = Counter({key: int(v) for key, v in zip(columns, values, strict=True)})
    if period is not None:
        _lead_at_end(session, led, columns, tallies, period)
    for dept_id, acted in _acted(session, period).items():
        tallies.setdefault(dept_id, Counter()).update(acted)
    # By the credit records, each on the department it was confirmed against (not the case's lead now,
    # which a reopened and re-dispatched case changes), decided in the period; withdrawn ones not counted.
    since, until = (period.start, period.end) if period is not None else (None, None)
    for dept_id, n in breach_counts(session=session, since=since, until=until).items():
        tallies.setdefault(dept_id, Counter())["breaches"] += n
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
            closed_withdrawn=t[CS.CLOSED_WITHDRAWN],
            acted=t["acted"],
            verified=t["verified"],
        )
        for dept_id, t in tallies.items()
        if dept_id in departments
    ]
    return sorted(rows, key=lambda r: r.code)
