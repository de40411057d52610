"""Informed pledges (告知承诺) made by enterprises, individuals or departments to an authority."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from enum import StrEnum

from pydantic import EmailStr, field_validator
from sqlalchemy import Column, Index, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import OutOfCalendarCoverage, ValidationFailed
from models.lifecycle import PledgeState
from models.outbox import mobile_number
from models.settings import get_settings
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


class PledgeType(StrEnum):
    """承诺类型 (SX_CNLX in credit-platform documents): the categories of the credit-commitment rules."""

    APPROVAL_SUBSTITUTE = "approval_substitute"  # 审批替代型
    DEFERRED_DOCUMENTS = "deferred_documents"  # 容缺受理型
    CERTIFICATE = "certificate"  # 证明事项型
    CREDIT_REPAIR = "credit_repair"  # 信用修复型
    INDUSTRY_SELF_DISCIPLINE = "industry_self_discipline"  # 行业自律型
    VOLUNTARY = "voluntary"  # 主动型


PLEDGE_TYPE_LABELS = {
    PledgeType.APPROVAL_SUBSTITUTE: "审批替代型",
    PledgeType.DEFERRED_DOCUMENTS: "容缺受理型",
    PledgeType.CERTIFICATE: "证明事项型",
    PledgeType.CREDIT_REPAIR: "信用修复型",
    PledgeType.INDUSTRY_SELF_DISCIPLINE: "行业自律型",
    PledgeType.VOLUNTARY: "主动型",
}


class IdType(StrEnum):
    """证件类型 of an enterprise's legal representative (FR_ZJLX)."""

    RESIDENT_ID = "resident_id"  # 居民身份证
    PASSPORT = "passport"  # 护照
    HK_MACAO_PERMIT = "hk_macao_permit"  # 港澳居民来往内地通行证
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"  # 外国人永久居留身份证


ID_TYPE_LABELS = {
    IdType.RESIDENT_ID: "身份证",
    IdType.PASSPORT: "护照号",
    IdType.HK_MACAO_PERMIT: "港澳居民来往内地通行证",
    IdType.TAIWAN_PERMIT: "台湾居民来往大陆通行证",
    IdType.FOREIGN_PERMANENT_RESIDENT: "外国人永久居留身份证",
}


