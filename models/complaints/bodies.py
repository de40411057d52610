"""What the complaint services take and give: one body per staff action, the list filter, the work-queue
item and the public tracking answer.

Action bodies refuse unknown fields, so a typo is not silently ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from models.breach import Severity
from models.complaint import ROUTE_GUIDANCE, RejectRoute, SatisfiedAnswer
from models.lifecycle import ComplaintState as CS
from models.text import Line, Paragraph


class ActionBody(BaseModel):
    """Fields every action takes: the version the caller saw (stale → 409) and an optional note."""

    model_config = ConfigDict(extra="forbid")
    expected_version: int | None = Field(default=None, ge=1, description="调用方看到的案件版本号")
    note: str | None = Field(default=None, max_length=2000, description="备注")


class ReasonBody(ActionBody):
    reason: str = Field(min_length=2, max_length=2000, description="理由")


class RejectBody(ReasonBody):
    route: RejectRoute = Field(description="应当通过的渠道")
    # Checked even when left out (validate_default), so a missing detail is reported at this field and the
    # page shows it under the box it names, not as a message above the form naming a code.
    route_detail: str | None = Field(
        default=None, max_length=500, validate_default=True, description="其他渠道的说明"
    )

    @field_validator("route_detail")
    @classmethod
    def _other_needs_detail(cls, value: str | None, info: ValidationInfo) -> str | None:
        # ``route`` is declared first: it is in ``info.data`` when it was valid.
        if info.data.get("route") == RejectRoute.OTHER and not (value or "").strip():
            raise ValueError("渠道为“其他”时请填写其他渠道说明，写明应通过的渠道 (route_detail required)")
        return value

    def guidance(self) -> str:
        return (self.route_detail or "") if self.route == RejectRoute.OTHER else ROUTE_GUIDANCE[self.route]


class MergeBody(ActionBody):
    target_number: str = Field(min_length=1, max_length=20, description="并入的较早案件编号")


class DispatchBody(ActionBody):
    lead_department_code: str = Field(min_length=1, max_length=32, description="主办部门代码")
    assisting_department_codes: list[str] = Field(default_factory=list, max_length=10, description="协办部门")


class ExplanationBody(ActionBody):
    explanation: str = Field(min_length=2, max_length=4000, description="核实不属实的说明")


class OrderRectificationBody(ActionBody):
    deadline_days: int | None = Field(default=None, ge=1, le=120, description="整改期限（工作日）")
    # What the department must do, in writing: an order to rectify without it cannot be checked later.
    requirements: Paragraph = Field(min_length=2, max_length=4000, description="整改要求（必填）")


class ReportRectificationBody(ActionBody):
    evidence: str = Field(min_length=2, max_length=4000, description="整改情况及证明")
    attachments: list[str] = Field(default_factory=list, max_length=20)


class RefusalBody(ActionBody):
    """A refusal to rectify, recorded with its evidence: what happened, and at least one attached file or
    a document reference (e.g. the department's written refusal, 文号), as a rectification report carries."""

    refusal_facts: str = Field(min_length=2, max_length=4000, description="拒不整改的事实及证据说明")
    attachments: list[str] = Field(default_factory=list, max_length=20)
    document_reference: str | None = Field(default=None, max_length=200, description="证明文件名称或文号")

    @model_validator(mode="after")
    def _evidence_required(self) -> RefusalBody:
        if not any(a.strip() for a in self.attachments) and not (self.document_reference or "").strip():
            raise ValueError(
                "请附上至少一个证明文件，或填写证明文件名称或文号 (attach a file or give a document number)"
            )
        return self


class ExplanationReportBody(ActionBody):
    written_explanation: str = Field(min_length=2, max_length=4000, description="违约失信原因的书面说明")
    rectification: str = Field(min_length=2, max_length=4000, description="整改措施及完成情况")
    attachments: list[str] = Field(default_factory=list, max_length=20)


class ContactAttemptBody(ActionBody):
    contact_result: str = Field(min_length=2, max_length=2000, description="联系情况（方式、号码、结果）")


class AssistOpinionBody(ActionBody):
    """协办意见: what an assisting department knows of the case and its view, for the lead to use in the
    verification, the rectification and the reply (models/complaints/assisting.py mails it to the lead)."""

    opinion: Paragraph = Field(min_length=2, max_length=2000, description="协办意见（将告知主办单位）")


class ConfirmBreachBody(ReasonBody):
    severity: Severity = Field(default=Severity.GENERAL, description="失信程度（轻微、一般、严重）")
    # The text the public register shows as the record's matter. Written for publication by the deciding
    # supervisor; the form is prefilled with the complaint summary masked (models/government_credit.py
    # public_text_draft), and an API call that leaves it out gets that masked draft.
    public_text: Line | None = Field(
        default=None,
        min_length=2,
        max_length=200,
        description="事实摘要（公开文本，将在失信公示中展示，不得含个人信息）；留空则使用遮蔽个人信息后的投诉摘要",
    )


class ReplyBody(ActionBody):
    reply_text: str = Field(min_length=2, max_length=4000, description="答复内容")


class CloseBody(ActionBody):
    satisfaction: SatisfiedAnswer = Field(description="回访满意度")


class ExtensionRequestBody(ReasonBody):
    days: int = Field(ge=1, le=60, description="申请延长的工作日数")


class WithdrawBody(ActionBody):
    """投诉人撤回: the complainant's own reason, as they gave it by phone or in writing (the case ends on it,
    and it is what the complainant and the departments are told)."""

    reason: Paragraph = Field(
        min_length=2,
        max_length=2000,
        description="投诉人撤回的理由（如欠款已支付），按来电或书面申请记录",
    )


class OptionalReasonBody(ActionBody):
    reason: str | None = Field(default=None, max_length=2000, description="理由")


ACTION_BODIES: dict[str, type[ActionBody]] = {
    "accept": ActionBody,
    "reject": RejectBody,
    "merge": MergeBody,
    "dispatch": DispatchBody,
    "return_order": ReasonBody,
    "sign_for": ActionBody,
    "verify_true": ActionBody,
    "verify_untrue": ExplanationBody,
    "order_rectification": OrderRectificationBody,
    "report_rectification": ReportRectificationBody,
    "accept_rectification": OptionalReasonBody,
    "send_back": ReasonBody,
    "record_refusal": RefusalBody,
    "confirm_breach": ConfirmBreachBody,
    "submit_explanation": ExplanationReportBody,
    "reply": ReplyBody,
    "close": CloseBody,
    "redo": ReasonBody,
    "close_unsatisfied": ReasonBody,
    "record_contact_attempt": ContactAttemptBody,
    "close_unreachable": OptionalReasonBody,
    "withdraw": WithdrawBody,
    "await_complainant": ReasonBody,
    "resume": ActionBody,
    "reopen": ReasonBody,
    "assist_opinion": AssistOpinionBody,
    "request_extension": ExtensionRequestBody,
    "approve_extension": OptionalReasonBody,
    "refuse_extension": ReasonBody,
    "remind": ActionBody,
    "supervise": ActionBody,
    "escalate": ActionBody,
}


def body_fields(action: str) -> list[str]:
    model = ACTION_BODIES.get(action, ActionBody)
    return [name for name in model.model_fields if name not in ("expected_version", "note")]


class ComplaintFilter(BaseModel):
    """The list filters of GET /complaints."""

    state: CS | None = None
    department_code: str | None = None
    due_before: dt.date | None = None
    overdue: bool | None = None
    channel: str | None = None
    q: str | None = None
    after: int | None = None
    limit: int = 50


class TrackingStep(BaseModel):
    label: str
    date: dt.date


class TrackingResult(BaseModel):
    number: str
    state_label: str
    registered_on: dt.date
    stage_deadline: dt.date | None
    # The current stage's deadline waits for next year's holiday notice (shown as 待日历确定).
    deadline_pending: bool = False
    steps: list[TrackingStep]
    # The department handling the case (牵头/被投诉部门) and, once replied, the reply that stands.
    department_name: str | None = None
    reply_text: str | None = None
    # A case merged into an earlier one (并单): that case's number; its state, deadline, department and
    # reply are shown.
    merged_into: str | None = None
    # The case is handled again after its latest reply: ``redo`` (回访不满意，重办) or ``reopen`` (重启).
    # That reply no longer stands: it is ``previous_reply_text``, and ``reply_text`` is None until the
    # case is replied to again.
    handled_again: Literal["redo", "reopen"] | None = None
    previous_reply_text: str | None = None
    redo_count: int = 0
