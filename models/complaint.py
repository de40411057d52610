"""Complaints of government breach (政府违约失信投诉)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, get_args
from urllib.parse import quote

from pydantic import AfterValidator, EmailStr, computed_field, field_validator, model_validator
from sqlalchemy import JSON, Column, Numeric, UniqueConstraint, false
from sqlmodel import Field, Session, SQLModel, col, select

from models.audit import CaseEvent
from models.clock import utcnow
from models.lifecycle import ComplaintState
from models.pledge import normalise_phone
from models.text import Line, Paragraph
from models.types import UTCDateTime

# The public progress page (/track), where a complainant follows a case with its number and password.
TRACKING_PATH = "/track"


def tracking_path(number: str) -> str:
    """The tracking page's path with the case's number filled in: for the receipt page, the online
    registration's answer and the complainant's mails (``public_url`` of this, when the mail is rendered)."""
    return f"{TRACKING_PATH}?number={quote(number)}"


# How a deadline waiting for next year's holiday notice reads everywhere (models/pending_deadlines.py).
PENDING_DEADLINE_LABEL = "待日历确定"


class Channel(StrEnum):
    HOTLINE = "hotline"  # 12345 热线
    WINDOW = "window"  # 线下投诉窗口
    WEBSITE = "website"  # 信用网站投诉专栏
    FORWARDED = "forwarded"  # 其他平台转办


CHANNEL_LABELS = {
    Channel.HOTLINE: "12345热线",
    Channel.WINDOW: "线下投诉窗口",
    Channel.WEBSITE: "信用网站专栏",
    Channel.FORWARDED: "其他平台转办",
}


class Category(StrEnum):
    PROCUREMENT = "procurement"
    BIDDING = "bidding"
    INVESTMENT_ATTRACTION = "investment_attraction"
    PPP = "ppp"
    INDUSTRIAL_SUPPORT = "industrial_support"
    GOVERNMENT_INVESTMENT = "government_investment"
    SME_ARREARS = "sme_arrears"
    UNPAID_WAGES = "unpaid_wages"
    COURT_JUDGMENT = "court_judgment"
    NEW_OFFICIAL_OLD_DEBT = "new_official_old_debt"
    OTHER = "other"


CATEGORY_LABELS = {
    Category.PROCUREMENT: "政府采购",
    Category.BIDDING: "招标投标",
    Category.INVESTMENT_ATTRACTION: "招商引资",
    Category.PPP: "政府和社会资本合作（PPP）",
    Category.INDUSTRIAL_SUPPORT: "产业扶持",
    Category.GOVERNMENT_INVESTMENT: "政府投资",
    Category.SME_ARREARS: "拖欠中小企业账款",
    Category.UNPAID_WAGES: "拖欠农民工工资",
    Category.COURT_JUDGMENT: "不履行生效判决",
    Category.NEW_OFFICIAL_OLD_DEBT: "新官不理旧账",
    Category.OTHER: "其他",
}


# What the complainant tells intake staff; shared by the create input and the stored row.
class ComplaintBase(SQLModel):
    channel: Channel
    complainant_name: str = Field(min_length=1, max_length=128)
    complainant_phone: str | None = Field(default=None, max_length=32)
    complainant_email: str | None = Field(default=None, max_length=254)
    complainant_credit_code: str | None = Field(default=None, max_length=18)
    respondent_name: str | None = Field(default=None, max_length=128)
    category: Category
    amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    summary: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=20000)


def _reference(value: str) -> str:
    if not value:
        raise ValueError("附件不能为空：请填写文件名、链接或档案号，或删除该项 (blank attachment reference)")
    return value


# One attachment reference given at registration (a file name, a link, an archive number): one line.
AttachmentRef = Annotated[Line, AfterValidator(_reference)]


# The return visit's answers that close a case (回访满意并办结); 不满意 sends it to be redone. Both count as
# satisfied in the scorecard's 满意率, as 12345 assessments count them.
SatisfiedAnswer = Literal["满意", "基本满意"]
SATISFIED_ANSWERS: tuple[str, ...] = get_args(SatisfiedAnswer)


# Input of POST /complaints (the staff form and 12345 orders too). Contact details are required: feedback
# is owed to the complainant. Typed text is cleaned (``Line``, ``Paragraph``): a name, phone or summary of
# spaces or invisible characters only is empty, so the length and contact rules are not met by blanks. The
# phone must be one the result can be given on (a mobile or a landline, as a pledgor's): "😀😀" as the only
# contact would register a complaint nobody can answer.
class ComplaintCreate(ComplaintBase):
    complainant_name: Line = Field(min_length=1, max_length=128)
    complainant_phone: Line | None = Field(default=None, max_length=32)
    complainant_email: EmailStr | None = None
    complainant_credit_code: Line | None = Field(default=None, max_length=18)
    respondent_name: Line | None = Field(default=None, max_length=128)
    summary: Line = Field(min_length=2, max_length=200)
    description: Paragraph = Field(default="", max_length=20000)
    respondent_department_code: Line | None = Field(default=None, max_length=32)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)

    @field_validator("complainant_credit_code", "respondent_name")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # Cleaned to "" when blank: stored as not given, as an omitted field is.
        return value or None

    @field_validator("complainant_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value)

    @model_validator(mode="after")
    def _contact_required(self) -> ComplaintCreate:
        if not (self.complainant_phone or self.complainant_email):
            raise ValueError(
                "投诉人联系电话和电子邮箱至少填写一项，以便反馈办理结果 (phone or email is required)"
            )
        return self


# The stored complaint. ``state`` changes only through the lifecycle service; ``version`` guards races.
class Complaint(ComplaintBase, table=True):
    __table_args__ = (
        UniqueConstraint("year", "seq", name="uq_complaint_year_seq"),
        # A resent work order finds its case instead of registering a second one, even when two copies
        # arrive at once (models/hotline_intake.py).
        UniqueConstraint("source_system", "external_id", name="uq_complaint_external"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True, index=True)
    year: int
    seq: int
    state: ComplaintState = Field(default=ComplaintState.REGISTERED, index=True, max_length=32)
    version: int = 1
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(16, 2)))
    attachments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    respondent_department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    lead_department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    tracking_password_hash: str = Field(max_length=256)
    # The current stage's clock: every state change starts a new stage.
    stage_seq: int = 0
    stage_started_on: dt.date | None = None
    stage_deadline: dt.date | None = Field(default=None, index=True)
    # A deadline in a year the calendar does not cover yet (待日历确定, models/pending_deadlines.py): no
    # date, the flag, and the working days still owed from a known day, computed when the year is loaded.
    deadline_pending: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    deadline_counted_from: dt.date | None = None
    deadline_working_days: int | None = None
    dispatched_on: dt.date | None = None
    # A stage's one extension: requested (days set), then decided (used); a rejected request's days are
    # cleared, so an approved extension is ``extended_stage``'s test.
    extension_requested_days: int | None = None
    extension_used: bool = False
    paused_from_state: str | None = None
    paused_on: dt.date | None = None
    warning_level: str | None = None  # yellow / red, for the current stage
    escalation_level: int = 0  # 0 none, 1 催办, 2 督办, 3 提级 (current stage)
    escalated_to_department_id: int | None = Field(default=None, foreign_key="department.id")
    redo_count: int = 0
    merged_into_id: int | None = Field(default=None, foreign_key="complaint.id", index=True)
    suggestions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    screened: bool = Field(default=False, index=True)
    satisfaction: str | None = None
    breach_confirmed: bool = False
    registered_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # A case handed in by another system (12345): that system, its own order id and channel, and when it
    # received the call. All null for a case registered here.
    source_system: str | None = Field(default=None, max_length=32)
    external_id: str | None = Field(default=None, max_length=64)
    external_channel: str | None = Field(default=None, max_length=32)
    external_received_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ExternalOrder(NamedTuple):
    """Where a case handed in by another system comes from (the columns of the same names)."""

    source_system: str
    external_id: str
    external_channel: str | None
    external_received_at: dt.datetime | None


# Which departments a complaint is dispatched to: one lead (主办) and any assisting (协办).
class ComplaintAssignment(SQLModel, table=True):
    __tablename__ = "complaint_assignment"
    __table_args__ = (UniqueConstraint("complaint_id", "department_id", name="uq_assignment"),)
    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    lead: bool = True
    active: bool = True


# Per-category rectification deadline set by administrators (RULEBOOK: default 15 working days).
class CategoryRule(SQLModel, table=True):
    __tablename__ = "category_rule"
    category: Category = Field(primary_key=True, max_length=32)
    rectification_working_days: int = Field(ge=1, le=120)
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    department_id: int | None = Field(default=None, foreign_key="department.id")


# What staff see of a complaint (the tracking password hash never leaves the database).
class ComplaintPublic(ComplaintBase):
    id: int
    number: str
    state: ComplaintState
    version: int
    attachments: list[str]
    respondent_department_id: int | None
    lead_department_id: int | None
    stage_started_on: dt.date | None
    stage_deadline: dt.date | None
    # A deadline in a year whose holiday notice is not loaded yet: no date until it is.
    deadline_pending: bool = False
    deadline_counted_from: dt.date | None = None
    deadline_working_days: int | None = None
    extension_used: bool
    warning_level: str | None
    escalation_level: int
    redo_count: int
    merged_into_id: int | None
    suggestions: dict[str, Any]
    satisfaction: str | None
    breach_confirmed: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    source_system: str | None = Field(default=None, description="来源系统（如 12345），本系统登记的为空")
    external_id: str | None = Field(default=None, description="来源系统的工单编号")
    external_channel: str | None = Field(
        default=None, description="来源系统受理的方式（如 phone），本系统登记的为空"
    )
    external_received_at: dt.datetime | None = Field(
        default=None, description="来源系统受理的时间（市民来电的时间）；办理期限仍自本系统登记之日起算"
    )

    @computed_field(description="办理期限：日期，或“待日历确定”（该年节假日安排尚未载入）；无期限时为空")  # type: ignore[prop-decorator]
    @property
    def deadline_label(self) -> str | None:
        if self.deadline_pending:
            return PENDING_DEADLINE_LABEL
        return self.stage_deadline.isoformat() if self.stage_deadline else None


# Where a complaint not accepted (不予受理) should go instead (RULEBOOK complaints §3), and the sentence the
# complainant is told: the mail, the tracking page and the 12345 message read the same one.
class RejectRoute(StrEnum):
    LITIGATION = "litigation"
    ARBITRATION = "arbitration"
    RECONSIDERATION = "reconsideration"
    DISCIPLINE = "discipline"
    PETITION = "petition"
    DISCLOSURE = "disclosure"
    OTHER = "other"


ROUTE_GUIDANCE = {
    RejectRoute.LITIGATION: "该事项属于诉讼范围，请通过人民法院依法主张权利。",
    RejectRoute.ARBITRATION: "该事项属于仲裁范围，请向约定的仲裁机构申请仲裁。",
    RejectRoute.RECONSIDERATION: "该事项属于行政复议范围，请依法向行政复议机关申请行政复议。",
    RejectRoute.DISCIPLINE: "该事项属于纪检监察范围，请向纪检监察机关反映。",
    RejectRoute.PETITION: "该事项属于信访范围，请通过信访渠道反映。",
    RejectRoute.DISCLOSURE: "该事项属于政府信息公开范围，请向有关行政机关申请政府信息公开。",
}


def why_not_accepted(events: list[CaseEvent]) -> tuple[str | None, str | None]:
    """The reason and the route of the case's latest ``reject``, as the complainant was told them.

    Only ``data`` is read, never the actor or a staff note: the reason and the route are what the clerk
    addressed to the complainant (models/complaints/actions.py ``_reject``)."""
    reject = next((e for e in reversed(events) if e.event == "reject"), None)
    if reject is None:
        return None, None
    reason = reject.data.get("reason") or None
    route = reject.data.get("route")
    if route == RejectRoute.OTHER:
        # The clerk's own wording (``RejectBody.route_detail``): an event that did not keep it has none.
        return reason, (reject.data.get("route_detail") or "").strip() or None
    return reason, ROUTE_GUIDANCE[RejectRoute(route)] if route in set(RejectRoute) else None


# A merge chain never gets longer than this (each merge goes into an earlier case): a guard, not a rule.
MAX_MERGE_DEPTH = 100


def handling_case(session: Session, complaint: Complaint) -> Complaint:
    """The case that handles ``complaint``: itself, or the one it was merged into, followed through a case
    that was itself merged later (C into B, then B into A: A)."""
    case = complaint
    for _ in range(MAX_MERGE_DEPTH):
        if case.merged_into_id is None:
            break
        target = session.get(Complaint, case.merged_into_id)
        if target is None:
            break
        case = target
    return case


def merged_into(session: Session, complaint_id: int) -> list[Complaint]:
    """Every case merged into ``complaint_id``, directly or through a case merged into it."""
    found: list[Complaint] = []
    frontier = [complaint_id]
    for _ in range(MAX_MERGE_DEPTH):
        if not frontier:
            break
        rows = session.exec(select(Complaint).where(col(Complaint.merged_into_id).in_(frontier))).all()
        found += rows
        frontier = [c.id for c in rows if c.id is not None]
    return found
