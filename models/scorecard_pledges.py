"""The pledge half of the department scorecard, for a period: per authority, the pledges that fell due
(fulfilment rate), the evidence reviews decided and how many on time, the breach records published, and
the objections and repair requests lodged and decided, by outcome.

A review is on time when no lateness event (red warning, 催办, 督办, 提级) came between the evidence it
decided and the decision. The fulfilment rate counts the pledges due in the period that have an outcome:
fulfilled, against published as broken or found false; open and cancelled ones are left out of it, and so
is a published or false one whose record was withdrawn on an upheld objection (the finding was wrong, and
the pledge is not thereby shown fulfilled).

Pledges count for the authority, and breach records for the deciding department, they had at the period's
end: a later retirement moved them on (``models.department_history``), not the work done before it.

Only records of pledges count here. A government breach record (source_kind "complaint") names the
department's 主管部门 in ``department_id`` but was confirmed by the credit office, whose supervisors decide
its objection and repair (models/government_credit.py): counted under that 主管部门 it would credit it with
decisions it never took. The complaint half of the scorecard counts those breaches (确认失信).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.breach_record import published_class
from models.department_history import departments_at
from models.lifecycle import PledgeState as PS
from models.org import Department
from models.pledge import Pledge
from models.register.states import finding_stands
from models.scorecard import DepartmentScore, Period

# The records this half counts: a government breach record's named department decides nothing on it.
PLEDGE_RECORD = "pledge"
REVIEW_DECISIONS = ("confirm", "reject_evidence", "confirm_false")
REVIEW_LATE = ("review_warn_red", "review_remind", "review_supervise", "review_escalate")
# Objection and repair events on breach records, each counted by outcome.
RECORD_OUTCOMES = {
    "object": "objections",
    "uphold_withdraw": "objections_withdrawn",
    "uphold_correct": "objections_corrected",
    "reject_objection": "objections_rejected",
    "request_repair": "repairs",
    "approve_repair": "repairs_approved",
    "reject_repair": "repairs_rejected",
}


@dataclass(frozen=True)
class PledgeScore:
    code: str
    name: str
    due: int = 0  # pledges whose deadline fell in the period
    fulfilled: int = 0
    broken: int = 0  # published as breaches that stand (not withdrawn), or found false
    reviewed: int = 0  # evidence decisions taken in the period
    reviewed_on_time: int = 0
    # Pledge breach records published (JDRQ in the period); one of class 轻微 is kept but not published
    # (``published_class``), so it is not one of them.
    published: int = 0
    objections: int = 0
    objections_withdrawn: int = 0
    objections_corrected: int = 0
    objections_rejected: int = 0
    repairs: int = 0
    repairs_approved: int = 0
    repairs_rejected: int = 0

    @property
    def fulfilment_rate(self) -> float | None:
        decided = self.fulfilled + self.broken
        return self.fulfilled / decided if decided else None

    @property
    def review_timeliness(self) -> float | None:
        return self.reviewed_on_time / self.reviewed if self.reviewed else None


def pledge_scores(*, session: Session, period: Period) -> list[PledgeScore]:
    """One row per department with a pledge due, a review, a record or an objection or repair in
    ``period``, by department code."""
    tallies: dict[int, Counter[str]] = {}

    def tally(dept_id: int) -> Counter[str]:
        return tallies.setdefault(dept_id, Counter())

    start, end = period.bounds()
    # Each case counts for the department it had at the period's end: a later retirement moved it on.
    authority = departments_at(session=session, kind="pledge", end=end)
    decider = departments_at(session=session, kind="breach", end=end)
    due = (
        select(Pledge.id, Pledge.authority_id, Pledge.state, PublishedBreach.state)
        .outerjoin(PublishedBreach, col(PublishedBreach.pledge_id) == col(Pledge.id))
        .where(col(Pledge.deadline) >= period.start, col(Pledge.deadline) <= period.end)
    )
    for pledge_id, dept_id, state, record_state in session.exec(due).all():
        t = tally(authority.get(pledge_id or 0, dept_id))
        t["due"] += 1
        t["fulfilled"] += state == PS.FULFILLED
        t["broken"] += _broken(state, record_state)
    for dept_id, on_time in _reviews(session, period, authority):
        tally(dept_id)["reviewed"] += 1
        tally(dept_id)["reviewed_on_time"] += on_time
    published = select(PublishedBreach.id, PublishedBreach.department_id, PublishedBreach.severity).where(
        PublishedBreach.source_kind == PLEDGE_RECORD,
        col(PublishedBreach.decision_date) >= period.start,
        col(PublishedBreach.decision_date) <= period.end,
    )
    for record_id, dept_id, severity in session.exec(published).all():
        tally(decider.get(record_id or 0, dept_id))["published"] += published_class(severity)
    records = (
        select(PublishedBreach.id, PublishedBreach.department_id, CaseEvent.event)
        .join(PublishedBreach, col(PublishedBreach.id) == col(CaseEvent.case_id))
        .where(
            CaseEvent.case_kind == "breach",
            PublishedBreach.source_kind == PLEDGE_RECORD,
            col(CaseEvent.event).in_(RECORD_OUTCOMES),
            col(CaseEvent.at) >= start,
            col(CaseEvent.at) < end,
        )
    )
    for record_id, dept_id, event in session.exec(records).all():
        tally(decider.get(record_id or 0, dept_id))[RECORD_OUTCOMES[event]] += 1
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    rows = [
        PledgeScore(code=departments[d].code, name=departments[d].name, **dict(t))
        for d, t in tallies.items()
        if d in departments
    ]
    return sorted(rows, key=lambda r: r.code)


def _broken(state: str, record_state: str | None) -> bool:
    """A published or false pledge whose record still stands as a breach (``finding_stands``): a record
    withdrawn on an upheld objection was a wrong finding and leaves the pledge out of the rate, while a
    repaired or expired one was a breach all the same. A false pledge has its record since findings were
    recorded (models/pledges/review.py ``record_false_pledge``); one confirmed before has none, and its
    finding stands."""
    if state not in (PS.FALSE_PLEDGE, PS.PUBLISHED):
        return False
    return record_state is None or finding_stands(record_state)


def _reviews(session: Session, period: Period, moved: dict[int, int]) -> list[tuple[int, bool]]:
    """(authority id, on time) for every evidence decision taken in ``period``; ``moved`` gives the
    authority at the period's end of the pledges a later retirement moved."""
    start, end = period.bounds()
    decided = select(CaseEvent.case_id).where(
        CaseEvent.case_kind == "pledge",
        col(CaseEvent.event).in_(REVIEW_DECISIONS),
        col(CaseEvent.at) >= start,
        col(CaseEvent.at) < end,
    )
    ids = set(session.exec(decided).all())
    if not ids:
        return []
    authority = dict(
        session.exec(select(Pledge.id, Pledge.authority_id).where(col(Pledge.id).in_(ids))).all()
    )
    authority.update((i, d) for i, d in moved.items() if i in authority)
    events = session.exec(
        select(CaseEvent.case_id, CaseEvent.event, CaseEvent.at)
        .where(
            CaseEvent.case_kind == "pledge",
            col(CaseEvent.case_id).in_(ids),
            col(CaseEvent.event).in_(("submit_evidence", *REVIEW_DECISIONS, *REVIEW_LATE)),
        )
        .order_by(col(CaseEvent.case_id), col(CaseEvent.seq))
    ).all()
    result: list[tuple[int, bool]] = []
    late: dict[int, bool] = {}
    for case_id, event, at in events:
        if event == "submit_evidence":
            late[case_id] = False  # a new review round
        elif event in REVIEW_LATE:
            late[case_id] = True
        elif case_id in authority and start <= at < end:
            result.append((authority[case_id], not late.get(case_id, False)))
    return result


