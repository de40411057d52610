"""The government credit record (政务信用记录): breaches confirmed against departments on complaints.

RULEBOOK, complaints §8: only refusal to rectify confirms a body as in breach, and the finding is recorded
in the body's government credit record and "may be published". The record is written by the complaint's
``confirm_breach`` action in the same transaction as its audit event; one record per complaint and
department, by a unique constraint, so a retried request cannot count a breach twice on the department's
scorecard, while a case reopened, re-dispatched and confirmed against another department records that
department's breach as its own (the first department's record stays where it was).

A finding withdrawn on an upheld objection (the finding was wrong) keeps its row, marked withdrawn, for the
audit trail, and is no longer counted; a severity, facts or basis corrected on an upheld objection is
carried here (``follow_register_decision``, called by models/register/decisions.py).

The record is also a register record like the pledge breaches (``PublishedBreach`` with source_kind
"complaint"): the respondent department is its subject, it has a class and an end date (GSJZQ) by class,
expires with the others and is pushed to the credit platform. The credit office confirmed the breach
(confirm_breach is the supervisors' alone), so 谁认定、谁修复: its supervisors file the department's
written objection or repair request (from the record's staff page or the API) and decide it
(models/register/decisions.py ``may_decide``). The record's ``department_id`` is its 认定部门: the
department's 主管部门, which verified the complaint (RULEBOOK, people: "主管部门 that verifies complaints
against them (the 认定部门)"), else the department itself; every output names it as stored (pages, API,
exports, the credit platform), while who decides its objections and repairs is said where they are filed.
The department is mailed the acknowledgement and the decision (models/breach_notices.py). The register
row is the source of truth for everything public (GET /public/government-breaches, the register pages and
exports); this table stays the department's internal record of confirmations, which the scorecard counts
and which does not end when the publication period does. The register row's matter is the 事实摘要 the
deciding supervisor wrote for publication (prefilled with the summary masked); every public output of it
goes through the publication filter (models/privacy.py ``publication_text``) as well.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from models.accounts import department_by_code
from models.audit import CaseEvent
from models.breach import PublishedBreach, Severity
from models.breach_notices import acknowledge_request
from models.breach_record import CREDIT_OFFICE, department_names, public_fields, register_record
from models.calendar import WorkCalendar
from models.clock import iso_date
from models.complaint import CATEGORY_LABELS, Complaint
from models.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from models.files import Upload
from models.government_credit_record import GovernmentCreditRecord, GovernmentCreditRecordPublic
from models.lifecycle import BREACH, Role
from models.org import Department
from models.pledge import PledgorKind
from models.privacy import publication_text
from models.register.requests import check_repair_open, file_request
from models.register.states import shown_on
from models.settings import get_settings
from models.text import checked_text
from models.workflow import Actor

# The national rule under which a refusal to rectify is a government breach.
BASIS = "发改财金〔2023〕1103号：拒不整改的，确认为违约失信"


# The longest public text: the register's matter column.
PUBLIC_TEXT_MAX = 200


def public_text_draft(complaint: Complaint) -> str:
    """The 事实摘要 the confirm form (and an API call without one) starts from: the complaint summary with
    the complainant's name, phone numbers, ID and card numbers and e-mail addresses masked."""
    text = publication_text(complaint.summary, names=[complaint.complainant_name]) or ""
    return text[:PUBLIC_TEXT_MAX]


