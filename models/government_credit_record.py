"""The government credit record's table (政务信用记录): one row per breach confirmed against a department
on a complaint, and what the register's decisions and the scorecard read and change of it.

Kept apart from models/government_credit.py (which writes the rows and serves the department's record)
because the register's decisions follow up on it (``follow_register_decision``) while
government_credit.py files the register's requests: each depends on this module, neither on the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, col, select

from models.breach import PublishedBreach, Severity
from models.clock import utcnow
from models.types import UTCDateTime


# One confirmed government breach in a department's credit record; unique per complaint and department.
class GovernmentCreditRecord(SQLModel, table=True):
    __tablename__ = "government_credit_record"
    __table_args__ = (
        UniqueConstraint("complaint_id", "department_id", name="uq_government_credit_complaint_department"),
    )
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
    # Its register record (none where government breaches are not published).
    breach_id: int | None = Field(default=None, foreign_key="published_breach.id")
    # The day an upheld objection withdrew the finding: the row stays, no longer counted.
    withdrawn_on: dt.date | None = None


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
    withdrawn_on: dt.date | None = None


def follow_register_decision(
    *,
    session: Session,
    record: PublishedBreach,
    action: str,
    today: dt.date,
    corrected: Mapping[str, str] | None = None,
) -> None:
    """Carry an upheld objection on a government breach's register record to its credit record: a
    withdrawn finding (it was wrong) is marked withdrawn and no longer counted, the row kept for the
    audit trail; a correction replaces the recorded severity, and the facts and basis where it changed
    them (``corrected``: the fields the decision changed), as the register row now has them (filtered).
    The matter stays: here it is the complaint's summary, an internal text the register's published
    matter was written from. Other decisions leave the record as it is: a repaired or expired
    publication was still a breach."""
    if record.source_kind != "complaint" or record.id is None:
        return
    row = session.exec(
        select(GovernmentCreditRecord).where(GovernmentCreditRecord.breach_id == record.id)
    ).first()
    if row is None:
        return
    if action == "uphold_withdraw":
        row.withdrawn_on = today
    elif action == "uphold_correct":
        row.severity = record.severity
        # Only the texts corrected: the register's facts are capped shorter than this row's, so copying
        # uncorrected facts could cut them.
        for name in ("facts", "basis"):
            if name in (corrected or {}):
                setattr(row, name, getattr(record, name))
    session.add(row)


def counted() -> Any:
    """SQL condition: a record that counts (not withdrawn on an upheld objection)."""
    return col(GovernmentCreditRecord.withdrawn_on).is_(None)


def breach_counts(
    *, session: Session, since: dt.date | None = None, until: dt.date | None = None
) -> dict[int, int]:
    """Confirmed government breaches per department id (the scorecard column), by the department each
    was confirmed against; those decided from ``since`` to ``until`` (both included) where given."""
    stmt = select(GovernmentCreditRecord.department_id, func.count()).where(counted())
    if since is not None:
        stmt = stmt.where(col(GovernmentCreditRecord.decision_date) >= since)
    if until is not None:
        stmt = stmt.where(col(GovernmentCreditRecord.decision_date) <= until)
    stmt = stmt.group_by(col(GovernmentCreditRecord.department_id))
    return {dept: int(n) for dept, n in session.exec(stmt).all()}
