"""Work orders handed in by the 12345 hotline platform (12345 工单接入): one case per order, ever.

The platform sends its order with its own order id; the case keeps that id (``Complaint.external_id``,
with ``source_system`` = ``HOTLINE_SOURCE``), and a resent order, even two copies arriving at once,
finds the case registered for the first: the unique constraint ``uq_complaint_external`` decides, on
SQLite and PostgreSQL alike. The caller commits.

A resend must be a copy: one that differs from the order registered (another caller, other content …)
is refused with ``Conflict`` naming the fields, and nothing of it is stored (``differing_fields``), so no
part of an order is dropped unseen.

The tracking password goes back only with the first answer (it is stored hashed). When that answer was
lost (the platform timed out after the case was committed), the platform's resend may ask for a new one
(``reissue_order_password``): the case gets a new password, the old one stops working.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.clock import Clock, utcnow
from models.complaint import (
    CATEGORY_LABELS,
    AttachmentRef,
    Category,
    Channel,
    Complaint,
    ComplaintCreate,
    ExternalOrder,
)
from models.complaints import register_complaint
from models.errors import Conflict, ValidationFailed
from models.hotline import HOTLINE_SOURCE
from models.org import Department
from models.pledge import normalise_phone
from models.text import Line, Paragraph, visible_text
from models.tracking_password import reissue_tracking_password
from models.workflow import Actor

_CATEGORY_BY_LABEL = {label: category for category, label in CATEGORY_LABELS.items()}
_SUMMARY_CHARS = 60
PLATFORM_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
# ``received_at`` is the platform's clock: a little ahead of ours is skew, more is a wrong time; a call
# taken more than a year before it reaches us is no order the platform would still be forwarding.
RECEIVED_AT_MAX_AHEAD = dt.timedelta(minutes=5)
RECEIVED_AT_MAX_AGE = dt.timedelta(days=366)
_RECEIVED_AT_FORMAT = "受理时间应为带时区的 ISO 8601 时间，例如 2026-03-16T09:12:00+08:00"


def _received_at_format(value: Any) -> Any:
    # pydantic's own refusals (not a time, no zone) speak English: said here as the field's format.
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError("received_at_format", _RECEIVED_AT_FORMAT) from None
        if parsed.tzinfo is None:
            raise PydanticCustomError("received_at_format", _RECEIVED_AT_FORMAT + "（须带时区，如 +08:00）")
        return parsed
    return value


def _received_at_plausible(value: dt.datetime) -> dt.datetime:
    clock = Clock.from_settings()
    now = utcnow()
    # A drill or demo on a pinned day (SHOUXIN_TODAY) dates its orders on that day's timeline.
    now += dt.timedelta(days=(clock.today() - clock.local_date(now)).days)
    if value > now + RECEIVED_AT_MAX_AHEAD:
        raise PydanticCustomError(
            "received_at_future",
            "受理时间晚于当前时间：请核对时间及时区（北京时间为 +08:00）",
        )
    if value < now - RECEIVED_AT_MAX_AGE:
        raise PydanticCustomError(
            "received_at_too_old", "受理时间早于一年前，不像是有效的受理时间：请核对年份及时区"
        )
    return value


# When the platform took a call: an order's, and a follow-up's on it (models/hotline_followups.py), checked
# alike, so a wrong zone or year is refused under the field's name whichever the platform sends.
ReceivedAt = Annotated[
    AwareDatetime, BeforeValidator(_received_at_format), AfterValidator(_received_at_plausible)
]


def platform_id_format(value: str, *, error: str, label: str, example: str) -> str:
    """``value`` if it is an id as the platform writes them (``PLATFORM_ID_PATTERN``), else refused under
    the field's name with ``error``, saying what such an id looks like."""
    if not re.fullmatch(PLATFORM_ID_PATTERN, value):
        raise PydanticCustomError(
            error, f"{label}只能由英文字母、数字和 . _ : - 组成（不含空格和汉字），例如 {example}"
        )
    return value