def record_breach(
    *,
    session: Session,
    complaint: Complaint,
    reason: str,
    severity: Severity,
    actor: Actor,
    today: dt.date,
    public_text: str | None = None,
) -> tuple[GovernmentCreditRecord, PublishedBreach | None]:
    """Add the confirmed breach to the lead department's record and, where government breaches are
    published (a setting), to the register (the caller fires the complaint's audit event). The record is
    the lead department's: a case reopened and confirmed against another department gives that one its
    own record, and a retry against the same department returns the one already written."""
    if complaint.lead_department_id is None or complaint.id is None:
        raise ValidationFailed("该投诉没有主办部门，无法记入政务信用记录；请先派单 (no lead department)")
    existing = session.exec(
        select(GovernmentCreditRecord).where(
            GovernmentCreditRecord.complaint_id == complaint.id,
            GovernmentCreditRecord.department_id == complaint.lead_department_id,
        )
    ).first()
    if existing is not None:
        return existing, _register_row(session, existing)
    # The supervisor's reason becomes the published 失信行为, and public_fields masks only an individual
    # subject's name: the subject here is the department, so the complainant's name (and any contact
    # data) in the reason is masked as it is stored (an upheld correction of it too, register/decisions).
    refusal = f"经责令整改，拒不整改：{reason.strip()}"
    facts = publication_text(refusal, names=[complaint.complainant_name]) or refusal
    row = GovernmentCreditRecord(
        department_id=complaint.lead_department_id,
        complaint_id=complaint.id,
        complaint_number=complaint.number,
        matter=complaint.summary,
        category=str(complaint.category),
        decision_date=today,
        facts=facts,
        basis=BASIS,
        severity=severity,
        recorded_by_id=actor.id,
        recorded_by=actor.name,
    )
    session.add(row)
    session.flush()
    breach = None
    # Registered with the credit record, whose unique (complaint, department) makes it once per department:
    # a case reopened and confirmed against another department registers that department's breach too.
    if get_settings().publish_government_breaches:
        # The supervisor's text, and the filter again: a text typed in may still hold a phone number.
        text = (public_text or "").strip() or public_text_draft(complaint)
        text = publication_text(text, names=[complaint.complainant_name]) or text
        breach = _register(session, row, complaint, text[:PUBLIC_TEXT_MAX], today)
        row.breach_id = breach.id
        session.add(row)
    return row, breach


def _register(
    session: Session, row: GovernmentCreditRecord, complaint: Complaint, text: str, today: dt.date
) -> PublishedBreach:
    """The register record of a confirmed breach (``register_record``)."""
    subject = session.get(Department, row.department_id)
    assert subject is not None
    return register_record(
        session=session,
        source_kind="complaint",
        complaint_id=complaint.id,
        subject_kind=PledgorKind.GOVERNMENT.value,
        subject_name=subject.name,
        subject_credit_code=subject.credit_code or None,
        matter=text,
        facts=row.facts[:2000],
        basis=row.basis,
        # The 认定部门: the department's 主管部门, who verified the complaint (else the department itself).
        # Requests on the record are decided by the credit office's supervisors (``may_decide``).
        department_id=subject.competent_id or row.department_id,
        severity=Severity(row.severity),
        decision_date=row.decision_date,
        today=today,
    )


def _register_row(session: Session, row: GovernmentCreditRecord) -> PublishedBreach | None:
    return session.get(PublishedBreach, row.breach_id) if row.breach_id is not None else None


def department_record(*, session: Session, code: str, actor: Actor) -> dict[str, Any]:
    """The department's record and its count (the scorecard figure); its own handlers, supervisors, admins."""
    dept = department_by_code(session=session, code=code)
    if actor.role == Role.HANDLER:
        if actor.department_id != dept.id:
            raise NotPermitted(
                "经办人只能查看本部门的政务信用记录 (handlers see their own department's record only)"
            )
    elif actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise NotPermitted("只有督办人员、管理员和本部门经办人可以查看政务信用记录 (not permitted)")
    rows = session.exec(
        select(GovernmentCreditRecord)
        .where(GovernmentCreditRecord.department_id == dept.id)
        .order_by(col(GovernmentCreditRecord.decision_date).desc(), col(GovernmentCreditRecord.id).desc())
    ).all()
    return {
        "department_code": dept.code,
        "department_name": dept.name,
        # Withdrawn findings are listed (marked) but not counted.
        "confirmed_breaches": sum(1 for r in rows if r.withdrawn_on is None),
        "records": [GovernmentCreditRecordPublic.model_validate(r).model_dump(mode="json") for r in rows],
    }


