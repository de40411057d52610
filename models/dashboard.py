"""The supervisor dashboard's lists, each item naming the case it is about so the page links to it:
overdue complaint stages, evidence reviews by deadline, objections and repair requests by decision
deadline, and pledges past their publication day that the sweep did not publish (a missed sweep); the
overdue and due-soon stages of every kind per party they await, and the list each count opens; the
complaints by channel; and the complaint list its counts open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, case, cast, func, literal, null, select, union_all
from sqlmodel import Session

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.complaint import CHANNEL_LABELS, Complaint
from models.complaints.visibility import LEAD, STAFF_PARTY_LABEL, VERIFIER, awaited_party, search_clause
from models.errors import ValidationFailed
from models.lifecycle import BREACH, COMPLAINT, LIFECYCLES, PLEDGE, BreachState, ComplaintState, PledgeState
from models.org import Department
from models.pledge import Pledge
from models.publish_plan import publishable

_C = Complaint.__table__  # type: ignore[attr-defined]
_P = Pledge.__table__  # type: ignore[attr-defined]
_B = PublishedBreach.__table__  # type: ignore[attr-defined]
_D = Department.__table__  # type: ignore[attr-defined]

# The per-party figures' row for the stages that await intake or the supervisors (初审, 派单, 改派, 整改审核,
# 回访), and the complaint list's door to them. Never a department's code: those begin with a letter or a
# digit (models/org.py).
STAFF_HELD = "_staff"

# Where each kind of case is opened on the staff pages.
CASE_PAGES = {
    "complaint": "/staff/complaints/{id}",
    "pledge": "/staff/pledges/{id}",
    "breach": "/staff/breaches/{id}",
}


@dataclass(frozen=True)
class DueItem:
    kind: str  # complaint, pledge or breach
    id: int
    number: str
    title: str
    state_label: str
    department: str
    deadline: dt.date | None  # the stage deadline, or for a missed publication its publication day
    working_days_left: int | None  # negative: working days overdue; None: the calendar does not reach it
    # By the date, as the counts: the day after a deadline is overdue even when it is a holiday or a
    # weekend, though no working day has passed yet (working_days_left is then 0).
    overdue: bool

    @property
    def href(self) -> str:
        return CASE_PAGES[self.kind].format(id=self.id)


def _due(
    kind: str,
    row: tuple[int, str, str, str, str | None, dt.date | None],
    today: dt.date,
    calendar: WorkCalendar,
) -> DueItem:
    """A list row (id, number, title, state label, department, deadline) with its days and overdue mark."""
    i, number, title, label, department, deadline = row
    left = calendar.working_days_left(today, deadline)
    late = deadline is not None and deadline < today
    return DueItem(kind, i, number, title, label, department or "—", deadline, left, late)


def overdue_complaints(
    *, session: Session, today: dt.date, calendar: WorkCalendar, limit: int = 20
) -> list[DueItem]:
    """Open complaints whose running stage is past its deadline, the longest overdue first. The department
    is the lead (主办); where the stage awaits someone else, whom the per-party counts count it for, the row
    names them too: its 主管部门 (核实, 责令整改), which the warnings and 催办 go to
    (models/complaints/supervision.py), or intake and the supervisors (回访 …)."""
    competent = _D.alias("competent")
    stmt = (
        select(
            _C.c.id, _C.c.number, _C.c.summary, _C.c.state, _D.c.name, competent.c.name, _C.c.stage_deadline
        )
        .outerjoin(_D, _D.c.id == _C.c.lead_department_id)
        .outerjoin(competent, competent.c.id == _D.c.competent_id)
        .where(_C.c.state.in_(COMPLAINT.clocked_states()), _C.c.stage_deadline < today)
        .order_by(_C.c.stage_deadline, _C.c.id)
        .limit(limit)
    )
    return [
        _due("complaint", (i, n, s, COMPLAINT.state(st).label, _awaiting(st, d, c), dl), today, calendar)
        for i, n, s, st, d, c, dl in session.execute(stmt).all()
    ]


def _awaiting(state: str, lead: str | None, competent: str | None) -> str | None:
    party = awaited_party(state)
    if party is None:
        return f"{lead}（待{STAFF_PARTY_LABEL}办理）" if lead else STAFF_PARTY_LABEL
    if lead and competent and party == VERIFIER:
        return f"{lead}（待{competent}办理）"
    return lead


def awaited_department_id() -> Any:
    """The department whose move a complaint's running stage awaits, as a column expression (one table
    says whose: ``awaited_party``): the lead where it holds the stage, its 主管部门 (the lead itself
    without one) in the stages only the verifier moves on (核实, 责令整改); NULL where intake or the
    supervisors hold the stage. The scorecard blames the lead for its own delays only; these counts and
    the complaint list they open attribute each delay so too."""
    clocked = COMPLAINT.clocked_states()
    lead_states = [s for s in clocked if awaited_party(s) == LEAD]
    verifier_states = [s for s in clocked if awaited_party(s) == VERIFIER]
    lead = _D.alias("lead_of_awaited")  # aliased: never correlated with a department the query joins
    verifier = select(func.coalesce(lead.c.competent_id, lead.c.id)).where(
        lead.c.id == _C.c.lead_department_id
    )
    return case(
        (_C.c.state.in_(lead_states), _C.c.lead_department_id),
        (_C.c.state.in_(verifier_states), verifier.scalar_subquery()),
        else_=None,
    )


def review_deadlines(
    *, session: Session, today: dt.date, calendar: WorkCalendar, limit: int = 20
) -> list[DueItem]:
    """Pledges whose evidence awaits the authority's review, soonest review deadline first."""
    stmt = (
        select(_P.c.id, _P.c.number, _P.c.pledgor_name, _P.c.matter, _D.c.name, _P.c.stage_deadline)
        .join(_D, _D.c.id == _P.c.authority_id)
        .where(_P.c.state == PledgeState.EVIDENCE_SUBMITTED)
        .order_by(_P.c.stage_deadline.is_(None), _P.c.stage_deadline, _P.c.id)
        .limit(limit)
    )
    label = PLEDGE.state(PledgeState.EVIDENCE_SUBMITTED).label
    return [
        _due("pledge", (i, n, f"{who}：{matter}", label, d, dl), today, calendar)
        for i, n, who, matter, d, dl in session.execute(stmt).all()
    ]


