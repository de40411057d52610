"""What a case must show before some staff actions may be taken, beyond its state and the actor's role.

The lifecycle table answers by state and role only. A few actions also need a fact of the case: a pending
extension request to decide, a refusal to rectify that is established, enough redos or contact attempts
to end the case unresolved. Each such rule is here once, as a function of the case and the day that
returns what it found (for the action's audit event) or raises ``ValidationFailed`` saying what is
missing. ``actions.act`` refuses with it; ``visibility.available_actions`` leaves the action out, so the
API and the pages offer nothing that is then refused, and the case page can say why an action is missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar, load_calendar
from models.clock import iso_date
from models.complaint import Complaint, handling_case
from models.errors import ValidationFailed
from models.lifecycle import COMPLAINT, WITHDRAWAL_REFUSED_WHY, ComplaintState, Role
from models.settings import get_settings


class CaseFacts(Protocol):
    """The columns the rules read: a ``Complaint``, or a work-queue row carrying the same columns."""

    @property
    def id(self) -> int | None: ...
    @property
    def stage_seq(self) -> int: ...
    @property
    def stage_deadline(self) -> dt.date | None: ...
    @property
    def extension_requested_days(self) -> int | None: ...
    @property
    def extension_used(self) -> bool: ...
    @property
    def redo_count(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def paused_from_state(self) -> str | None: ...
    @property
    def dispatched_on(self) -> dt.date | None: ...


# The case's events of a name in its current stage (of its whole history for ``_LIFELONG``), oldest first:
# read per case (``stage_events``), or from the events the work queue loaded for all its cases at once.
EventsOf = Callable[[str], list[CaseEvent]]
# 核实 (verification): a case verified once stays verified when redone (redo → 已签收) or closed and
# reopened, and its breach stays the credit office's matter (``withdrawal_allowed``). Found true also
# precedes any 确认违约失信, so these two cover it.
VERIFICATIONS = ("verify_true", "verify_untrue")
# Events that mark the case for good rather than for one stage: every one counts, whatever its stage.
_LIFELONG = frozenset(VERIFICATIONS)
Rule = Callable[[CaseFacts, EventsOf, dt.date], dict[str, Any]]
# A rule that counts working days is handed the calendar as well, to load when it counts (``load_calendar``
# is a key read per call: the work queue reads the rules of every row it lists).
DatedRule = Callable[[CaseFacts, EventsOf, dt.date, Callable[[], WorkCalendar]], dict[str, Any]]


def _holds(_case: CaseFacts, _events: EventsOf, _today: dt.date) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Precondition:
    check: Rule
    reads: tuple[str, ...] = ()  # the events the rule reads, besides the case's columns
    # The case page says why the action is missing when the page has no other hint of it (a supervisor
    # looking for 确认违约失信 must learn when it opens; the redo count already says when 不满意办结 does).
    explained: bool = False
    # Once the rule holds, the case waits on the action's roles for it even in a state that does not wait
    # on them (整改中 waits on the department, yet a pending extension or a passed deadline waits on the
    # supervisor's decision): the work queue and the case page's 待…办理 line name them then. Not for an
    # action a role may take but nobody waits for (an extension request, an optional ending).
    awaited: bool = False
    # Checked after ``check``, with the calendar: for a rule that counts working days.
    dated: DatedRule | None = None


def stage_events(session: Session, case: CaseFacts, event: str) -> list[CaseEvent]:
    """The case's ``event`` events of its current stage, oldest first (the handler stamps ``stage_seq`` in
    their data: a stage the case left, e.g. an earlier rectification period, does not count)."""
    stmt = select(CaseEvent).where(
        CaseEvent.case_kind == "complaint", CaseEvent.case_id == case.id, CaseEvent.event == event
    )
    return in_stage(case, session.exec(stmt.order_by(col(CaseEvent.seq))).all())


def in_stage(case: CaseFacts, events: Sequence[CaseEvent]) -> list[CaseEvent]:
    """Those of ``events`` stamped with the case's current stage (``stage_seq`` in their data), and all of
    those that mark it for good (``_LIFELONG``)."""
    return [e for e in events if e.event in _LIFELONG or e.data.get("stage_seq") == case.stage_seq]


def counted_days(attempts: list[CaseEvent], calendar: WorkCalendar) -> tuple[list[str], list[str]]:
    """The different days of contact ``attempts``, in order: those that count (working days by the
    calendar as it is now), and those whose year has no holiday notice yet (they count once it is loaded,
    if they are working days in it).

    Worked out from the stored days, not from what was known when each attempt was recorded: attempts
    made in a January before the notice was loaded count as soon as it is, and a corrected notice counts
    them by its days."""
    counted: list[str] = []
    waiting: list[str] = []
    for day in dict.fromkeys(str(e.data["contact_day"]) for e in attempts):
        workday = calendar.is_workday_if_known(dt.date.fromisoformat(day))
        if workday is None:
            waiting.append(day)
        elif workday:
            counted.append(day)
    return counted, waiting


def _extension_pending(case: CaseFacts) -> bool:
    return case.extension_requested_days is not None and not case.extension_used


def extension_may_be_requested(case: CaseFacts, _events: EventsOf, today: dt.date) -> dict[str, Any]:
    """RULEBOOK §6: once per stage, before the stage's deadline."""
    if case.extension_used or case.extension_requested_days is not None:
        raise ValidationFailed("本环节已申请过延期，每个环节只能申请一次 (one extension request per stage)")
    if case.stage_deadline is not None and today > case.stage_deadline:
        raise ValidationFailed(
            f"办理期限 {case.stage_deadline.isoformat()} 已过，延期须在期限届满前申请 "
            "(request before the deadline)"
        )
    return {}


