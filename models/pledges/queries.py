"""Reading pledges: the staff view of one (with its publication status), one by id within the
actor's visibility, the department's list with filters, and a pledge's timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from models.accounts import department_by_code
from models.audit import CaseEvent
from models.breach import SEVERITY_LABELS, PublishedBreach
from models.calendar import WorkCalendar
from models.errors import NotFound
from models.lifecycle import BREACH, PLEDGE, PledgeState, Role
from models.org import Department
from models.pledge import (
    Pledge,
)
from models.workflow import Actor

# The authority's decisions, then a supervisor's chasing of an evidence review (催办, 督办, 提级办理).
PLEDGE_ACTIONS = (
    "confirm",
    "reject_evidence",
    "confirm_false",
    "cancel",
    "review_remind",
    "review_supervise",
    "review_escalate",
)


def _publication(pledge: Pledge, calendar: WorkCalendar) -> tuple[str, str | None, str | None]:
    """The publication day's status, what people are told of it, and the same in English for the API."""
    if pledge.state == PledgeState.FALSE_PLEDGE:
        # Its record comes from the finding, on the day of the finding, not from the overdue rule: a
        # publication day counted from the deadline would be a second, wrong date. Not "recorded": a pledge
        # found false before findings were recorded has no record. Nor "not published": its record is on
        # the register from the finding (``pledge_records``).
        return (
            "not_applicable",
            "已认定为虚假承诺：不按逾期规则计算公示日，按认定记入失信记录",
            "found false: recorded from the finding, not published as overdue",
        )
    if pledge.publication_day is not None:
        return "computed", None, None
    if pledge.state not in PLEDGE.open_states():
        # Closed before its day could be counted: naming a year to load would promise a publication that
        # will never come (and guess the year wrong once the next one is loaded).
        label = PLEDGE.state(pledge.state).label
        return "not_applicable", f"不公示：承诺状态为“{label}”", "not published: pledge closed"
    # The first year from the deadline on that the calendar lacks is the one the count stopped at.
    covered = set(calendar.covered_years())
    year = pledge.deadline.year
    while year in covered:
        year += 1
    return (
        "pending_calendar",
        f"公示日落在 {year} 年，该年节假日安排尚未载入，暂无法计算；载入 {year} 年国务院放假通知后自动计算",
        f"publication day pending: calendar {year} not loaded",
    )


def publication_status(pledge: Pledge, calendar: WorkCalendar) -> dict[str, Any]:
    """``computed`` with the day; ``not_applicable`` for a pledge that can no longer be published without
    a day (fulfilled, cancelled, found false before its year was loaded); else ``pending_calendar`` with a
    message naming the missing year. The message is in Chinese alone, as the pages show it to people;
    ``pledge_view`` (the API's answer) adds the English gloss integrators read."""
    status, message, _ = _publication(pledge, calendar)
    return {"publication_day_status": status, "publication_day_message": message}


def pledge_records(*, session: Session, pledge_id: int) -> list[dict[str, Any]]:
    """The register records made from the pledge (its publication as overdue, or the false-pledge finding),
    oldest first, with the class and state as the breach pages name them, so the pledge's page can say
    what became of it (公示中, 异议处理中, 已信用修复 …) and link the record: the pledge's own state stays
    已公示失信 or 虚假承诺 whatever the record's outcome."""
    stmt = select(PublishedBreach).where(PublishedBreach.pledge_id == pledge_id)
    return [
        {
            "id": r.id,
            "number": r.number,
            "severity_label": SEVERITY_LABELS[r.severity],
            "state": str(r.state),
            "state_label": BREACH.state(r.state).label,
            "decision_date": r.decision_date,
            "publication_end": r.publication_end,
        }
        for r in session.exec(stmt.order_by(col(PublishedBreach.id))).all()
    ]


def pledge_view(
    pledge: Pledge, calendar: WorkCalendar, authority: Department | None = None
) -> dict[str, Any]:
    data = pledge.model_dump(exclude={"import_key", "year", "seq", "access_code_digest"})
    data["state_label"] = PLEDGE.state(pledge.state).label
    data["authority_code"] = authority.code if authority else None
    data["authority_name"] = authority.name if authority else None
    status, message, english = _publication(pledge, calendar)
    data["publication_day_status"] = status
    data["publication_day_message"] = f"{message} ({english})" if message else None
    return data


def get_pledge(*, session: Session, pledge_id: int, actor: Actor | None = None) -> Pledge:
    """The pledge; a handler of another department gets "not found", as for complaints."""
    pledge = session.get(Pledge, pledge_id)
    if pledge is None or (
        actor is not None and actor.role == Role.HANDLER and actor.department_id != pledge.authority_id
    ):
        raise NotFound(f"承诺 #{pledge_id} 不存在；请核对编号 (no pledge {pledge_id})")
    return pledge


# The longest search term the list takes (the API and the page refuse a longer one with 422): a number,
# name or credit code is far shorter, and SQLite refuses LIKE patterns beyond 50,000 bytes.
SEARCH_MAX_LENGTH = 100


@dataclass(frozen=True)
class PledgeQuery:
    state: PledgeState | None = None
    authority: str | None = None
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None
    publication_from: dt.date | None = None  # publication day on or after (pending days never match)
    publication_to: dt.date | None = None
    q: str | None = None  # number, pledgor name or credit code (contains)
    after: int | None = None  # keyset: the last id of the previous page
    limit: int = 50


def list_pledges(*, session: Session, query: PledgeQuery, actor: Actor) -> tuple[list[Pledge], int | None]:
    stmt = select(Pledge)
    if actor.role == Role.HANDLER:
        stmt = stmt.where(Pledge.authority_id == actor.department_id)
    if query.state:
        stmt = stmt.where(Pledge.state == query.state)
    if query.authority:
        stmt = stmt.where(Pledge.authority_id == department_by_code(session=session, code=query.authority).id)
    if query.deadline_from:
        stmt = stmt.where(col(Pledge.deadline) >= query.deadline_from)
    if query.deadline_to:
        stmt = stmt.where(col(Pledge.deadline) <= query.deadline_to)
    if query.publication_from:
        stmt = stmt.where(col(Pledge.publication_day) >= query.publication_from)
    if query.publication_to:
        stmt = stmt.where(col(Pledge.publication_day) <= query.publication_to)
    if query.q:
        like = f"%{query.q.strip()}%"
        stmt = stmt.where(
            col(Pledge.number).like(like)
            | col(Pledge.pledgor_name).like(like)
            | col(Pledge.pledgor_credit_code).like(like)
        )
    if query.after:
        stmt = stmt.where(col(Pledge.id) < query.after)
    limit = max(1, min(query.limit, 200))
    rows = list(session.exec(stmt.order_by(col(Pledge.id).desc()).limit(limit + 1)).all())
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


# Events a pledge records besides the lifecycle's transitions, in words.
EXTRA_EVENT_LABELS = {
    "register": "登记承诺",
    "deadline_resolved": "核查期限确定（节假日安排载入）",
    "deadline_recomputed": "核查期限调整（节假日安排更正）",
    "department_succeeded": "审批部门撤并，由承接部门继续办理（机构改革）",
}


def event_label(event: str) -> str:
    """What a pledge's event is called on the staff pages and in the API (its raw name if unknown)."""
    if event in PLEDGE.event_names:
        return PLEDGE.transition(event).label
    return EXTRA_EVENT_LABELS.get(event, event)


def pledge_events(*, session: Session, pledge_id: int, actor: Actor | None = None) -> list[CaseEvent]:
    get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    stmt = select(CaseEvent).where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pledge_id)
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())
