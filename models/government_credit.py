"""The government credit record (政务信用记录): breaches confirmed against departments on complaints.

RULEBOOK, complaints §8: only refusal to rectify confirms a body as in breach, and the finding is recorded
in the body's government credit record and "may be published". The record is written by the complaint's
``confirm_breach`` action in the same transaction as its audit event; one record per complaint, by a
unique constraint, so a retried request cannot count a breach twice on the department's scorecard.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, col, select

from models.accounts import department_by_code
from models.breach import SEVERITY_LABELS, Severity
from models.clock import utcnow
from models.complaint import CATEGORY_LABELS, Complaint
from models.errors import NotFound, NotPermitted, ValidationFailed
from models.lifecycle import Role
from models.org import Department
from models.settings import get_settings
from models.types import UTCDateTime
from models.workflow import Actor

# The national rule under which a refusal to rectify is a government breach.
BASIS = "发改财金〔2023〕1103号：拒不整改的，确认为违约失信"


# One confirmed government breach in a department's credit record; unique per complaint.
class GovernmentCreditRecord(SQLModel, table=True):
    __tablename__ = "government_credit_record"
    __table_args__ = (UniqueConstraint("complaint_id", name="uq_government_credit_complaint"),)
    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    complaint_id: int = Field(foreign_key="complaint.id")
    complaint_number: str = Field(max_length=20)
    matter: str = Field(max_length=200)  # the complaint's summary
    category: str = Field(max_length=32)
    decision_date: dt.date = Field(index=True)
    facts: str = Field(max_length=4000)
    basis: str = Field(max_length=500)
    severity: Severity = Field(default=Severity.GENERAL, max_length=16)
    recorded_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_by: str = Field(max_length=128)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


# What staff see of one record.
class GovernmentCreditRecordPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    complaint_id: int
    complaint_number: str
    matter: str
    category: str
    decision_date: dt.date
    facts: str
    basis: str
    severity: Severity
    recorded_by: str
    created_at: dt.datetime


def record_breach(
    *, session: Session, complaint: Complaint, reason: str, severity: Severity, actor: Actor, today: dt.date
) -> GovernmentCreditRecord:
    """Add the confirmed breach to the lead department's record (the caller fires the audit event)."""
    if complaint.lead_department_id is None or complaint.id is None:
        raise ValidationFailed("该投诉没有主办部门，无法记入政务信用记录；请先派单 (no lead department)")
    existing = session.exec(
        select(GovernmentCreditRecord).where(GovernmentCreditRecord.complaint_id == complaint.id)
    ).first()
    if existing is not None:
        return existing
    row = GovernmentCreditRecord(
        department_id=complaint.lead_department_id,
        complaint_id=complaint.id,
        complaint_number=complaint.number,
        matter=complaint.summary,
        category=str(complaint.category),
        decision_date=today,
        facts=f"经责令整改，拒不整改：{reason.strip()}",
        basis=BASIS,
        severity=severity,
        recorded_by_id=actor.id,
        recorded_by=actor.name,
    )
    session.add(row)
    session.flush()
    return row


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
        "confirmed_breaches": len(rows),
        "records": [GovernmentCreditRecordPublic.model_validate(r).model_dump(mode="json") for r in rows],
    }


def breach_counts(*, session: Session) -> dict[int, int]:
    """Confirmed government breaches per department id (the scorecard column)."""
    stmt = select(GovernmentCreditRecord.department_id, func.count()).group_by(
        col(GovernmentCreditRecord.department_id)
    )
    return {dept: int(n) for dept, n in session.exec(stmt).all()}


def public_government_breaches(*, session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """Confirmed government breaches for the public, when the locality publishes them (a setting)."""
    if not get_settings().publish_government_breaches:
        raise NotFound("本地区未公开政府违约失信记录 (government breaches are not published here)")
    stmt = (
        select(GovernmentCreditRecord, Department.name)
        .join(Department, col(Department.id) == GovernmentCreditRecord.department_id)
        .order_by(col(GovernmentCreditRecord.decision_date).desc(), col(GovernmentCreditRecord.id).desc())
        .limit(max(1, min(limit, 500)))
    )
    return [
        {
            "department_name": name,
            "matter": record.matter,
            "category_label": _category_label(record.category),
            "decision_date": record.decision_date.isoformat(),
            "severity_label": SEVERITY_LABELS[Severity(record.severity)],
        }
        for record, name in session.exec(stmt).all()
    ]


def _category_label(category: str) -> str:
    return next((label for key, label in CATEGORY_LABELS.items() if key.value == category), category)