def extension_to_decide(case: CaseFacts, _events: EventsOf, _today: dt.date) -> dict[str, Any]:
    if not _extension_pending(case):
        raise ValidationFailed("本环节没有待审批的延期申请 (no pending extension request)")
    return {}


def refusal_established(case: CaseFacts, events: EventsOf, today: dt.date) -> dict[str, Any]:
    """Why 拒不整改 may be confirmed now (models/complaints/refusal.py tells the rule), or what is missing."""
    deadline = case.stage_deadline
    # A pending request was made before the deadline (``request_extension`` refuses a late one), and
    # RULEBOOK §6 allows such a request up to 10 more working days: until the supervisor decides it the
    # deadline may yet move, so its passing proves no refusal.
    pending = _extension_pending(case)
    if deadline is not None and today > deadline and not pending:
        return {"grounds": "deadline_passed", "rectification_deadline": deadline.isoformat()}
    refusals = events("record_refusal")
    if refusals:
        return {"grounds": "refusal_recorded", "refusal_event_seq": refusals[-1].seq}
    if deadline is not None and today > deadline:
        raise ValidationFailed(
            f"整改期限（{deadline.isoformat()}）届满前主办部门已申请延期 {case.extension_requested_days} "
            "个工作日，尚未审批：请先审批该延期申请，再按审批后的期限确认拒不整改；已掌握拒不整改证据的，"
            "可先“记录拒不整改及证据”后确认 (an extension requested before the deadline is pending: "
            "decide it first)",
            rectification_deadline=deadline.isoformat(),
            extension_requested_days=case.extension_requested_days,
        )
    until = f"整改期限（{deadline.isoformat()}）尚未届满" if deadline else "整改期限尚未确定"
    raise ValidationFailed(
        f"{until}，且本整改期内未记录拒不整改及证据：请在期限届满后确认，或先执行“记录拒不整改及证据”"
        "（附证明文件或文号） (the rectification deadline has not passed and no refusal is recorded)",
        rectification_deadline=iso_date(deadline),
    )


def return_window_open(
    case: CaseFacts, _events: EventsOf, today: dt.date, calendar_of: Callable[[], WorkCalendar]
) -> dict[str, Any]:
    """RULEBOOK complaints §4: a wrongly dispatched order is returned (退单) within 2 working days."""
    window = get_settings().return_window_working_days
    dispatched = case.dispatched_on
    if dispatched is None:
        return {}
    calendar = calendar_of()
    # Before next year's notice is loaded only the days of the loaded years are counted: the return is
    # refused when those alone pass the window, never on a guess about the days after them.
    elapsed, _ = calendar.working_days_at_least(dispatched, today)
    if elapsed <= window:
        return {}
    last = calendar.add_working_days(dispatched, window)
    # The RULEBOOK re-dispatches (改派) only a returned order: past the window nobody can reassign it.
    raise ValidationFailed(
        f"已超过退单时限：{window} 个工作日内（截至 {last.isoformat()}）可退单，现已过 {elapsed} 个工作日，"
        "不能再退单；请签收办理，对派单有异议的可在签收备注中写明"
        " (return window has passed: sign for the order; note any objection when signing)",
        dispatched_on=dispatched.isoformat(),
        last_day=last.isoformat(),
    )


