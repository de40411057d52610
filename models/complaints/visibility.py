"""Who sees which complaint and how a department stands to it; the lookups and labels the other parts share.

Intake, supervisors and admins see every complaint; a handler's department sees the cases it is assigned
to and those of the departments it oversees, and, read-only, the complaints merged into one of those (their
descriptions and attachments are part of the case it handles). Another department's case is "not found",
not "forbidden".
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.accounts import retired_message
from models.audit import CaseEvent, CaseEventPublic
from models.complaint import MAX_MERGE_DEPTH, Complaint, ComplaintAssignment
from models.complaints.bodies import ComplaintFilter
from models.complaints.preconditions import PRECONDITIONS, unmet
from models.complaints.screening import digits_only, identifying_email, phone_key, same_phone
from models.errors import DomainError, NotFound, ValidationFailed
from models.id_sets import in_list
from models.lifecycle import COMPLAINT, RESUME, ROLE_LABELS, Role, Transition
from models.org import Department, competent_of
from models.uscc import normalise_credit_code
from models.workflow import Actor

STAFF_SEE_ALL = frozenset({Role.INTAKE, Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM})
# Timeline entries that are not table events.
EXTRA_EVENT_LABELS = {
    "register": "登记",
    "merged_in": "并入重复投诉",
    "merged_withdrawn": "并入的投诉已撤回",
    "deadline_resolved": "办理期限确定（节假日安排载入）",
    "deadline_recomputed": "办理期限调整（节假日安排更正）",
    "reissue_tracking_password": "重新生成查询密码（原密码作废）",
    "department_succeeded": "承办部门撤并，由承接部门继续办理（机构改革）",
    # What 12345 forwards about an order it handed over (models/hotline_followups.py FOLLOW_UP_EVENTS).
    "hotline_supplement": "12345 转来补充材料",
    "hotline_withdrawal": "12345 转来撤单（投诉人申请撤回）",
    "hotline_chase": "12345 催单（来电人催办）",
}

# Which department's handler may take a handler action: the lead (主办), the verifier (the lead's 主管部门,
# the 认定部门; the lead itself when it has none), or either; an assisting department (协办) only gives its
# opinion.
LEAD, VERIFIER, ASSISTING = "lead", "verifier", "assisting"
# Who a stage awaits when it awaits no handler (初审, 派单, 改派, 整改审核, 回访): the mails and the dashboard
# name them so, as no department is late there.
STAFF_PARTY_LABEL = "受理及督办人员"
HANDLER_PARTIES: dict[str, frozenset[str]] = {
    "return_order": frozenset({LEAD}),
    "sign_for": frozenset({LEAD}),
    "report_rectification": frozenset({LEAD}),
    "request_extension": frozenset({LEAD}),
    "verify_true": frozenset({VERIFIER}),
    "verify_untrue": frozenset({VERIFIER}),
    "order_rectification": frozenset({VERIFIER}),
    "record_refusal": frozenset({VERIFIER}),
    "submit_explanation": frozenset({LEAD}),
    "reply": frozenset({LEAD, VERIFIER}),
    "await_complainant": frozenset({LEAD, VERIFIER}),
    "resume": frozenset({LEAD, VERIFIER}),
    "assist_opinion": frozenset({ASSISTING}),
}


def awaited_party(state: str) -> str | None:
    """Whose move a stage in ``state`` awaits (``LEAD`` or ``VERIFIER``), read from the party table the
    case page decides who may act by (``HANDLER_PARTIES``); None when no handler is awaited.

    Only the moves that finish the stage count: a pause awaiting the complainant, an extension request or
    a refusal recorded leaves the stage and its deadline where they were, so whoever may take those is not
    the one late. Where either party may finish it (答复), the lead answers for it."""
    if Role.HANDLER not in COMPLAINT.state(state).waiting_on:
        return None
    parties: set[str] = set()
    for t in COMPLAINT.available(state, Role.HANDLER):
        if t.target is None or t.target == RESUME or COMPLAINT.state(t.target).clock_paused:
            continue
        parties |= HANDLER_PARTIES.get(t.event, frozenset())
    return VERIFIER if parties == {VERIFIER} else LEAD


def event_label(event: str) -> str:
    if event in EXTRA_EVENT_LABELS:
        return EXTRA_EVENT_LABELS[event]
    try:
        return COMPLAINT.transition(event).label
    except DomainError:
        return event


def state_label(state: str) -> str:
    return COMPLAINT.state(state).label


def lead_department(session: Session, case: Complaint) -> Department | None:
    return session.get(Department, case.lead_department_id) if case.lead_department_id else None


# Registrations, dispatches and the list filter look departments up by code: the statement is built once.
# A share lock: a retirement (撤并) of the department running at the same moment waits for this transaction
# and then moves what it stored, or this one waits for the retirement and is refused.
_DEPARTMENT_BY_CODE = (
    select(Department).where(col(Department.code) == bindparam("code")).with_for_update(read=True)
)


_DEPARTMENT_BY_ID = select(Department).where(col(Department.id) == bindparam("id")).with_for_update(read=True)
# How many retirements a respondent's code is followed through (D01 into D02 into D03 ...): reorganisations
# come years apart, so a longer chain is a data error, as is a loop.
MAX_SUCCESSION_STEPS = 5


def department_by_code(session: Session, code: str, field: str) -> Department:
    """The active department with ``code``; else a 422 naming the body ``field`` that held it (a retired
    one named with its successor, the department to choose instead)."""
    dept = _by_code(session, code, field)
    if not dept.active:
        raise ValidationFailed(retired_message(session, dept), field=field)
    return dept


def respondent_by_code(session: Session, code: str, field: str) -> Department:
    """The department a complaint is about (被投诉主体): a retired one (撤并) is the department that carries
    its work on now, its successor's successor when that was retired too. The 12345 platform and the
    complainant still know the old name, and refusing it would leave the complaint unregistered; dispatch
    and assignment (``department_by_code``) still name the department explicitly."""
    dept = _by_code(session, code, field)
    seen = {dept.id}
    for _ in range(MAX_SUCCESSION_STEPS):
        if dept.active or dept.successor_id is None or dept.successor_id in seen:
            break
        successor = session.exec(_DEPARTMENT_BY_ID, params={"id": dept.successor_id}).first()
        if successor is None:
            break
        seen.add(successor.id)
        dept = successor
    if not dept.active:
        raise ValidationFailed(retired_message(session, dept), field=field)
    return dept


def _by_code(session: Session, code: str, field: str) -> Department:
    dept = session.exec(_DEPARTMENT_BY_CODE, params={"code": code.strip()}).first()
    if dept is None:
        raise ValidationFailed(
            f"部门代码 {code} 不存在，请核对部门代码 (unknown department '{code}')", field=field
        )
    return dept


def handler_parties(*, session: Session, complaint: Complaint, department_id: int | None) -> set[str]:
    """How a handler's department stands to the complaint: lead, verifier, assisting (empty: not at all)."""
    if department_id is None:
        return set()
    lead = complaint.lead_department_id
    is_lead = lead is not None and department_id == lead
    is_verifier = lead is not None and department_id == (competent_of(session, lead) or lead)
    active = session.exec(
        select(ComplaintAssignment.id).where(
            ComplaintAssignment.complaint_id == complaint.id,
            ComplaintAssignment.department_id == department_id,
            col(ComplaintAssignment.active).is_(True),
        )
    ).first()
    return set(parties_from_flags(is_lead, is_verifier, active is not None))