def public_government_breaches(*, session: Session, today: dt.date, limit: int = 100) -> list[dict[str, Any]]:
    """Confirmed government breaches for the public, when the locality publishes them (a setting): the
    register's records from complaints shown on ``today`` (not withdrawn, repaired or past their period),
    newest decision first, each as the register shows it (publication filter included)."""
    if not get_settings().publish_government_breaches:
        raise NotFound("本地区未公开政府违约失信记录 (government breaches are not published here)")
    stmt = (
        select(PublishedBreach, Complaint.category)
        .join(Complaint, col(Complaint.id) == PublishedBreach.complaint_id)
        .where(
            PublishedBreach.source_kind == "complaint",
            shown_on(today),
        )
        .order_by(col(PublishedBreach.decision_date).desc(), col(PublishedBreach.id).desc())
        .limit(max(1, min(limit, 500)))
    )
    departments = department_names(session)
    items = []
    for record, category in session.exec(stmt).all():
        shown = public_fields(record, departments)
        items.append(
            {
                "department_name": shown["XDR_MC"],
                "matter": shown["matter"],
                "category_label": _category_label(str(category)),
                "decision_date": shown["JDRQ"],
                "severity_label": shown["severity_label"],
                "record_number": shown["record_number"],
                "credit_code": shown["XDR_SHXYM"],
                "facts": shown["facts"],
                "basis": shown["basis"],
                "publication_end": shown["GSJZQ"],
                "deciding_department_name": shown["department_name"],
                "state": shown["state"],
                "state_label": shown["state_label"],
            }
        )
    return items


def _category_label(category: str) -> str:
    return next((label for key, label in CATEGORY_LABELS.items() if key.value == category), category)


def _government_record(session: Session, number: str, today: dt.date) -> PublishedBreach:
    record = session.exec(
        select(PublishedBreach).where(
            PublishedBreach.number == number,
            PublishedBreach.source_kind == "complaint",
            # A 轻微 record is not published, but its subject still objects or asks for repair.
            shown_on(today, with_minor=True),
        )
    ).first()
    if record is None:
        raise NotFound(f"政府违约失信记录 {number} 不存在或已不在公示期内；请核对编号 (no record {number})")
    return record


def _check_credit_office(actor: Actor) -> None:
    # The subject is a government department: it applies in writing to the credit office, whose
    # supervisors file the application here (the public form is for pledgors, proven by access code).
    if actor.role != Role.SUPERVISOR:
        raise NotPermitted(
            "政府违约失信记录的异议和信用修复申请由被认定部门书面提出，由督办人员（信用办）登记 "
            "(supervisors file a department's objection or repair request)"
        )


# The limits of the API's filing bodies (api/routes/government_credit.py), held here for every caller.
REASON_MAX = 2000
REFERENCE_MAX = 128


def _typed(value: str | None, *, field: str, label: str, max_length: int, multiline: bool = True) -> str:
    return checked_text(
        value or "", label=label, multiline=multiline, max_length=max_length, field=field
    ).strip()


def _check_objection_open(record: PublishedBreach) -> None:
    """A state of the record that takes an objection (the lifecycle's refusal, before anything changes)."""
    BREACH.fire(record.state, "object", Role.SUPERVISOR)


def _check_repair_filing(session: Session, record: PublishedBreach, today: dt.date) -> None:
    """A repair request can be filed: the department's written explanation and rectification reported on
    the complaint (书面说明原因并限期整改), the class's minimum publication period past and no other
    request pending (``check_repair_open``), and a state that takes one."""
    rectified = session.exec(
        select(CaseEvent.seq).where(
            CaseEvent.case_kind == "complaint",
            CaseEvent.case_id == record.complaint_id,
            CaseEvent.event == "submit_explanation",
        )
    ).first()
    if rectified is None:
        raise ValidationFailed(
            "被认定部门尚未提交违约失信原因的书面说明及整改情况，整改完成后方可申请信用修复 "
            "(repair only after the written explanation and rectification)"
        )
    check_repair_open(record, today)
    BREACH.fire(record.state, "request_repair", Role.SUPERVISOR)


