"""Work orders handed in by the 12345 hotline platform (12345 工单接入): one case per order, ever.

The platform sends its order with its own order id; the case keeps that id (``Complaint.external_id``,
with ``source_system`` = ``HOTLINE_SOURCE``), and a resent order, even two copies arriving at once,
finds the case registered for the first: the unique constraint ``uq_complaint_external`` decides, on
SQLite and PostgreSQL alike. The caller commits.

The tracking password goes back only with the first answer (it is stored hashed). When that answer was
lost (the platform timed out after the case was committed), the platform's resend may ask for a new one
(``reissue_order_password``): the case gets a new password, the old one stops working.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, WithJsonSchema, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.calendar import WorkCalendar
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
from models.hotline import HOTLINE_SOURCE
from models.pledge import normalise_phone
from models.text import Line, Paragraph, visible_text
from models.tracking_password import reissue_tracking_password
from models.workflow import Actor

_CATEGORY_BY_LABEL = {label: category for category, label in CATEGORY_LABELS.items()}
_SUMMARY_CHARS = 60


class WorkOrder(BaseModel):
    """A 12345 work order as the platform sends it (POST /api/v1/intake/work-orders).

    Checked here, under the order's own field names, so the complaint it registers is always valid: a
    blank name, phone or content is refused as caller_name … (not as a complaint field the platform never
    sent). A field this protocol does not know is refused (docs/integrations.md): an order whose data
    would otherwise be dropped unseen is sent back, not half registered."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$", description="12345 平台的工单编号"
    )
    channel: Line | None = Field(
        default=None, max_length=32, description="12345 受理渠道，如 phone、web、wechat、app"
    )
    received_at: AwareDatetime = Field(description="12345 平台受理时间（带时区，ISO 8601）")
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


def register_work_order(
    *, session: Session, order: WorkOrder, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> tuple[Complaint, str | None]:
    """The case of ``order``: registered now (with its tracking password), or the one registered for an
    earlier copy of it (password None: it is stored only hashed; ``reissue_order_password`` replaces it).
    Flushed; the caller commits."""
    existing = case_of_order(session=session, order_id=order.order_id)
    if existing is not None:
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
        return existing, None


def reissue_order_password(*, session: Session, case: Complaint, actor: Actor) -> str:
    """A new tracking password for the case of a resent order whose first answer (with the password)
    never reached the platform: the old one stops working. Flushed; the caller commits."""
    reason = "12345 平台重复推送工单并要求重新生成查询密码（首次应答未送达）"
    return reissue_tracking_password(session=session, complaint=case, actor=actor, reason=reason)
