"""A breach record as others see it: its publication period by class, its 双公示 fields, and the document
the credit platform receives when it changes. Shared by the register (queries, decisions, expiry) and the
publication sweep, which creates records."""

from __future__ import annotations

import calendar as _month_calendar
import datetime as dt
from collections.abc import Callable, Mapping
from functools import cache, lru_cache, partial
from typing import Any

from sqlmodel import Session, select

from models.breach import SEVERITY_LABELS, PublishedBreach, Severity
from models.clock import utcnow
from models.lifecycle import BREACH, BreachState
from models.numbering import BREACH_PREFIX, reserve_numbers
from models.org import Department
from models.platform import DocumentKind, document_row, enqueue_documents
from models.pledge import PLEDGOR_KIND_LABELS, PledgorKind
from models.privacy import mask_name, publication_text
from models.settings import get_settings


def publication_period(severity: Severity) -> tuple[int, int]:
    """A class's publication period in months from the decision date: (minimum before repair, maximum
    shown). Set per locality (SHOUXIN_PUBLICATION_MIN_MONTHS_* / _MAX_MONTHS_*, models/settings.py)."""
    return get_settings().publication_months(Severity(severity).value)


def published_class(severity: Severity | str) -> bool:
    """Whether a record of class ``severity`` is published at all: 轻微 is in principle not (RULEBOOK,
    publication §1). It is kept for its period, for its subject's objection and repair and for staff,
    but not shown to the public (models/register/states.py ``shown_on``) nor sent to the credit platform."""
    return Severity(severity) != Severity.MINOR


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day ``months`` later, clamped to the month's end (01-31 + 1 month = 02-28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, _month_calendar.monthrange(year, month)[1]))


# Cached: a sweep batch publishes thousands of records on a handful of decision dates. Keyed on the months,
# not the class, so a changed setting is never answered from an entry computed under the old one.
_months_later = cache(add_months)


def publication_end(severity: Severity, decision_date: dt.date) -> dt.date:
    return _months_later(decision_date, publication_period(severity)[1])


def repair_earliest(severity: Severity, decision_date: dt.date) -> dt.date:
    return _months_later(decision_date, publication_period(severity)[0])


