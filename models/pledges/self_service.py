"""What the pledgor does and reads on the public side beyond the register: the state of their pledge (number
+ access code), why evidence cannot be handed in now and what to do instead, the dates the objection and
repair forms state before they are filled, the rule against lodging the same objection again, and the
acknowledgement of a lodged objection or repair request."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach, Severity
from models.breach_notices import acknowledge_request
from models.calendar import WorkCalendar
from models.clock import Clock, chinese_date, iso_date
from models.errors import Conflict, OutOfCalendarCoverage, TransitionNotAllowed, ValidationFailed
from models.lifecycle import BREACH, PLEDGE, BreachState, DeadlineRule, PledgeState
from models.org import Department
from models.pledge import Pledge
from models.pledges.access import check_pledgor
from models.pledges.mail import resubmission
from models.publish_plan import held, late_evidence
from models.register.decisions import SMS_RESULTS
from models.register.states import RecordOutcome, record_outcome
from models.stage_deadline import deadline_text
from models.text import visible_text
from models.workflow import rule_days


# The deadlines of the states an objection and a repair request put a record in: every promise of an
# answer time (forms, pages, mails, the status answer) is read from these rules (``rule_days``), which a
# locality may override (SHOUXIN_DEADLINE_OVERRIDES).
def _rule(state: BreachState) -> DeadlineRule:
    rule = BREACH.state(state).deadline
    assert rule is not None, f"breach state {state} has no deadline"
    return rule


OBJECTION_RULE = _rule(BreachState.UNDER_OBJECTION)
REPAIR_RULE = _rule(BreachState.REPAIR_REQUESTED)


def _due(rule: DeadlineRule, calendar: WorkCalendar, today: dt.date) -> dt.date | None:
    try:
        return calendar.add_working_days(today, rule_days(rule))
    except OutOfCalendarCoverage:
        return None


def objection_reply_due(*, calendar: WorkCalendar, today: dt.date) -> dt.date | None:
    """The day the deciding department must answer an objection lodged today (None while the calendar does
    not cover it yet: the form then says the working days instead)."""
    return _due(OBJECTION_RULE, calendar, today)


def objection_reply_days() -> int:
    return rule_days(OBJECTION_RULE)


def repair_decision_due(*, calendar: WorkCalendar, today: dt.date) -> dt.date | None:
    """The day the deciding department must decide a repair request filed today (None as for an
    objection's)."""
    return _due(REPAIR_RULE, calendar, today)


def repair_decision_days() -> int:
    return rule_days(REPAIR_RULE)


def pending_request(record: PublishedBreach) -> dict[str, Any] | None:
    """The request the record is being decided on now, as the record's page confirms it after filing: its
    kind, the working days of its rule and its stored deadline (``due`` None and ``due_pending`` while its
    year is not loaded: 待日历确定), as the acknowledgement mail states them; None when nothing is pending."""
    rule = _PENDING_RULES.get(BreachState(record.state))
    if rule is None:
        return None
    kind = "objection" if rule is OBJECTION_RULE else "repair"
    return {
        "kind": kind,
        "working_days": rule_days(rule),
        "due": record.stage_deadline,
        "due_pending": bool(record.deadline_pending),
    }


_PENDING_RULES = {BreachState.UNDER_OBJECTION: OBJECTION_RULE, BreachState.REPAIR_REQUESTED: REPAIR_RULE}


def _same(a: str | None, b: str | None) -> bool:
    # Compared as read: spaces or invisible characters added to the rejected words are not new facts.
    return visible_text(a) == visible_text(b)


def check_objection_allowed(
    *, session: Session, record: PublishedBreach, reason: str, evidence: str | None
) -> None:
    """One objection at a time, and none repeated: while one is being decided a second is refused, and after
    a rejection a new one must bring new facts — evidence, and not the rejected objection's words again."""
    if record.state == BreachState.UNDER_OBJECTION:
        raise Conflict(
            f"记录 {record.number} 的异议正在处理中，认定部门作出答复前不能再次提出 "
            "(an objection is being decided)"
        )
    if record.state != BreachState.PUBLISHED:
        return  # the lifecycle refuses it with its own reason
    stmt = (
        select(CaseEvent)
        .where(CaseEvent.case_kind == "breach", CaseEvent.case_id == record.id)
        .where(col(CaseEvent.event).in_(("object", "reject_objection")))
        .order_by(col(CaseEvent.seq))
    )
    events = list(session.exec(stmt).all())
    if not events or events[-1].event != "reject_objection":
        return
    # The office's day of the decision (events are stored in UTC: a rejection at 07:30 Beijing time is
    # the previous UTC day).
    rejected_on = Clock.from_settings().local_date(events[-1].at)
    lodged = [e for e in events if e.event == "object"]
    repeated = any(_same(e.note, reason) and _same(e.data.get("evidence"), evidence) for e in lodged)
    if not visible_text(evidence) or repeated:
        raise ValidationFailed(
            f"该记录的异议已于{chinese_date(rejected_on)}被认定不成立；再次提出异议须提供新的事实和"
            "证明材料（请在“证明材料说明”中写明） (a new objection after a rejection needs new facts)",
            field="evidence",
        )


def acknowledge_objection(
    *, session: Session, record: PublishedBreach, reply_due: dt.date | None, phone: str | None = None
) -> None:
    """Tell the subject the objection was received, when it will be answered and by whom (by e-mail, SMS
    or both: ``enqueue_for_subject``; ``phone`` is the mobile given with the objection)."""
    _acknowledge(session, record, "objection_received", phone, reply_due=iso_date(reply_due))


def acknowledge_repair(
    *, session: Session, record: PublishedBreach, decision_due: dt.date | None, phone: str | None = None
) -> None:
    """Tell the subject the repair request was received, when it will be decided and by whom."""
    _acknowledge(session, record, "repair_received", phone, decision_due=iso_date(decision_due))


def _acknowledge(
    session: Session, record: PublishedBreach, template: str, phone: str | None, **due: str | None
) -> None:
    # A pledge's record is answered by its deciding department (谁认定、谁修复).
    department = session.get(Department, record.department_id)
    name = department.name if department else "认定部门"
    acknowledge_request(
        session=session, record=record, template=template, answered_by=name, phone=phone, **due
    )


def pledge_status(
    *,
    session: Session,
    number: str,
    access_code: str | None,
    address: str | None,
    now: dt.datetime,
    today: dt.date,
) -> dict[str, Any]:
    """The pledge's state for its pledgor, proven by the access code (wrong codes are rate-limited like
    every other use of the code).

    ``record_shown`` says whether the register shows the pledge's breach record on ``today``, so the page
    links to it only then (a repaired, withdrawn or expired record's register page is not found); None
    without a record. The headline and the record's label follow the record's outcome on ``today``
    (``record_outcome``): one past its publication end is 公示期满 even before the expire flow has
    recorded it, and a withdrawn one is not a breach."""
    pledge = check_pledgor(session=session, number=number, code=access_code, address=address, now=now)
    authority = session.get(Department, pledge.authority_id)
    record = pledge_record(session=session, pledge=pledge)
    outcome = record_outcome(record, today) if record is not None else None
    spec = PLEDGE.state(pledge.state)
    under_review = pledge.state == PledgeState.EVIDENCE_SUBMITTED
    rejection = returned_evidence(session, pledge)
    returned = rejection is not None
    # The rejection notice may have reached no one (no e-mail, no mobile): the page behind the code is
    # where the pledgor can still read why and by when, as the notice would have said.
    resubmit = returned and pledge.state in _EVIDENCE_OPEN
    return {
        "number": pledge.number,
        "pledgor_name": pledge.pledgor_name,
        "matter": pledge.matter,
        "obligation": pledge.obligation,
        "authority_name": authority.name if authority else None,
        "state": pledge.state.value,
        "state_label": pledge_state_label(pledge, outcome),
        "deadline": pledge.deadline,
        # The publication day concerns the pledgor only while the pledge is open.
        "publication_day": None if spec.terminal else pledge.publication_day,
        "publication_day_text": None if spec.terminal else _publication_day_text(pledge),
        # Only the evidence still standing: a rejected file's day is not the pledgor's submission any more.
        "evidence_submitted_on": None if returned else pledge.evidence_submitted_on,
        "evidence_returned": returned,
        "returned_reason": rejection.note if rejection is not None and resubmit else None,
        # By when to hand in again, as the rejection notice told it (``resubmission``): one story.
        **_resubmission(pledge, today, resubmit),
        "review_due": pledge.stage_deadline if under_review else None,
        "review_due_text": deadline_text(pledge) if under_review else None,
        "record_number": record.number if record is not None else None,
        "record_state_label": outcome.label if outcome is not None else None,
        "record_shown": outcome.shown if outcome is not None else None,
        # A 轻微 record has no register page to link (it is not published), yet its subject may still
        # object or ask for repair: the page links the forms themselves, while the record takes either.
        "record_forms": outcome is not None
        and outcome.unpublished
        and outcome.state == BreachState.PUBLISHED,
        # The objections and repair requests on the record, so their filer can follow each online.
        "record_requests": record_requests(session=session, record=record) if record is not None else [],
    }


_REQUEST_KINDS = {"object": "objection", "request_repair": "repair"}
_REQUEST_LABELS = {"objection": "异议", "repair": "信用修复申请"}
_DECISIONS = {
    "uphold_withdraw": "objection",
    "uphold_correct": "objection",
    "reject_objection": "objection",
    "approve_repair": "repair",
    "reject_repair": "repair",
}


def record_requests(*, session: Session, record: PublishedBreach) -> list[dict[str, Any]]:
    """The objections and repair requests filed on ``record``, oldest first, as its subject follows them:
    each pending one with its due date (the stored deadline, 待日历确定 while its year is not loaded), each
    decided one with its day, outcome and reason as the decision notice told them (the notice's
    ``result`` and ``reason``: models/register/decisions.py ``_after_decision`` sends the event's note)."""
    stmt = (
        select(CaseEvent)
        .where(CaseEvent.case_kind == "breach", CaseEvent.case_id == record.id)
        .where(col(CaseEvent.event).in_((*_REQUEST_KINDS, *_DECISIONS)))
        .order_by(col(CaseEvent.seq))
    )
    clock = Clock.from_settings()
    items: list[dict[str, Any]] = []
    for event in session.exec(stmt).all():
        if event.event in _REQUEST_KINDS:
            kind = _REQUEST_KINDS[event.event]
            items.append(
                {
                    "kind": kind,
                    "kind_label": _REQUEST_LABELS[kind],
                    "lodged_on": clock.local_date(event.at),
                    "pending": True,
                    "due": None,
                    "due_pending": False,
                    "decided_on": None,
                    "outcome": None,
                    "reason": None,
                }
            )
            continue
        open_ = [i for i in items if i["pending"] and i["kind"] == _DECISIONS[event.event]]
        if not open_:
            continue  # a decision without its request in the trail: nothing the subject filed to follow
        open_[-1].update(
            pending=False,
            decided_on=clock.local_date(event.at),
            outcome=SMS_RESULTS[_result_key(event)],
            reason=event.note,
        )
    pending = pending_request(record)
    for item in items:
        if item["pending"] and pending is not None and pending["kind"] == item["kind"]:
            item.update(due=pending["due"], due_pending=pending["due_pending"])
    return items


def _result_key(event: CaseEvent) -> str:
    # As the notice words it: a correction to 轻微 keeps the record but ends its publication.
    after = event.data.get("after") if isinstance(event.data, dict) else None
    minor = isinstance(after, dict) and after.get("severity") == Severity.MINOR.value
    return "uphold_correct_minor" if event.event == "uphold_correct" and minor else event.event


def _resubmission(pledge: Pledge, today: dt.date, returned: bool) -> dict[str, Any]:
    told = resubmission(pledge=pledge, today=today)
    return {
        "resubmit_by": told["resubmit_by"] if returned else None,
        "resubmit_deadline_passed": returned and told["deadline_passed"],
        "late_evidence_held": told["late_evidence_held"],
    }


def evidence_receipt(*, session: Session, pledge_id: int) -> dict[str, Any]:
    """What the upload page confirms after evidence is handed in, as the ``pledge_evidence_received`` mail
    says it: the review's working days (the configured rule), its due date (待日历确定 while the year is
    not loaded) and whether publication waits for the decision (``held``)."""
    pledge = session.get(Pledge, pledge_id)
    assert pledge is not None
    rule = PLEDGE.state(PledgeState.EVIDENCE_SUBMITTED).deadline
    assert rule is not None
    under_review = pledge.state == PledgeState.EVIDENCE_SUBMITTED
    return {
        "working_days": rule_days(rule),
        "review_due": deadline_text(pledge) if under_review else None,
        "held": held(pledge),
    }


def _publication_day_text(pledge: Pledge) -> str:
    """The open pledge's publication day as its pledgor should read it: on hold while the publish step
    holds it (``held``, the sweep's own rule), 待日历确定 while its year is not loaded, else the date."""
    if held(pledge):
        return "核查期间暂缓公示（材料经确认的不予公示；被退回的，退回告知中载明公示日）"
    if pledge.publication_day is None:
        return "待日历确定（该年度节假日安排公布后计算）"
    day = chinese_date(pledge.publication_day)
    if pledge.state == PledgeState.EVIDENCE_SUBMITTED and late_evidence(pledge):
        # Late evidence under the publish_on_day rule does not hold the day (``publishable``).
        return f"{day}（材料在履约期限后提交，该日前未确认的仍将公示）"
    return day


def evidence_returned(session: Session, pledge: Pledge) -> bool:
    """Whether the pledge's latest evidence was rejected (its last evidence event is a rejection)."""
    return returned_evidence(session, pledge) is not None


def returned_evidence(session: Session, pledge: Pledge) -> CaseEvent | None:
    """The rejection of the pledge's latest evidence (its note is the reason the pledgor was given), or
    None when the latest evidence was not rejected."""
    if pledge.evidence_submitted_on is None:
        return None
    stmt = (
        select(CaseEvent)
        .where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pledge.id)
        .where(col(CaseEvent.event).in_(("submit_evidence", "reject_evidence")))
        .order_by(col(CaseEvent.seq).desc())
        .limit(1)
    )
    event = session.exec(stmt).first()
    return event if event is not None and event.event == "reject_evidence" else None