def department_filings(
    *, session: Session, record: PublishedBreach, actor: Actor, today: dt.date
) -> dict[str, str | None]:
    """What the record's staff page offers the credit office to file for the department: for "objection"
    and "repair", None when it can be filed now, else why not (the filings' own checks, so nothing offered
    is refused). Empty for a pledge's record, and for anyone but a supervisor."""
    if actor.role != Role.SUPERVISOR or record.source_kind != "complaint":
        return {}
    try:
        found = _government_record(session, record.number, today)
    except NotFound as exc:
        return dict.fromkeys(("objection", "repair"), exc.message)
    return {
        "objection": _why_not(lambda: _check_objection_open(found)),
        "repair": _why_not(lambda: _check_repair_filing(session, found, today)),
    }


def _why_not(check: Callable[[], None]) -> str | None:
    try:
        check()
    except DomainError as exc:
        return exc.message
    return None


def object_for_department(
    *,
    session: Session,
    number: str,
    actor: Actor,
    reason: str,
    document_reference: str | None,
    today: dt.date,
    calendar: WorkCalendar,
    files: Sequence[Upload] = (),
) -> PublishedBreach:
    """The respondent department objects to its record (filed by a supervisor from its written
    objection, its 文号 ``document_reference``): the record shows "异议处理中", the supervisors have the
    objection deadline and the department is mailed the acknowledgement. ``files`` (the written objection
    scanned, its proof) are checked and stored as the subject's are, for the supervisors only."""
    _check_credit_office(actor)
    reason = _typed(reason, field="reason", label="异议理由", max_length=REASON_MAX)
    document = _typed(
        document_reference, field="document_reference", label="书面异议文号", max_length=REFERENCE_MAX,
        multiline=False,
    )  # fmt: skip
    record = _government_record(session, number, today)
    _check_objection_open(record)
    if not reason:
        raise ValidationFailed("请填写异议理由 (reason is required)", field="reason")
    filed = file_request(
        session=session, record=record, kind="objection", actor=actor, reason=reason, detail=document,
        data={"filed_for": record.subject_name, "document_reference": document}, today=today,
        calendar=calendar, files=files,
    )  # fmt: skip
    if filed:
        # The credit office answers the department (it confirmed the breach), not the record's 认定部门.
        acknowledge_request(
            session=session,
            record=record,
            template="objection_received",
            answered_by=CREDIT_OFFICE,
            reply_due=iso_date(record.stage_deadline),
        )
    return record


def request_repair_for_department(
    *,
    session: Session,
    number: str,
    actor: Actor,
    statement: str,
    repair_pledge: str,
    today: dt.date,
    calendar: WorkCalendar,
    files: Sequence[Upload] = (),
) -> PublishedBreach:
    """The respondent department applies for credit repair (filed by a supervisor): only once it has
    explained in writing and reported its rectification on the complaint (书面说明原因并限期整改), and
    not before the class's minimum publication period (repair_earliest); the department is mailed the
    acknowledgement. ``files``: its application and proof of the rectification, as for an objection."""
    _check_credit_office(actor)
    statement = _typed(statement, field="statement", label="整改情况说明", max_length=REASON_MAX)
    repair_pledge = _typed(repair_pledge, field="repair_pledge", label="信用修复承诺", max_length=REASON_MAX)
    record = _government_record(session, number, today)
    _check_repair_filing(session, record, today)
    if not statement or not repair_pledge:
        raise ValidationFailed("请填写整改情况说明和信用修复承诺 (statement and repair pledge are required)")
    filed = file_request(
        session=session, record=record, kind="repair", actor=actor, reason=statement,
        detail=repair_pledge, today=today, calendar=calendar, files=files,
        data={"repair_pledge": repair_pledge, "filed_for": record.subject_name},
    )  # fmt: skip
    if filed:
        acknowledge_request(
            session=session,
            record=record,
            template="repair_received",
            answered_by=CREDIT_OFFICE,
            decision_due=iso_date(record.stage_deadline),
        )
    return record