def record_deadlines(
    *, session: Session, today: dt.date, calendar: WorkCalendar, limit: int = 20
) -> list[DueItem]:
    """Breach records under objection or with a repair request, soonest decision deadline first."""
    stmt = (
        select(_B.c.id, _B.c.number, _B.c.subject_name, _B.c.state, _D.c.name, _B.c.stage_deadline)
        .join(_D, _D.c.id == _B.c.department_id)
        .where(_B.c.state.in_([BreachState.UNDER_OBJECTION, BreachState.REPAIR_REQUESTED]))
        .order_by(_B.c.stage_deadline.is_(None), _B.c.stage_deadline, _B.c.id)
        .limit(limit)
    )
    return [
        _due("breach", (i, n, who, BREACH.state(st).label, d, dl), today, calendar)
        for i, n, who, st, d, dl in session.execute(stmt).all()
    ]


def missed_publications(
    *, session: Session, today: dt.date, calendar: WorkCalendar, limit: int = 50
) -> list[DueItem]:
    """公示日已过未公示: pledges the publish step may publish (``publishable``: overdue, not held for an
    evidence review) whose publication day is before today, yet unpublished. The sweep publishes on the
    day itself, so any such pledge means a sweep did not run."""
    stmt = (
        select(
            _P.c.id, _P.c.number, _P.c.pledgor_name, _P.c.matter, _P.c.state, _D.c.name, _P.c.publication_day
        )
        .join(_D, _D.c.id == _P.c.authority_id)
        .where(_P.c.publication_day.is_not(None), _P.c.publication_day < today, publishable())
        .order_by(_P.c.publication_day, _P.c.id)
        .limit(limit)
    )
    return [
        _due("pledge", (i, n, f"{who}：{m}", PLEDGE.state(st).label, d, day), today, calendar)
        for i, n, who, m, st, d, day in session.execute(stmt).all()
    ]


@dataclass(frozen=True)
class AwaitedStage:
    """A running stage of any kind with its deadline, and the party whose move it awaits: the row the
    per-party counts count it on, the list their doors open and the digest names it in."""

    kind: str  # complaint, pledge or breach
    id: int
    number: str
    title: str
    state: str
    party_code: str  # the awaited department's code, or STAFF_HELD
    party_name: str
    department: str  # the case's own department, naming the awaited party where that is someone else
    deadline: dt.date

    @property
    def href(self) -> str:
        return CASE_PAGES[self.kind].format(id=self.id)

    def due(self, today: dt.date, calendar: WorkCalendar) -> DueItem:
        label = LIFECYCLES[self.kind].state(self.state).label
        row = (self.id, self.number, self.title, label, self.department, self.deadline)
        return _due(self.kind, row, today, calendar)


_STATES: dict[str, Any] = {"complaint": ComplaintState, "pledge": PledgeState, "breach": BreachState}