def parties_from_flags(is_lead: bool, is_verifier: bool, is_assigned: bool) -> frozenset[str]:
    """The department's parts in a case from three facts (the work-queue query computes them in SQL): an
    assisting department is one assigned to the case that is neither its lead nor its verifier."""
    parties = {name for name, flag in ((LEAD, is_lead), (VERIFIER, is_verifier)) if flag}
    if is_assigned and not parties:
        parties.add(ASSISTING)
    return frozenset(parties)


def actions_for_parties(
    options: list[Transition], role: Role, parties: frozenset[str] | set[str]
) -> list[Transition]:
    """The table's ``options``, narrowed for a handler to what their department's ``parties`` allow."""
    if role != Role.HANDLER:
        return options
    return [t for t in options if HANDLER_PARTIES.get(t.event, frozenset()) & parties]


def can_see(*, session: Session, complaint: Complaint, actor: Actor) -> bool:
    """The rule ``_visible_clause`` applies to lists, for one case: a handler sees a case its department
    is a party of, and a case merged into one (also through a case merged later: C into B, B into A)."""
    if actor.role in STAFF_SEE_ALL:
        return True
    if actor.role != Role.HANDLER or actor.department_id is None:
        return False
    case: Complaint | None = complaint
    for _ in range(MAX_MERGE_DEPTH):
        if case is None:
            break
        if handler_parties(session=session, complaint=case, department_id=actor.department_id):
            return True
        case = session.get(Complaint, case.merged_into_id) if case.merged_into_id is not None else None
    return False