def _get(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def public_fields(
    record: Any, departments: Mapping[int, tuple[str, str]], *, mask: bool = True
) -> dict[str, Any]:
    """A record in the 双公示 field style; individuals' names masked for the public, no contact data.

    Every output of a record (pages, API, exports, platform documents) is built here, so its free text
    goes through the publication filter here: contact data, ID and card numbers are masked for everyone,
    an individual subject's name in the text too when ``mask`` (the platform gets the name as XDR_MC)."""
    # The getter chosen once: the sweep builds thousands of these per batch.
    get: Callable[[str], Any] = (
        record.__getitem__ if isinstance(record, Mapping) else partial(getattr, record)
    )
    individual, kind_label, severity, severity_label, state, state_label = _coded(
        get("subject_kind"), get("severity"), get("state")
    )
    name = get("subject_name")
    code, dept_name = departments.get(get("department_id"), ("", ""))
    decision, end = get("decision_date"), get("publication_end")
    names = (name,) if individual and mask else ()
    return {
        "record_number": get("number"),
        "XDR_MC": mask_name(name) if individual and mask else name,
        "XDR_LB": kind_label,
        # None without a code; the platform's documents send it as "" (models/platform.py).
        "XDR_SHXYM": get("subject_credit_code"),
        "matter": publication_text(get("matter"), names=names),
        "facts": publication_text(get("facts"), names=names),
        "basis": publication_text(get("basis"), names=names),
        "JDRQ": decision.isoformat(),
        "GSJZQ": end.isoformat(),
        "department_code": code,
        "department_name": dept_name,  # 认定部门
        "severity": severity,
        "severity_label": severity_label,
        "state": state,
        "state_label": state_label,
        # Only a pledge's record has an access code to prove its subject by, so only it takes an objection
        # or repair online (models/register/requests.py); a complaint's goes through the credit office.
        "source_kind": "pledge" if get("pledge_id") is not None else "complaint",
    }


# Who decides a record from a complaint, as mails and pages name it: the credit office confirmed the breach,
# so its supervisors decide the objections and repairs (谁认定、谁修复), not the department the record's
# 认定部门 field names (models/register/decisions.py ``may_decide``).
CREDIT_OFFICE = "信用办（督办人员）"


def offline_requests_only(number: str) -> str:
    """Why a record that came from a complaint takes no objection or repair online, and where its subject
    (a government department) files them instead: the record's page, its forms and the refusal say it."""
    return (
        f"公示记录 {number} 不是由告知承诺产生的，不能在此在线提出；"
        f"被认定部门请向{CREDIT_OFFICE}书面提出异议或信用修复申请"
    )


# Cached: the subject kind, class and state of a record take a handful of values, and the sweep builds
# thousands of records per batch (``typed``: a member and its plain value are looked up apart).
@lru_cache(maxsize=256, typed=True)
def _coded(subject_kind: Any, severity_code: Any, state_code: Any) -> tuple[bool, str, str, str, str, str]:
    """(individual, XDR_LB, severity, severity_label, state, state_label) of a record's stored codes."""
    kind = str(subject_kind)
    severity = Severity(severity_code)
    state = BreachState(state_code)
    return (
        kind == PledgorKind.INDIVIDUAL.value,
        PLEDGOR_KIND_LABELS.get(PledgorKind(kind), kind),
        severity.value,
        SEVERITY_LABELS[severity],
        state.value,
        BREACH.state(state).label,
    )


def department_names(session: Session) -> dict[int, tuple[str, str]]:
    rows = session.exec(select(Department.id, Department.code, Department.name)).all()
    return {r[0]: (r[1], r[2]) for r in rows if r[0] is not None}


# The breach events that change what the public sees, and the document each sends to the credit platform
# (publication sends PUBLISH from the sweep). The review marks (异议处理中, 信用修复申请中) and a
# rejected objection or repair leave the record shown with the same facts, so the platform is not told.
PLATFORM_DOCUMENTS: dict[str, DocumentKind] = {
    "uphold_correct": DocumentKind.CORRECT,
    "uphold_withdraw": DocumentKind.WITHDRAW,
    "approve_repair": DocumentKind.REPAIR,
    "expire": DocumentKind.EXPIRE,
}


def platform_document(
    *,
    kind: DocumentKind,
    record: Any,
    departments: Mapping[int, tuple[str, str]],
    effective: dt.date,
    now: dt.datetime,
    revision: int | str | None = None,
) -> dict[str, Any]:
    """The platform's row for a change to ``record`` (a PublishedBreach or a row mapping): the whole
    record as it now stands, unmasked (the platform is not the public), with the day it took effect."""
    payload = public_fields(record, departments, mask=False)
    payload["effective_date"] = effective.isoformat()
    return document_row(
        kind=kind,
        breach_id=_get(record, "id"),
        number=_get(record, "number"),
        payload=payload,
        now=now,
        revision=revision,
    )


def register_record(
    *,
    session: Session,
    source_kind: str,
    subject_kind: str,
    subject_name: str,
    subject_credit_code: str | None,
    matter: str,
    facts: str,
    basis: str,
    department_id: int,
    severity: Severity,
    decision_date: dt.date,
    today: dt.date,
    pledge_id: int | None = None,
    complaint_id: int | None = None,
) -> PublishedBreach:
    """One register record made outside the publication sweep (a confirmed government breach, a false
    pledge: models/pledges/review.py), flushed in the caller's transaction: numbered, its period by class
    and the PUBLISH document to the credit platform, as the sweep gives its records (models/publish_plan.py),
    so the record then lives as any other (objection, repair, expiry, platform corrections). A record of
    class 轻微 gets no PUBLISH (``published_class``), and the platform then takes none of its later
    documents but a PUBLISH (models/platform.py ``enqueue_documents``)."""
    [(_, number)] = reserve_numbers(session=session, prefix=BREACH_PREFIX, year=today.year)
    now = utcnow()
    breach = PublishedBreach(
        number=number,
        source_kind=source_kind,
        pledge_id=pledge_id,
        complaint_id=complaint_id,
        subject_kind=subject_kind,
        subject_name=subject_name,
        subject_credit_code=subject_credit_code,
        matter=matter,
        facts=facts,
        basis=basis,
        department_id=department_id,
        severity=severity,
        decision_date=decision_date,
        publication_end=publication_end(severity, decision_date),
        repair_earliest=repair_earliest(severity, decision_date),
        state=BreachState.PUBLISHED,
        created_at=now,
        updated_at=now,
    )
    session.add(breach)
    session.flush()
    assert breach.id is not None
    if not published_class(severity):
        return breach
    document = platform_document(
        kind=DocumentKind.PUBLISH,
        record=breach,
        departments=department_names(session),
        effective=decision_date,
        now=now,
    )
    enqueue_documents(session=session, rows=[document])
    return breach