# A landline: area code 0 + 2-3 digits, then 7-8 digits, optionally an extension (转, ext, x or # and 1-6
# digits); or a service number such as 95588 / 400-xxx-xxxx. Written with spaces, dashes or parentheses.
_LANDLINE = re.compile(
    # 0571-87654321转123; +86-571-87654321 (the trunk 0 dropped after the country code, as it is dialled)
    r"(?:(?:(?:\+86|0086)0?|0)\d{2,3})?[2-9]\d{6,7}(?:(?:转|分机|ext\.?|x|#)\d{1,6})?"
    r"|400\d{7}|9\d{4}",  # 400-810-8888, 95588
    re.ASCII,  # \d is 0-9 only, not another script's digits
)
# An extension written after a dash (0471-6234567-8001), the way 12345 operators and switchboards write it:
# once the separators are gone it cannot be told from the number, so it is split off first.
_DASHED_EXTENSION = re.compile(r"(?P<number>.*\d)\s*[-－—]\s*(?P<extension>\d{1,6})", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")
PHONE_HINT = (
    "手机号码为 11 位数字（以 13–19 开头，可带 +86）；"
    "固定电话请写区号，如 0571-87654321 或 0571-87654321转123"
)


def normalise_phone(phone: str | None) -> str | None:
    """The pledgor's 联系电话 as stored: None when blank, a mobile as its 11 digits (it will be texted), a
    landline as written (trimmed; staff call it, it is never texted). Anything else is refused, saying what a
    mobile and a landline look like: a mistyped mobile would otherwise be kept as a "landline" and the
    pledgor never texted."""
    if phone is None or not phone.strip():
        return None
    text = unicodedata.normalize("NFKC", phone).strip()
    mobile = mobile_number(text)
    if mobile:
        return mobile
    if len(text) <= 32 and (_is_landline(text) or _is_landline_with_dashed_extension(text)):
        return text
    raise ValueError(
        f"联系电话“{phone.strip()[:40]}”格式不正确：{PHONE_HINT} (not a mobile or landline number)"
    )


def _is_landline(text: str) -> bool:
    plain = _PHONE_SEPARATORS.sub("", text)
    return not plain.startswith("1") and _LANDLINE.fullmatch(plain) is not None


def _is_landline_with_dashed_extension(text: str) -> bool:
    dashed = _DASHED_EXTENSION.fullmatch(text)
    return dashed is not None and _is_landline(dashed["number"])


def normalise_mobile(phone: str | None) -> str | None:
    """A mobile number someone gives to be texted (the objector's or applicant's 手机号码 on the public
    forms): None when blank, else its 11 digits; a landline or anything else is refused, saying what a
    mobile looks like (a landline cannot take an SMS, and the field is only for that)."""
    if phone is None or not phone.strip():
        return None
    text = unicodedata.normalize("NFKC", phone).strip()
    mobile = mobile_number(text)
    if mobile is None:
        raise ValueError(
            f"手机号码“{phone.strip()[:40]}”格式不正确：请填写 11 位手机号码（以 13–19 开头，可带 +86）；"
            "固定电话不能接收短信，可不填 (not a mobile number)"
        )
    return mobile


def _years_from(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (or earlier); 29 February becomes the 28th in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def check_deadline(*, deadline: dt.date, today: dt.date) -> None:
    """Refuse (422, field ``deadline``) a deadline outside the plausible range around the registration
    day ``today``: ``pledge_deadline_years_before`` years before it to ``pledge_deadline_years_after``
    years after (defaults 1 and 5). Outside it a date is a typing slip (0001-01-01, 1900-01-01,
    9999-12-31), not a promise: stored, it would never publish, or publish at once with its publication
    period already over. Every registration path (form, API, bulk import) calls this one check."""
    settings = get_settings()
    before, after = settings.pledge_deadline_years_before, settings.pledge_deadline_years_after
    low, high = _years_from(today, -before), _years_from(today, after)
    if not low <= deadline <= high:
        raise ValidationFailed(
            f"承诺期限 {deadline.isoformat()} 不在合理范围内：应在登记日 {today.isoformat()} 前 {before} 年至"
            f"后 {after} 年之间（{low.isoformat()} 至 {high.isoformat()}）；请核对日期后重新填写 "
            "(deadline out of the plausible range)",
            field="deadline",
            earliest=low.isoformat(),
            latest=high.isoformat(),
        )


def registration_publication_day(
    calendar: WorkCalendar, *, deadline: dt.date, registered_on: dt.date
) -> dt.date | None:
    """The publication day a pledge gets at registration: the N-th working day after its deadline, but
    never before the N-th working day after its registration. A back-registered pledge (deadline already
    past) thus gets the same N working days to fulfil as an ordinary one gets after its deadline, instead of
    being published at the next sweep, without warning, with a publication period counted from a day
    already past. None while a needed year's calendar is not loaded (computed once it is)."""
    n = get_settings().publication_working_days
    try:
        day = calendar.nth_working_day_after(deadline, n)
        if deadline < registered_on:  # otherwise the deadline's day is the later one anyway
            day = max(day, calendar.nth_working_day_after(registered_on, n))
    except OutOfCalendarCoverage:
        return None
    return day


# What a pledge says: who promised what, to whom, by when.
class PledgeBase(SQLModel):
    pledgor_kind: PledgorKind
    pledgor_name: Line = Field(min_length=1, max_length=128)
    pledgor_credit_code: Line | None = Field(default=None, max_length=18, index=True)
    pledgor_email: str | None = Field(default=None, max_length=254)
    # 联系电话 given by the authority at registration (form, API or import): a mobile is stored as its 11
    # digits and texted; a landline is kept as written for staff to call, never texted (normalise_phone).
    pledgor_phone: str | None = Field(default=None, max_length=32)
    matter: Line = Field(min_length=1, max_length=200)  # 事项, e.g. 建筑工程施工许可证
    obligation: Paragraph = Field(min_length=1, max_length=500)  # 承诺补交的材料, e.g. 施工图审查合格书
    deadline: dt.date = Field(index=True)
    legal_basis: Paragraph = Field(default="", max_length=500)
    # Optional, carried into the credit-platform documents: the pledge's type (SX_CNLX) and, for an
    # enterprise, its legal representative (FRDB) with the ID type and number (FR_ZJLX, FR_ZJHM).
    pledge_type: PledgeType | None = Field(default=None, max_length=32)
    legal_representative: Line | None = Field(default=None, max_length=64)
    legal_representative_id_type: IdType | None = Field(default=None, max_length=32)
    legal_representative_id_number: Line | None = Field(default=None, max_length=32)


# Input of POST /pledges and of each import row; the authority is given by department code.
class PledgeCreate(PledgeBase):
    pledgor_email: EmailStr | None = None
    authority_code: str = Field(min_length=1, max_length=32)

    @field_validator("pledgor_phone", mode="before")
    @classmethod
    def _phone(cls, value: object) -> str | None:
        if value is None or isinstance(value, str):
            return normalise_phone(value)
        raise ValueError("联系电话应为文本，如 13812345678 或 0571-87654321 (phone must be a string)")


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
    # A deadline in a year the calendar does not cover yet (待日历确定, models/pending_deadlines.py): no
    # date, the flag, and the working days still owed from a known day, computed when the year is loaded.
    deadline_pending: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    deadline_counted_from: dt.date | None = None
    deadline_working_days: int | None = None
    # The day the pledge was registered (the service's today, Asia/Shanghai): a back-registered pledge's
    # publication day is never before the N-th working day after it (``registration_publication_day``),
    # also when the calendar changes and the day is computed again. None only for rows written outside
    # the services (as the benchmarks' generated ones), counted from the deadline alone.
    registered_on: dt.date | None = None
    # The day the latest evidence was handed in (Asia/Shanghai): after ``deadline`` it was late.
    evidence_submitted_on: dt.date | None = None
    # Evidence rejected on or after the publication day: the day the publication day is counted from
    # again (the grace of ``pledge_rejection_grace_working_days``); None: counted from the deadline.
    publication_counted_from: dt.date | None = None
    # Set by bulk import so that importing the same file twice does not duplicate pledges.
    import_key: str | None = Field(default=None, max_length=64)
    # HMAC-SHA256 of the pledgor's access code (办理码, models/pledges/access.py); never the code itself.
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