def redone_enough(case: CaseFacts, _events: EventsOf, _today: dt.date) -> dict[str, Any]:
    limit = get_settings().unsatisfied_close_after_redos
    if case.redo_count < limit:
        raise ValidationFailed(
            f"不满意办结须在重办 {limit} 次之后；本案已重办 {case.redo_count} 次，请先执行“回访不满意，重办” "
            f"(the case must be redone {limit} times first)",
            redo_count=case.redo_count,
            required=limit,
        )
    return {"redo_count": case.redo_count}


_WAITING_EN = ": days of a year whose notice is not loaded count once it is"


def unreachable_established(
    _case: CaseFacts, events: EventsOf, _today: dt.date, calendar_of: Callable[[], WorkCalendar]
) -> dict[str, Any]:
    attempts = events("record_contact_attempt")
    days, waiting = counted_days(attempts, calendar_of()) if attempts else ([], [])
    required = get_settings().unreachable_contact_attempts
    if len(days) < required:
        tried = "、".join(days) or "无"
        unknown = (
            f"；另有 {len(waiting)} 天（{'、'.join(waiting)}）所在年份的节假日安排尚未载入工作日历，"
            "载入后如为工作日即计入"
            if waiting
            else ""
        )
        raise ValidationFailed(
            f"无法联系办结须先在 {required} 个不同工作日联系投诉人未果；本阶段已记录 {len(days)} 个工作日"
            f"（{tried}）{unknown}，请继续联系并记录 (needs {required} failed attempts on different working "
            "days"
            + (": days of a year whose notice is not loaded count once it is" if waiting else "")
            + ")",
            contact_days=days,
            waiting_for_calendar=waiting,
            required=required,
        )
    return {"contact_days": days}


def withdrawal_allowed(case: CaseFacts, events: EventsOf, _today: dt.date) -> dict[str, Any]:
    """A pause awaiting the complainant stands for the stage it began in (``resume`` returns there): the
    complaint may be withdrawn from it only if it may be from that stage. And a case verified once may not
    be withdrawn even where the table allows it: redone (back to 已签收) or closed and reopened, it is still
    a case verified (``VERIFICATIONS``)."""
    stage = str(case.state)
    if case.state == ComplaintState.AWAITING_COMPLAINANT and case.paused_from_state is not None:
        stage = case.paused_from_state
        if stage not in COMPLAINT.transition("withdraw").sources:
            raise ValidationFailed(
                f"案件暂停前处于“{COMPLAINT.state(stage).label}”。{WITHDRAWAL_REFUSED_WHY}。请先“恢复办理”，"
                "继续办理至答复投诉人，并将投诉人的撤回意愿及理由写入答复，按回访办结的流程结束案件 "
                "(the pause began after verification: resume, and close through the reply and return visit)",
                paused_from=stage,
            )
    verified = [e for name in VERIFICATIONS for e in events(name)]
    if verified:
        found = COMPLAINT.transition(verified[-1].event).label
        raise ValidationFailed(
            f"本案此前已“{found}”，其后重办或重启的仍是已核实的案件。{WITHDRAWAL_REFUSED_WHY}。请继续办理至"
            "答复投诉人，并将投诉人的撤回意愿及理由写入答复，按回访办结的流程结束案件 "
            "(the case was verified before it was redone or reopened: close it through the reply)",
            verified_event=verified[-1].event,
        )
    return {"withdrawn_in": stage}


def department_awaited(case: CaseFacts, _events: EventsOf, _today: dt.date) -> dict[str, Any]:
    """A supervisor's 催办/督办/提级办理 is a notice to the department whose move the stage awaits
    (models/complaints/supervision.py). A stage that waits on intake staff or the supervisors themselves
    (初审, 派单, 改派, 整改审核, 回访) has no such department: the chase would reach nobody while the page
    said it was done, and mailing every intake agent of a 12345 centre is no chase either. The deadline
    flow fires its steps without this rule (``deadlines.climb``), so the supervisors' alert still comes."""
    spec = COMPLAINT.state(str(case.state))
    if Role.HANDLER not in spec.waiting_on:
        raise ValidationFailed(
            f"本案处于“{spec.label}”，该环节由受理及督办人员办理，不待承办部门办理，没有可催办、督办或"
            "提级办理的部门；请直接办理本环节 (the stage waits on intake staff or supervisors, not on a "
            "department: there is nobody to chase)",
            state=str(case.state),
        )
    return {}