def get_complaint(*, session: Session, complaint_id: int, actor: Actor) -> Complaint:
    """The complaint if the actor may see it; another department's case is "not found", not "forbidden"."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or not can_see(session=session, complaint=complaint, actor=actor):
        raise NotFound(f"投诉 {complaint_id} 不存在或无权查看 (complaint not found)", id=complaint_id)
    return complaint


def _visible_clause(actor: Actor) -> Any:
    if actor.role in STAFF_SEE_ALL:
        return None
    if actor.role != Role.HANDLER or actor.department_id is None:
        return col(Complaint.id) == -1
    return or_(department_visible(actor.department_id), _merged_into_visible(actor.department_id))


def department_visible(department_id: Any, case: Any = Complaint) -> Any:
    """A handler's department sees the cases it is assigned to and those of the departments it oversees;
    ``department_id`` is a value or a bound parameter, ``case`` the complaint entity (or an alias of it)."""
    assigned = select(ComplaintAssignment.complaint_id).where(
        ComplaintAssignment.department_id == department_id,
        col(ComplaintAssignment.active).is_(True),
    )
    supervised = select(Department.id).where(Department.competent_id == department_id)
    return or_(case.id.in_(assigned), case.lead_department_id.in_(supervised))


def _merged_into_visible(department_id: Any) -> Any:
    """Complaints merged into a case the department sees, directly or down a chain of merges (the rule
    ``can_see`` follows case by case). Aliased: the subquery must not correlate with the outer complaint."""
    target, merged, later = aliased(Complaint), aliased(Complaint), aliased(Complaint)
    seen = select(target.id).where(department_visible(department_id, target))
    chain = select(merged.id).where(col(merged.merged_into_id).in_(seen)).cte("merged_chain", recursive=True)
    chain = chain.union_all(select(later.id).where(later.merged_into_id == chain.c.id))
    return col(Complaint.id).in_(select(chain.c.id))


def list_complaints(
    *, session: Session, actor: Actor, filters: ComplaintFilter, today: dt.date
) -> tuple[list[Complaint], int | None]:
    """Newest first, ``filters.limit`` at a time; the cursor is the last id returned (None at the end)."""
    stmt = select(Complaint)
    visible = _visible_clause(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    for clause in _filter_clauses(session, filters, today):
        stmt = stmt.where(clause)
    if filters.after is not None:
        stmt = stmt.where(col(Complaint.id) < filters.after)
    rows = list(session.exec(stmt.order_by(col(Complaint.id).desc()).limit(filters.limit + 1)).all())
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return rows, (rows[-1].id if more and rows else None)


def _filter_clauses(session: Session, f: ComplaintFilter, today: dt.date) -> list[Any]:
    clauses: list[Any] = []
    if f.state is not None:
        clauses.append(col(Complaint.state) == f.state)
    if f.department_code:
        dept = _by_code(session, f.department_code, "department")  # a retired one has its history
        involved = select(ComplaintAssignment.complaint_id).where(
            ComplaintAssignment.department_id == dept.id, col(ComplaintAssignment.active).is_(True)
        )
        clauses.append(
            or_(col(Complaint.id).in_(involved), col(Complaint.respondent_department_id) == dept.id)
        )
    if f.due_before is not None:
        clauses.append(col(Complaint.stage_deadline) <= f.due_before)
    if f.overdue is not None:
        late = (col(Complaint.stage_deadline) < today) & col(Complaint.state).in_(COMPLAINT.clocked_states())
        clauses.append(late if f.overdue else ~late)
    if f.channel:
        clauses.append(col(Complaint.channel) == f.channel)
    if f.q and f.q.strip():
        clauses.append(search_clause(f.q))
    return clauses


def search_clause(q: str) -> Any:
    """What the search box matches: summary, number, complainant or respondent name (contains), the
    complainant's credit code from its start, phone and e-mail. The clerk looking for a duplicate before
    merging (并单) often has only the code or the company complained about; the code is matched as stored
    (full-width folded, upper-case, as registration keeps it), since PostgreSQL's LIKE is case-sensitive.
    A caller who calls back gives a number or an address: a phone is matched on the digits typed, so
    "139 1234 5678", "+86…" or a landline's last digits find it however it was written; an e-mail
    case-blind."""
    term = q.strip()
    code = normalise_credit_code(term).replace(" ", "")
    clauses = [
        col(Complaint.summary).contains(term, autoescape=True),
        col(Complaint.number).contains(term, autoescape=True),
        col(Complaint.complainant_name).contains(term, autoescape=True),
        col(Complaint.respondent_name).contains(term, autoescape=True),
        col(Complaint.complainant_credit_code).startswith(code, autoescape=True),
        func.lower(col(Complaint.complainant_email)).contains(term.lower(), autoescape=True),
    ]
    digits = _phone_digits(term)
    if digits is not None:
        clauses.append(digits_only(Complaint.complainant_phone).contains(digits, autoescape=True))
    return or_(*clauses)


# A term is read as a phone when it is digits and the marks numbers are written with, with this many digits
# at least (a mobile's last four, as callers often give): fewer would match most numbers.
# A number as typed, an extension included (0471-6234567转8001): searched by its digits.
_PHONE_TERM = re.compile(r"[+(（]?\d[\d\s\-()（）.\u3000]*(?:(?:转|分机|ext\.?|x|#)\d{1,6})?", re.ASCII)
_PHONE_TERM_DIGITS = 4


def _phone_digits(term: str) -> str | None:
    text = unicodedata.normalize("NFKC", term)
    if not _PHONE_TERM.fullmatch(text):
        return None
    key = phone_key(text)
    return key if key is not None and len(key) >= _PHONE_TERM_DIGITS else None


def open_cases_of_complainant(*, session: Session, complaint: Complaint, actor: Actor) -> list[Complaint]:
    """The other open (not finished) complaints the actor sees from the same phone or e-mail address, oldest
    first: at registration the clerk is shown them, as the caller may be calling about one of them again
    (a duplicate is merged, 并单, from its page). The same rules as the screening's duplicates: a phone as
    dialled, an address case-blind, a placeholder address (example.com …) matching nobody."""
    phone = phone_key(complaint.complainant_phone)
    email = identifying_email(complaint.complainant_email)
    same = [same_phone(phone)] if phone else []
    if email is not None:
        same.append(func.lower(col(Complaint.complainant_email)) == email)
    if not same:
        return []
    stmt = select(Complaint).where(
        col(Complaint.id) != complaint.id, col(Complaint.state).in_(COMPLAINT.open_states()), or_(*same)
    )
    visible = _visible_clause(actor)
    if visible is not None:
        stmt = stmt.where(visible)
    return list(session.exec(stmt.order_by(col(Complaint.id))).all())


def assisting_departments(*, session: Session, complaint_ids: Sequence[int]) -> dict[int, list[Department]]:
    """The assisting departments (协办部门) of each complaint, in the order they were assigned, in one query
    for a whole page. Retired ones too: a finished case keeps the departments that assisted it."""
    if not complaint_ids:
        return {}
    rows = session.exec(
        select(ComplaintAssignment.complaint_id, Department)
        .join(Department, col(Department.id) == col(ComplaintAssignment.department_id))
        .where(
            in_list(session, ComplaintAssignment.__table__.c.complaint_id, complaint_ids),  # type: ignore[attr-defined]
            col(ComplaintAssignment.active).is_(True),
            col(ComplaintAssignment.lead).is_(False),
        )
        .order_by(col(ComplaintAssignment.id))
    ).all()
    found: dict[int, list[Department]] = {i: [] for i in complaint_ids}
    for complaint_id, department in rows:
        found[complaint_id].append(department)
    return found


def case_events(session: Session, complaint: Complaint) -> list[CaseEvent]:
    """The complaint's audit events, oldest first."""
    stmt = select(CaseEvent).where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == complaint.id)
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())