class WorkOrder(BaseModel):
    """A 12345 work order as the platform sends it (POST /api/v1/intake/work-orders).

    Checked here, under the order's own field names, so the complaint it registers is always valid: a
    blank name, phone or content is refused as caller_name … (not as a complaint field the platform never
    sent). A field this protocol does not know is refused (docs/integrations.md): an order whose data
    would otherwise be dropped unseen is sent back, not half registered."""

    model_config = ConfigDict(extra="forbid")

    # The pattern is checked by ``_order_id_format`` (a message saying what an id looks like), and shown
    # in the schema.
    order_id: str = Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": PLATFORM_ID_PATTERN},
        description="12345 平台的工单编号",
    )
    channel: Line | None = Field(
        default=None, max_length=32, description="12345 受理渠道，如 phone、web、wechat、app"
    )
    received_at: ReceivedAt = Field(description="12345 平台受理时间（带时区，ISO 8601）")
    caller_name: Line = Field(min_length=1, max_length=128, description="来电人姓名")
    caller_phone: Line = Field(
        min_length=3, max_length=32, description="来电人联系电话：手机号码，或带区号的固定电话"
    )
    caller_email: EmailStr | None = Field(default=None, description="来电人电子邮箱（可选）")
    title: Line | None = Field(default=None, max_length=200, description="工单标题；缺省时取诉求内容开头")
    content: Paragraph = Field(min_length=2, max_length=20000, description="诉求内容")
    # Documented as it is read (``_category_by_label``): the schema lists the Chinese names beside the codes,
    # or a client validating against /openapi.json would refuse the platform's own orders.
    category: Annotated[
        Category,
        WithJsonSchema(
            {
                "type": "string",
                "enum": [*(str(c) for c in Category), *CATEGORY_LABELS.values()],
                "default": str(Category.OTHER),
                "description": "投诉类别：代码或中文名称",
            }
        ),
    ] = Field(default=Category.OTHER, description="投诉类别：代码或中文名称")
    respondent_name: Line | None = Field(default=None, max_length=128, description="被投诉单位名称")
    respondent_department_code: Line | None = Field(default=None, max_length=32, description="被投诉部门代码")
    attachments: list[AttachmentRef] = Field(
        default_factory=list, max_length=20, description="附件：文件名、链接或档案号（文字，每项一个）"
    )

    @field_validator("order_id")
    @classmethod
    def _order_id_format(cls, value: str) -> str:
        return platform_id_format(value, error="order_id_format", label="工单编号", example="GD2026031600012")

    @field_validator("category", mode="before")
    @classmethod
    def _category_by_label(cls, value: Any) -> Any:
        # The platform may send the Chinese name of the category, as its operators see it.
        return _CATEGORY_BY_LABEL.get(value, value) if isinstance(value, str) else value

    @field_validator("caller_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        # Checked here as the complaint checks it, so a bad number is refused as caller_phone.
        return normalise_phone(value) or value

    @field_validator("channel")
    @classmethod
    def _blank_channel_is_none(cls, value: str | None) -> str | None:
        # Cleaned to "" when blank: stored as not given, as an omitted channel is.
        return value or None

    @field_validator("content")
    @classmethod
    def _content_says_something(cls, value: str) -> str:
        # The summary falls back to the content's opening: it must hold two visible characters.
        if len(visible_text(value)) < 2:
            raise ValueError("诉求内容过短，至少 2 个字 (content must say something)")
        return value

    def complaint(self) -> ComplaintCreate:
        """The complaint this order registers."""
        # One line of visible text: the summary is a one-line field, the content may span many.
        summary = visible_text(self.title)
        if len(summary) < 2:
            summary = visible_text(self.content)[:_SUMMARY_CHARS]
        return ComplaintCreate(
            channel=Channel.HOTLINE,
            complainant_name=self.caller_name,
            complainant_phone=self.caller_phone,
            complainant_email=self.caller_email,
            respondent_name=self.respondent_name,
            respondent_department_code=self.respondent_department_code,
            category=self.category,
            summary=summary,
            description=self.content,
            attachments=self.attachments,
        )

    def origin(self) -> ExternalOrder:
        return ExternalOrder(
            source_system=HOTLINE_SOURCE,
            external_id=self.order_id,
            external_channel=self.channel,
            external_received_at=self.received_at.astimezone(dt.UTC),
        )


def case_of_order(*, session: Session, order_id: str) -> Complaint | None:
    """The case registered for the 12345 order ``order_id``, if any."""
    stmt = select(Complaint).where(
        Complaint.source_system == HOTLINE_SOURCE, Complaint.external_id == order_id
    )
    return session.exec(stmt).first()


def not_before_order(*, case: Complaint, received_at: dt.datetime) -> None:
    """Refuse a later call about the order of ``case`` (a follow-up, models/hotline_followups.py) that
    the platform dates before the order itself: the wrong time or the wrong order. Both times are the
    platform's own clock, so no skew excuses it. ValidationFailed under ``received_at``."""
    ordered = case.external_received_at
    if ordered is None or received_at >= ordered:
        return
    local = ordered.astimezone(Clock.from_settings().tz).strftime("%Y-%m-%d %H:%M")
    message = (
        f"受理时间早于工单 {case.external_id} 的受理时间（北京时间 {local}）：补充材料、撤单、催单只能在"
        "工单受理之后，请核对时间、时区（北京时间为 +08:00）及工单编号"
    )
    raise ValidationFailed(
        f"{message} (received_at is before the order's own)",
        field="received_at",
        fields=[{"field": "received_at", "message": message, "type": "received_at_before_order"}],
    )


def differing_fields(*, session: Session, order: WorkOrder, case: Complaint) -> list[str]:
    """The fields (by the order's names) in which ``order`` differs from the one ``case`` was registered
    for: empty for a true copy. Read as registered: attachments reports added later are left out, and
    the respondent department is the code the platform sent (a retired one's successor was registered)."""
    given = order.complaint()
    events = list(
        session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == case.id)
            .order_by(col(CaseEvent.seq))
        )
    )
    registered = events[0].data if events else {}
    added = sum(len(e.data.get("attachments") or []) for e in events[1:])
    dept = session.get(Department, case.respondent_department_id) if case.respondent_department_id else None
    code = registered.get("respondent_department_code_given") or (dept.code if dept else None)
    as_sent = (order.respondent_department_code or "").strip() or None
    compared = {
        "caller_name": (given.complainant_name, case.complainant_name),
        "caller_phone": (given.complainant_phone, case.complainant_phone),
        "caller_email": (given.complainant_email, case.complainant_email),
        "title": (given.summary, case.summary),
        "content": (given.description, case.description),
        "category": (str(given.category), str(case.category)),
        "respondent_department_code": (as_sent, code),
        "attachments": (list(given.attachments), case.attachments[: len(case.attachments) - added]),
        "channel": (order.channel, case.external_channel),
        "received_at": (order.received_at.astimezone(dt.UTC), case.external_received_at),
    }
    if order.respondent_name or not order.respondent_department_code:
        # Left out with a department code given, the name was taken from the department.
        compared["respondent_name"] = (order.respondent_name, case.respondent_name)
    return [field for field, (sent, kept) in compared.items() if sent != kept]