def nothing_merged_in(session: Session, case: CaseFacts) -> None:
    """A withdrawal speaks for one complainant: a case other complaints were merged into (并单) is handled
    for them too and goes on. Read by the withdrawal itself, not listed in ``PRECONDITIONS``: it takes a
    query per case, and the work queue reads those rules for every row it lists."""
    joined = session.exec(select(Complaint.number).where(Complaint.merged_into_id == case.id)).all()
    if joined:
        raise ValidationFailed(
            f"已有其他投诉（{'、'.join(sorted(joined))}）并入本案一并办理，本投诉人的撤回不能代表其他投诉人，"
            "本案须继续办理：请在答复中一并说明本投诉人的撤回意愿，按答复、回访办结的流程结束案件 "
            "(other complaints were merged into this case: it must go on for them)",
            merged_numbers=sorted(joined),
        )


def handling_case_open(session: Session, merged: Complaint) -> Complaint | None:
    """The case a merged complaint is handled with (through a chain of merges, C into B, B into A: the one
    not merged itself), while the complaint may still leave it: not once it has ended (its ending was the
    complaint's too, and the withdrawal mail would say the case goes on) nor once it is verified (as for
    the complaint's own case). None for a complaint not merged. Read by the withdrawal itself, as
    ``nothing_merged_in``: a merged complaint has ended, so no work queue lists it."""
    if merged.merged_into_id is None:
        return None
    handling = handling_case(session, merged)
    spec = COMPLAINT.state(handling.state)
    if spec.terminal:
        raise ValidationFailed(
            f"本投诉已并入案件 {handling.number} 一并办理，该案已“{spec.label}”，本投诉随之结束，"
            "无从撤回；投诉人对结果有异议的，可由督办人员重启该案 "
            "(the case it joined has ended, and this complaint with it: nothing is left to withdraw)",
            handling_number=handling.number,
        )
    verified = session.exec(
        select(CaseEvent.event).where(
            CaseEvent.case_kind == "complaint",
            CaseEvent.case_id == handling.id,
            col(CaseEvent.event).in_(VERIFICATIONS),
        )
    ).first()
    if verified is not None:
        raise ValidationFailed(
            f"本投诉已并入案件 {handling.number} 一并办理，该案已“{COMPLAINT.transition(verified).label}”。"
            f"{WITHDRAWAL_REFUSED_WHY}。请将投诉人的撤回意愿及理由转告该案办理部门，写入该案的答复 "
            "(the case it joined has been verified: the withdrawal goes into that case's reply)",
            handling_number=handling.number,
        )
    return handling


PRECONDITIONS: dict[str, Precondition] = {
    "request_extension": Precondition(extension_may_be_requested),
    "approve_extension": Precondition(extension_to_decide, awaited=True),
    "refuse_extension": Precondition(extension_to_decide, awaited=True),
    "confirm_breach": Precondition(refusal_established, ("record_refusal",), explained=True, awaited=True),
    "close_unsatisfied": Precondition(redone_enough),
    # Dated: the attempts count on working days by the calendar as it is when the case is closed.
    "close_unreachable": Precondition(
        _holds, ("record_contact_attempt",), explained=True, dated=unreachable_established
    ),
    "withdraw": Precondition(withdrawal_allowed, VERIFICATIONS, explained=True),
    # Explained: a handler who finds 退单 gone from a page that offered it yesterday must learn why.
    "return_order": Precondition(_holds, dated=return_window_open, explained=True),
    # Explained: a supervisor finding no 催办 on a late case must learn that nobody but staff is awaited.
    "remind": Precondition(department_awaited, explained=True),
    "supervise": Precondition(department_awaited, explained=True),
    "escalate": Precondition(department_awaited, explained=True),
}


def require(
    *,
    session: Session,
    case: CaseFacts,
    action: str,
    today: dt.date,
    events: EventsOf | None = None,
    calendar: WorkCalendar | None = None,
) -> dict[str, Any]:
    """What ``action``'s precondition found (empty when it has none); raises when it does not hold.
    ``events``: the case's stage events already loaded (the work queue's); read from ``session`` if not.
    ``calendar``: the one the action runs with (``act``'s); the stored one is loaded if a rule needs it."""
    rule = PRECONDITIONS.get(action)
    if rule is None:
        return {}
    reader = events or (lambda event: stage_events(session, case, event))
    found = rule.check(case, reader, today)
    if rule.dated is not None:
        found = {
            **found,
            **rule.dated(case, reader, today, lambda: calendar or load_calendar(session=session)),
        }
    return found


def unmet(
    *,
    session: Session,
    case: CaseFacts,
    action: str,
    today: dt.date,
    events: EventsOf | None = None,
    calendar: WorkCalendar | None = None,
) -> ValidationFailed | None:
    """Why ``action`` may not be taken on the case now, or None when nothing of the case stands in its way."""
    try:
        require(session=session, case=case, action=action, today=today, events=events, calendar=calendar)
    except ValidationFailed as refusal:
        return refusal
    return None