def _stage_selects() -> list[Any]:
    """One select per kind of supervised stage, the same columns each, with whom it awaits: a complaint
    stage its lead or the lead's 主管部门 (``awaited_department_id``) or intake and the supervisors; an
    evidence review the pledge's authority (审批部门), which alone may decide it; an objection or repair
    request the record's 认定部门, but the supervisors for a record from a complaint, which they decide
    (``models.register.decisions.may_decide``; its department is the one in breach)."""
    party, named = _D.alias("party"), _D.alias("named")

    def kind_select(kind: str, t: Any, who: Any, what: Any, party_id: Any, named_id: Any, states: Any) -> Any:
        return (
            select(
                literal(kind, String).label("kind"),
                t.c.id,
                t.c.number,
                who.label("who"),
                what.label("what"),
                # Each kind's own enum type: as text (its members' names) to be one column of the union.
                cast(t.c.state, String).label("state"),
                party.c.code.label("party_code"),
                party.c.name.label("party_name"),
                named.c.name.label("named"),
                t.c.stage_deadline.label("deadline"),
            )
            .select_from(t)
            .outerjoin(party, party.c.id == party_id)
            .outerjoin(named, named.c.id == named_id)
            .where(t.c.state.in_(states), t.c.stage_deadline.is_not(None))
        )

    no_detail = cast(null(), String)
    record_party = case((_B.c.complaint_id.is_(None), _B.c.department_id), else_=None)
    return [
        kind_select("complaint", _C, _C.c.summary, no_detail, awaited_department_id(),
                    _C.c.lead_department_id, COMPLAINT.clocked_states()),
        kind_select("pledge", _P, _P.c.pledgor_name, _P.c.matter, _P.c.authority_id, _P.c.authority_id,
                    PLEDGE.clocked_states()),
        kind_select("breach", _B, _B.c.subject_name, _B.c.matter, record_party, _B.c.department_id,
                    BREACH.clocked_states()),
    ]  # fmt: skip


def awaited_stages(
    *, session: Session, through: dt.date, since: dt.date | None = None, awaits: str | None = None
) -> list[AwaitedStage]:
    """Every running stage, of every kind the dashboard supervises (complaint stages, evidence reviews,
    objection and repair decisions), whose deadline falls on or before ``through`` (and on or after
    ``since``), of the party ``awaits`` names (a department's code, or STAFF_HELD) or of all, soonest
    first. A stage paused or whose deadline waits for the calendar has no date to be late by. The
    per-party counts, the list they open and the digest all read this one query."""
    u = union_all(*_stage_selects()).subquery("awaited")
    where = [u.c.deadline <= through]
    if since is not None:
        where.append(u.c.deadline >= since)
    if awaits == STAFF_HELD:
        where.append(u.c.party_code.is_(None))
    elif awaits is not None:
        where.append(u.c.party_code == awaits)
    stmt = select(u).where(*where).order_by(u.c.deadline, u.c.kind, u.c.id)
    return [_awaited(r) for r in session.execute(stmt).all()]


def _awaited(r: Any) -> AwaitedStage:
    code, party = (r.party_code, r.party_name) if r.party_code else (STAFF_HELD, STAFF_PARTY_LABEL)
    # The case's own department, and whom it waits on where that is another (as ``overdue_complaints``).
    department = r.named if r.named in (None, r.party_name) else f"{r.named}（待{party}办理）"
    title = f"{r.who}：{r.what}" if r.what else r.who
    state = _STATES[r.kind][r.state].value
    return AwaitedStage(r.kind, r.id, r.number, title, state, code, party, department or party, r.deadline)


@dataclass(frozen=True)
class DepartmentDue:
    code: str  # the department's, or STAFF_HELD for the stages intake or the supervisors hold
    name: str
    overdue: int
    due_soon: int


def due_by_department(
    *, session: Session, today: dt.date, calendar: WorkCalendar, working_days: int
) -> list[DepartmentDue]:
    """Per party a running stage awaits (``awaited_stages``): each department, by code, then intake and
    the supervisors (``STAFF_HELD``), with the stages of every kind past their deadline and those due
    within ``working_days`` working days. A department counts only its own delays: a late return visit
    (回访) is not the lead's, a late evidence review is the authority's. The counts are what
    ``awaited_stages`` lists for the party."""
    stages = awaited_stages(session=session, through=calendar.horizon(today, working_days))
    return tally_by_party(stages, today)


def tally_by_party(stages: list[AwaitedStage], today: dt.date) -> list[DepartmentDue]:
    """``stages`` counted per party, overdue (the deadline before ``today``) and due soon (the rest)."""
    counts: dict[tuple[str, str], list[int]] = {}
    staff = [0, 0]
    for s in stages:
        held = s.party_code == STAFF_HELD
        pair = staff if held else counts.setdefault((s.party_code, s.party_name), [0, 0])
        pair[0 if s.deadline < today else 1] += 1
    rows = [DepartmentDue(code, name, o, s) for (code, name), (o, s) in sorted(counts.items())]
    return rows + ([DepartmentDue(STAFF_HELD, STAFF_PARTY_LABEL, *staff)] if any(staff) else [])


