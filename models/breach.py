"""Published breach records (失信公示记录), in the 双公示 field style."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from models.clock import utcnow
from models.lifecycle import BreachState
from models.types import UTCDateTime


class Severity(StrEnum):
    MINOR = "minor"  # 轻微: in principle not published, ≤ 3 months
    GENERAL = "general"  # 一般: 3 months – 1 year
    SERIOUS = "serious"  # 严重: 1 – 3 years


SEVERITY_LABELS = {Severity.MINOR: "轻微", Severity.GENERAL: "一般", Severity.SERIOUS: "严重"}


# A published record. The unique pledge_id is what makes a pledge's publication happen at most once; a
# complaint's record is written with its department's credit record, whose unique (complaint, department)
# does the same for each department a breach was confirmed against (models/government_credit.py).
class PublishedBreach(SQLModel, table=True):
    __tablename__ = "published_breach"
    __table_args__ = (UniqueConstraint("pledge_id", name="uq_breach_pledge"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True, index=True)
    source_kind: str = Field(max_length=16)  # pledge / complaint
    pledge_id: int | None = Field(default=None, foreign_key="pledge.id")
    complaint_id: int | None = Field(default=None, foreign_key="complaint.id")
    subject_kind: str = Field(max_length=16)
    subject_name: str = Field(max_length=128, index=True)  # XDR_MC
    subject_credit_code: str | None = Field(default=None, max_length=18, index=True)  # XDR_SHXYM
    matter: str = Field(max_length=200)
    facts: str = Field(max_length=2000)  # 失信行为
    basis: str = Field(max_length=500)  # 依据
    department_id: int = Field(foreign_key="department.id", index=True)  # 认定部门
    severity: Severity = Field(default=Severity.GENERAL, max_length=16)
    decision_date: dt.date = Field(index=True)  # JDRQ
    publication_end: dt.date = Field(index=True)  # GSJZQ
    repair_earliest: dt.date
    state: BreachState = Field(default=BreachState.PUBLISHED, index=True, max_length=24)
    version: int = 1
    stage_seq: int = 0
    stage_deadline: dt.date | None = None
    # A deadline in a year the calendar does not cover yet (待日历确定, models/pending_deadlines.py): no
    # date, the flag, and the working days still owed from a known day, computed when the year is loaded.
    deadline_pending: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    deadline_counted_from: dt.date | None = None
    deadline_working_days: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
