"""Informed pledges (告知承诺) made by enterprises, individuals or departments to an authority."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import EmailStr
from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.clock import utcnow
from models.lifecycle import PledgeState
from models.text import Line, Paragraph
from models.types import UTCDateTime


class PledgorKind(StrEnum):
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    GOVERNMENT = "government"


PLEDGOR_KIND_LABELS = {
    PledgorKind.ENTERPRISE: "企业",
    PledgorKind.INDIVIDUAL: "个人",
    PledgorKind.GOVERNMENT: "政府部门",
}


# What a pledge says: who promised what, to whom, by when.
class PledgeBase(SQLModel):
    pledgor_kind: PledgorKind
    pledgor_name: Line = Field(min_length=1, max_length=128)
    pledgor_credit_code: Line | None = Field(default=None, max_length=18, index=True)
    pledgor_email: str | None = Field(default=None, max_length=254)
    matter: Line = Field(min_length=1, max_length=200)  # 事项, e.g. 建筑工程施工许可证
    obligation: Paragraph = Field(min_length=1, max_length=500)  # 承诺补交的材料, e.g. 施工图审查合格书
    deadline: dt.date = Field(index=True)
    legal_basis: Paragraph = Field(default="", max_length=500)


# Input of POST /pledges and of each import row; the authority is given by department code.
class PledgeCreate(PledgeBase):
    pledgor_email: EmailStr | None = None
    authority_code: str = Field(min_length=1, max_length=32)


# The stored pledge. ``publication_day`` is the N-th working day after the deadline (None: pending calendar).
class Pledge(PledgeBase, table=True):
    __table_args__ = (
        UniqueConstraint("year", "seq", name="uq_pledge_year_seq"),
        UniqueConstraint("import_key", name="uq_pledge_import_key"),
        # The sweep's candidate scans (state + date) over a million open pledges stay index-only.
        Index("ix_pledge_state_publication_day", "state", "publication_day"),
        Index("ix_pledge_state_deadline", "state", "deadline"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True, index=True)
    year: int
    seq: int
    # Indexed through the (state, date) pairs above, which serve a lookup by state alone too.
    state: PledgeState = Field(default=PledgeState.REGISTERED, max_length=32)
    version: int = 1
    authority_id: int = Field(foreign_key="department.id", index=True)
    publication_day: dt.date | None = Field(default=None, index=True)
    calendar_version: str | None = Field(default=None, max_length=32)
    stage_seq: int = 0
    stage_deadline: dt.date | None = None
    # Set by bulk import so that importing the same file twice does not duplicate pledges.
    import_key: str | None = Field(default=None, max_length=64)
    # HMAC-SHA256 of the pledgor's access code (办理码, models/pledge_access.py); never the code itself.
    # None for pledges registered before codes existed, until staff re-issue one.
    access_code_digest: str | None = Field(default=None, max_length=64)
    registered_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


# What the API returns.
class PledgePublic(PledgeBase):
    id: int
    number: str
    state: PledgeState
    version: int
    authority_id: int
    publication_day: dt.date | None
    calendar_version: str | None
    created_at: dt.datetime


# Evidence files supplied by the pledgor; content lives on disk under its SHA-256.
class PledgeEvidence(SQLModel, table=True):
    __tablename__ = "pledge_evidence"
    id: int | None = Field(default=None, primary_key=True)
    pledge_id: int = Field(foreign_key="pledge.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    uploaded_by: str = Field(max_length=128)
    uploaded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