@dataclass(frozen=True)
class ChannelCount:
    channel: str
    label: str
    count: int  # every complaint that came by it, as the state tiles count every complaint
    open: int  # of those, still being handled


def channel_counts(*, session: Session) -> list[ChannelCount]:
    """Every channel (12345, the window, the 信用网站专栏 …) in its listed order, zeros included, with how
    many complaints came by it and how many of those are open; one grouped query."""
    is_open = case((_C.c.state.in_(COMPLAINT.open_states()), 1), else_=0)
    stmt = select(_C.c.channel, func.count(), func.coalesce(func.sum(is_open), 0)).group_by(_C.c.channel)
    counts = {str(channel): (int(n), int(o)) for channel, n, o in session.execute(stmt).all()}
    return [
        ChannelCount(str(channel), label, *counts.get(str(channel), (0, 0)))
        for channel, label in CHANNEL_LABELS.items()
    ]


@dataclass(frozen=True)
class ComplaintQuery:
    """The dashboard's doors into the complaint list (a state, a lead department, the party a running
    stage awaits, overdue or due soon, a channel) and the list page's own filter and search box."""

    state: str | None = None
    lead: str | None = None  # lead department code
    # A department's code: the running stages awaiting its move (``awaited_department_id``); STAFF_HELD:
    # those awaiting intake or the supervisors. The complaints among what a per-party count counts (its
    # door, ``awaited_stages``, lists the evidence reviews and record decisions too).
    awaits: str | None = None
    overdue: bool = False  # running stage past its deadline
    due_by: dt.date | None = None  # running stage due from today to this day
    channel: str | None = None  # how it arrived (models.complaint.Channel)
    q: str | None = None  # the search box, matched as the API's list matches it


@dataclass(frozen=True)
class ComplaintLine:
    id: int
    number: str
    summary: str
    state_label: str
    department: str
    deadline: dt.date | None


def find_complaints(
    *, session: Session, today: dt.date, query: ComplaintQuery, limit: int = 200
) -> tuple[list[ComplaintLine], int]:
    """The complaints ``query`` selects, the soonest deadline first (at most ``limit``), and how many."""
    where = []
    if query.state:
        COMPLAINT.state(query.state)  # an unknown state is refused, not an empty list
        where.append(_C.c.state == query.state)
    if query.lead:
        where.append(_D.c.code == query.lead)
    if query.awaits:
        where += [_C.c.state.in_(COMPLAINT.clocked_states()), _awaits(query.awaits)]
    if query.overdue:
        where += [_C.c.state.in_(COMPLAINT.clocked_states()), _C.c.stage_deadline < today]
    if query.due_by is not None:
        where += [
            _C.c.state.in_(COMPLAINT.clocked_states()),
            _C.c.stage_deadline >= today,
            _C.c.stage_deadline <= query.due_by,
        ]
    if query.channel:
        if query.channel not in CHANNEL_LABELS:
            raise ValidationFailed(
                f"没有名为 {query.channel} 的投诉渠道，请从列表中选择 (unknown channel)", field="channel"
            )
        where.append(_C.c.channel == query.channel)
    if query.q and query.q.strip():
        where.append(search_clause(query.q))
    base = select(_C.c.id).outerjoin(_D, _D.c.id == _C.c.lead_department_id).where(*where)
    total = int(session.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    stmt = (
        select(_C.c.id, _C.c.number, _C.c.summary, _C.c.state, _D.c.name, _C.c.stage_deadline)
        .outerjoin(_D, _D.c.id == _C.c.lead_department_id)
        .where(*where)
        .order_by(_C.c.stage_deadline.is_(None), _C.c.stage_deadline, _C.c.id.desc())
        .limit(limit)
    )
    lines = [
        ComplaintLine(i, n, s, COMPLAINT.state(st).label, d or "—", dl)
        for i, n, s, st, d, dl in session.execute(stmt).all()
    ]
    return lines, total


def _awaits(code: str) -> Any:
    awaited = awaited_department_id()
    if code == STAFF_HELD:
        return awaited.is_(None)
    department = _D.alias("awaited")  # aliased: the list joins the lead department, which must not correlate
    return awaited.in_(select(department.c.id).where(department.c.code == code))


def departments_without_email(*, session: Session) -> list[str]:
    """The active departments with no e-mail address, by code: every notice to them (a dispatch, a
    deadline, a 催办) is undeliverable, which only the admin outbox page showed; the supervisors chasing
    them must know the chase reaches nobody."""
    stmt = (
        select(_D.c.name)
        .where(_D.c.active.is_(True), (_D.c.email.is_(None)) | (func.trim(_D.c.email) == ""))
        .order_by(_D.c.code)
    )
    return list(session.execute(stmt).scalars())