def pledge_record(*, session: Session, pledge: Pledge) -> PublishedBreach | None:
    """The breach record published for ``pledge``, if any (at most one: the publish step writes it once)."""
    return session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == pledge.id)).first()


# A published pledge whose record no longer shows, as its headline says it: the pledge stays 已公示失信 in
# its own lifecycle (terminal), but the record's outcome decides what that means now.
_PUBLISHED_NOW = {
    BreachState.WITHDRAWN: "失信公示已撤销（异议成立，不属违约失信）",
    BreachState.REPAIRED: "曾公示失信（已信用修复，停止公示）",
    BreachState.EXPIRED: "曾公示失信（公示期满，停止公示）",
}


# A broken pledge whose record is in force but of class 轻微: not published (RULEBOOK, publication §1).
_PUBLISHED_UNSHOWN = "逾期未履约，轻微失信依规不予公示"


# A pledge found false is recorded too (models/pledges/review.py ``record_false_pledge``): the same reading.
_FALSE_NOW = {
    BreachState.WITHDRAWN: "虚假承诺认定已撤销（异议成立）",
    BreachState.REPAIRED: "曾认定虚假承诺（已信用修复）",
    BreachState.EXPIRED: "曾认定虚假承诺（记录期满）",
}


def pledge_state_label(pledge: Pledge, outcome: RecordOutcome | None) -> str:
    """The pledge's state as its pledgor and the printed notice read it: a published or found-false
    pledge's by its record's outcome (``record_outcome``), so a withdrawn finding is never headed as a
    breach."""
    label = PLEDGE.state(pledge.state).label
    if outcome is None:
        return label
    if pledge.state == PledgeState.PUBLISHED and outcome.unpublished:
        return _PUBLISHED_UNSHOWN
    if pledge.state == PledgeState.PUBLISHED:
        return _PUBLISHED_NOW.get(outcome.state, label)
    if pledge.state == PledgeState.FALSE_PLEDGE:
        return _FALSE_NOW.get(outcome.state, label)
    return label