def timeline(*, session: Session, complaint: Complaint) -> list[CaseEventPublic]:
    return [
        CaseEventPublic.model_validate({**r.model_dump(), "label": event_label(r.event)})
        for r in case_events(session, complaint)
    ]


def available_actions(
    *, session: Session, complaint: Complaint, actor: Actor, today: dt.date
) -> list[Transition]:
    """What the actor may do now: the table's answer, narrowed to the handler's part in the case and to the
    actions whose precondition of the case holds today (``preconditions``: what ``act`` would refuse)."""
    return [t for t, refusal in _table_actions(session, complaint, actor, today) if refusal is None]


def withheld_actions(
    *, session: Session, complaint: Complaint, actor: Actor, today: dt.date
) -> list[tuple[str, str]]:
    """The actions the table gives the actor now that ``available_actions`` leaves out and the case page
    explains, each with what the case still lacks: the label and its precondition's own message. Actions
    withheld for the same reason (催办, 督办, 提级办理) are one entry, their labels joined."""
    reasons: dict[str, list[str]] = {}
    for t, refusal in _table_actions(session, complaint, actor, today):
        if refusal is not None and PRECONDITIONS[t.event].explained:
            reasons.setdefault(refusal.message, []).append(t.label)
    return [("、".join(labels), message) for message, labels in reasons.items()]