EXPORT_HEADERS = [
    "部门编码", "部门", "承办件数", "按时办理件数", "按时办理率", "办结件数", "不满意办结", "无法联系办结",
    "撤回办结", "重办率（占三类办结合计）", "确认失信", "满意率（含基本满意）", "参与办理件数", "核实件数",
    "到期承诺",
    "已履约", "失信（公示或虚假）", "履约率", "材料核查件数", "按时核查件数", "核查及时率", "公示失信记录",
    "异议", "异议成立撤销", "异议成立更正", "异议不成立", "信用修复申请", "准予修复", "不予修复",
]  # fmt: skip


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def export_rows(complaints: list[DepartmentScore], pledges: list[PledgeScore]) -> list[list[object]]:
    """One row per department of either half, by code, in ``EXPORT_HEADERS`` order."""
    by_code: dict[str, tuple[DepartmentScore | None, PledgeScore | None]] = {}
    for score in complaints:
        by_code[score.code] = (score, None)
    for pledge in pledges:
        by_code[pledge.code] = (by_code.get(pledge.code, (None, None))[0], pledge)
    rows: list[list[object]] = []
    for code, (c, p) in sorted(by_code.items()):
        name = c.name if c is not None else p.name if p is not None else ""
        left: list[object] = (
            [c.handled, c.on_time, _pct(c.on_time_rate), c.closed, c.closed_unsatisfied, c.closed_unreachable,
             c.closed_withdrawn, _pct(c.redo_rate), c.breaches, _pct(c.satisfaction_rate), c.acted,
             c.verified]
            if c is not None else [0, 0, "—", 0, 0, 0, 0, "—", 0, "—", 0, 0]
        )  # fmt: skip
        right: list[object] = (
            [p.due, p.fulfilled, p.broken, _pct(p.fulfilment_rate), p.reviewed, p.reviewed_on_time,
             _pct(p.review_timeliness), p.published, p.objections, p.objections_withdrawn,
             p.objections_corrected, p.objections_rejected, p.repairs, p.repairs_approved, p.repairs_rejected]
            if p is not None else [0, 0, 0, "—", 0, 0, "—", 0, 0, 0, 0, 0, 0, 0, 0]
        )  # fmt: skip
        rows.append([code, name, *left, *right])
    return rows