# A pledge its pledgor may still hand evidence in for (the lifecycle's ``submit_evidence`` sources).
_EVIDENCE_OPEN = frozenset({PledgeState.REGISTERED, PledgeState.OVERDUE})


def check_pledgor_may_submit(*, session: Session, pledge: Pledge, today: dt.date) -> None:
    """Refuse (409) evidence the pledge no longer takes, saying why and what the pledgor does instead: the
    lifecycle's own refusal names states and actions in staff words ("当前可执行：无")."""
    if pledge.state in _EVIDENCE_OPEN:
        return
    authority = session.get(Department, pledge.authority_id)
    name = authority.name if authority else "审批部门"
    contact = f"{name}（邮箱 {authority.email}）" if authority and authority.email else name
    if pledge.state == PledgeState.EVIDENCE_SUBMITTED:
        on = f"于{chinese_date(pledge.evidence_submitted_on)}" if pledge.evidence_submitted_on else ""
        message = (
            f"材料已{on}提交、正在核查，核查结果将另行告知，核查期间不能再次提交；"
            f"需补充材料的请联系{contact} (evidence is under review)"
        )
    elif pledge.state == PledgeState.FULFILLED:
        message = "承诺已履行完毕（审批部门已确认履约），无需再提交材料 (pledge already fulfilled)"
    elif pledge.state == PledgeState.PUBLISHED:
        message = _published_refusal(session, pledge, today)
    elif pledge.state == PledgeState.FALSE_PLEDGE:
        message = (
            f"该承诺已被认定为虚假承诺，不能再提交履约材料；有异议的请联系{contact} (pledge found false)"
        )
    else:
        message = f"该承诺已撤销，无需再提交材料；如有疑问请联系{contact} (pledge cancelled)"
    # The lifecycle's error class, as before (API clients tell refusals apart by it), in the pledgor's words.
    raise TransitionNotAllowed(message, state=pledge.state.value)


def _published_refusal(session: Session, pledge: Pledge, today: dt.date) -> str:
    record = pledge_record(session=session, pledge=pledge)
    outcome = record_outcome(record, today) if record is not None else None
    if record is None or outcome is None or outcome.shown:
        on = f"（公示记录 {record.number}）" if record is not None else ""
        return (
            f"该承诺已逾期未履约并公示为失信{on}，不能再提交履约材料；已纠正失信行为的，可在公示记录页面"
            "申请信用修复，对公示有异议的可提出异议 (pledge published as a breach)"
        )
    if outcome.unpublished:
        return (
            f"该承诺已逾期未履约，失信记录 {record.number} 为轻微失信记录、依规不予公示，不能再提交履约材料；"
            "已纠正失信行为的，可凭办理码对该记录申请信用修复，有异议的可提出异议（见承诺办理情况查询页面） "
            "(pledge recorded as a minor breach, not published)"
        )
    label = pledge_state_label(pledge, outcome)
    return f"该承诺已办结（{label}），不能再提交履约材料 (pledge closed)"