def _table_actions(
    session: Session, complaint: Complaint, actor: Actor, today: dt.date
) -> list[tuple[Transition, ValidationFailed | None]]:
    options = COMPLAINT.available(complaint.state, actor.role)
    if actor.role == Role.HANDLER:
        parties = handler_parties(session=session, complaint=complaint, department_id=actor.department_id)
        options = actions_for_parties(options, actor.role, parties)
    return [(t, unmet(session=session, case=complaint, action=t.event, today=today)) for t in options]


def awaited_actions(state: str, role: Role) -> list[Transition]:
    """The table's actions of ``role`` in ``state`` the case may wait on it for: all of them where the
    state waits on the role, elsewhere only those whose precondition makes the case wait once it holds
    (``Precondition.awaited``: an extension to decide, a refusal to confirm in 整改中), not a 催办 that
    could always be sent."""
    options = COMPLAINT.available(state, role)
    if role in COMPLAINT.state(state).waiting_on:
        return options
    return [t for t in options if t.event in PRECONDITIONS and PRECONDITIONS[t.event].awaited]


@cache
def waited_roles(state: str) -> list[Role]:
    """The roles a case in ``state`` may wait on: the state's own, and those with an awaited action."""
    return sorted({*COMPLAINT.state(state).waiting_on, *(r for r in Role if awaited_actions(state, r))})


def who_acts_next(*, session: Session, complaint: Complaint, today: dt.date) -> list[tuple[str, list[str]]]:
    """Who the case waits on now, each with the actions open to them: a department by name where a
    handler acts (the lead department, or its 主管部门 where it verifies), otherwise the role
    (受理人员, 督办人员 …). Empty for a finished case. For the case page's "待…办理" line, shown to a
    viewer who cannot act. The actions are those the buttons offer (``available_actions``): an action whose
    precondition does not hold ``today`` (批准延期 with no request pending) is left out, and a party left
    with nothing to do is not named."""
    spec = COMPLAINT.state(complaint.state)
    if spec.terminal:
        return []
    waiting: list[tuple[str, list[str]]] = []
    for role in waited_roles(str(complaint.state)):
        options = _open_now(session, complaint, awaited_actions(str(complaint.state), role), today)
        if role != Role.HANDLER:
            if options:
                waiting.append((ROLE_LABELS[role], [t.label for t in options]))
            continue
        lead = lead_department(session, complaint)
        if lead is None:
            continue
        verifier_id = competent_of(session, lead.id) or lead.id
        verifier = session.get(Department, verifier_id)
        for party, department in ((LEAD, lead), (VERIFIER, verifier)):
            labels = [t.label for t in actions_for_parties(options, role, frozenset({party}))]
            if labels and department is not None:
                waiting.append((department.name, labels))
    # Parties offered the same actions are named once together (待受理人员或督办人员受理或并单), not the
    # list twice.
    together: dict[tuple[str, ...], list[str]] = {}
    for who, labels in waiting:
        together.setdefault(tuple(labels), []).append(who)
    return [("或".join(whos), list(labels)) for labels, whos in together.items()]


def _open_now(
    session: Session, complaint: Complaint, options: list[Transition], today: dt.date
) -> list[Transition]:
    """``options`` without the actions ``preconditions`` would refuse on the case ``today``."""
    return [t for t in options if unmet(session=session, case=complaint, action=t.event, today=today) is None]