def _refuse_a_different_copy(session: Session, order: WorkOrder, case: Complaint) -> None:
    differ = differing_fields(session=session, order=order, case=case)
    if differ:
        raise Conflict(
            f"工单 {order.order_id} 已登记为投诉 {case.number}，本次推送的内容与已登记的不同"
            f"（{'、'.join(differ)}），未保存。同一工单编号只能重复推送相同内容："
            "如为另一张工单，请使用新的工单编号推送；如为来电人对原工单的补充材料、撤单或催单，请推送至该工单的"
            f"后续接口（/intake/work-orders/{order.order_id}/follow-ups）；如为对原工单的更正，请联系受理人员在该投诉中处理"
            " (a resend of this order differs from the one registered: nothing stored)",
            order_id=order.order_id,
            case_number=case.number,
            fields=[{"field": field, "message": "与已登记的工单不同"} for field in differ],
        )


def register_work_order(
    *, session: Session, order: WorkOrder, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> tuple[Complaint, str | None]:
    """The case of ``order``: registered now (with its tracking password), or the one registered for an
    earlier copy of it (password None: it is stored only hashed; ``reissue_order_password`` replaces it).
    Flushed; the caller commits."""
    existing = case_of_order(session=session, order_id=order.order_id)
    if existing is not None:
        _refuse_a_different_copy(session, order, existing)
        return existing, None
    try:
        # A savepoint, so a copy that lost the race to a concurrent one undoes only its own registration.
        with session.begin_nested():
            return register_complaint(
                session=session,
                data=order.complaint(),
                actor=actor,
                today=today,
                calendar=calendar,
                external=order.origin(),
            )
    except IntegrityError:
        existing = case_of_order(session=session, order_id=order.order_id)
        if existing is None:
            raise
        _refuse_a_different_copy(session, order, existing)
        return existing, None


def reissue_order_password(*, session: Session, case: Complaint, actor: Actor) -> str:
    """A new tracking password for the case of a resent order whose first answer (with the password)
    never reached the platform: the old one stops working. Flushed; the caller commits."""
    reason = "12345 平台重复推送工单并要求重新生成查询密码（首次应答未送达）"
    return reissue_tracking_password(session=session, complaint=case, actor=actor, reason=reason)
