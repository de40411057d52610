"""Rendering of outbox messages: one Jinja2 environment, three files per message (subject, text, HTML).

Every message a service can queue is listed in ``TEMPLATES`` with the context keys it needs and a sample
context, so tests and the admin preview can render each one without guessing. Context values are plain
JSON (strings, numbers, ISO dates) because they sit in the outbox row; the filters here turn them into
the forms an official notice uses (2026年3月2日).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, select_autoescape

from models import privacy
from models.settings import get_settings

TEMPLATE_DIR = Path(__file__).parent / "templates"

PLATFORM_NAME = "守信平台"
# Marks of a name nobody filled in ("XX市…办公室", "××局", "某某单位"): never printed as a 落款.
_PLACEHOLDER_MARKS = ("XX", "xx", "××", "某某")

# Labels for the coded values services put in the context; unknown codes fail loudly under
# StrictUndefined rather than printing an empty word into an official notice.
STEP_LABELS = {"remind": "催办", "supervise": "督办", "escalate": "提级办理"}
LEVEL_LABELS = {"yellow": "黄牌预警", "red": "红牌预警"}
OUTCOME_LABELS = {"withdrawn": "撤销", "corrected": "更正", "rejected": "驳回"}


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class TemplateSpec:
    """One message kind: who receives it, what it is for, the keys it needs and a sample to preview."""

    name: str
    audience: str  # complainant, department, supervisor, pledgor
    description: str
    required: tuple[str, ...]
    sample: dict[str, Any] = field(default_factory=dict)


def _require(value: Any) -> None:
    """Filters receive a missing key as an Undefined object instead of failing first; fail here."""
    if isinstance(value, Undefined):
        str(value)  # a StrictUndefined raises UndefinedError naming the missing key
        raise TypeError("missing value")


def _as_date(value: Any) -> dt.date:
    """A date from a date, an aware datetime (taken in the local zone) or an ISO string."""
    _require(value)
    if isinstance(value, str):
        has_time = "T" in value or " " in value
        value = dt.datetime.fromisoformat(value) if has_time else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.date()
        return value.astimezone(ZoneInfo(get_settings().timezone)).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"not a date: {value!r}")


def cn_date(value: Any) -> str:
    """``2026-03-02`` → ``2026年3月2日``."""
    day = _as_date(value)
    return f"{day.year}年{day.month}月{day.day}日"


def cn_datetime(value: Any) -> str:
    """An aware datetime (or ISO string) → ``2026年3月2日 14:05`` in the configured zone."""
    _require(value)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a datetime: {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(get_settings().timezone))
    return f"{cn_date(value.date())} {value:%H:%M}"


def mask_phone(value: Any) -> str:
    """The ``mask_phone`` filter: the same rule as public answers and exports (models/privacy.py)."""
    _require(value)
    return privacy.mask_phone(str(value)) or ""


def _make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        # Only the HTML part is escaped: the subject goes into a header and the text part is plain text.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, mask_phone=mask_phone)
    env.globals.update(
        platform_name=PLATFORM_NAME,
        step_labels=STEP_LABELS,
        level_labels=LEVEL_LABELS,
        outcome_labels=OUTCOME_LABELS,
    )
    return env


ENV = _make_environment()


def is_placeholder_name(name: str) -> bool:
    return not name.strip() or any(mark in name for mark in _PLACEHOLDER_MARKS)


def sender_organisation() -> str:
    """The 落款 of every message: SHOUXIN_SENDER_ORGANISATION, else SHOUXIN_ISSUER_NAME, else the platform.

    A placeholder such as the shipped "XX市社会信用体系建设领导小组办公室" is skipped: a notice signed by
    "XX市" tells the reader nothing, the platform's own name at least says who sent it.
    """
    settings = get_settings()
    for name in (settings.sender_organisation, settings.issuer_name):
        if not is_placeholder_name(name):
            return name.strip()
    return PLATFORM_NAME


def render(template: str, context: dict[str, Any]) -> RenderedMessage:
    """Render the three parts of ``template``; a missing context key raises ``jinja2.UndefinedError``."""
    # A context may name its own issuer (one office signing for the deployment), never a placeholder.
    own = context.get("issuer_name")
    issuer = own if isinstance(own, str) and not is_placeholder_name(own) else sender_organisation()
    values = {**context, "issuer_name": issuer}
    subject = ENV.get_template(f"{template}.subject.j2").render(values)
    return RenderedMessage(
        # A newline in a header would let a context value inject headers; one line, trimmed.
        subject=" ".join(subject.split()),
        text=ENV.get_template(f"{template}.txt.j2").render(values),
        html=ENV.get_template(f"{template}.html.j2").render(values),
    )


def _spec(name: str, audience: str, description: str, sample: dict[str, Any]) -> TemplateSpec:
    # The sample holds exactly the required keys, so the two cannot drift apart.
    return TemplateSpec(name, audience, description, tuple(sample), sample)


_CASE_URL = "http://127.0.0.1:8000/staff/complaints/"
_ROWS = [
    {
        "department_name": "市住房和城乡建设局",
        "overdue": 1,
        "due_soon": 1,
        "cases": [
            {"number": "TS-2026-000001", "url": _CASE_URL + "1", "deadline": "2026-02-27", "overdue": True},
            {"number": "TS-2026-000004", "url": _CASE_URL + "4", "deadline": "2026-03-03", "overdue": False},
        ],
    },
    {
        "department_name": "市工业和信息化局",
        "overdue": 0,
        "due_soon": 1,
        "cases": [
            {"number": "TS-2026-000002", "url": _CASE_URL + "2", "deadline": "2026-03-04", "overdue": False}
        ],
    },
]

TEMPLATES: dict[str, TemplateSpec] = {
    spec.name: spec
    for spec in [
        # Complainant.
        _spec(
            "complaint_received",
            "complainant",
            "投诉已登记，告知编号与查询方式",
            {
                "case_number": "TS20260302-0001",
                "complainant_name": "某某科技有限公司",
                "channel_label": "12345热线",
                "tracking_url": "https://xinyong.example.gov.cn/track/TS20260302-0001",
                "received_on": "2026-03-02",
            },
        ),
        _spec(
            "complaint_not_accepted",
            "complainant",
            "不予受理告知，附理由与正确渠道",
            {
                "case_number": "TS20260302-0002",
                "complainant_name": "张某某",
                "reason": "该事项已进入诉讼程序，不属于政府违约失信投诉受理范围。",
                "route": "请通过人民法院依法主张权利。",
            },
        ),
        _spec(
            "complaint_replied",
            "complainant",
            "办结答复",
            {
                "case_number": "TS20260302-0001",
                "complainant_name": "某某科技有限公司",
                "reply_text": "经核实，所涉账款已于2026年3月20日全额支付。\n感谢您对政务诚信建设的支持。",
                "department_name": "市住房和城乡建设局",
            },
        ),
        _spec(
            "complaint_return_visit",
            "complainant",
            "回访：请评价办理结果",
            {"case_number": "TS20260302-0001", "complainant_name": "某某科技有限公司"},
        ),
        _spec(
            "complaint_closed_unresolved",
            "complainant",
            "不满意办结、无法联系办结告知",
            {
                "case_number": "TS20260302-0001",
                "complainant_name": "某某科技有限公司",
                "outcome": "unreachable",
                "reason": "回访期间投诉人电话均无人接听。",
                "contact_days": ["2026-04-01", "2026-04-02", "2026-04-03"],
            },
        ),
        # Department.
        _spec(
            "complaint_dispatched",
            "department",
            "派单通知（主办/协办）",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "summary": "投诉人反映某工程项目竣工验收后工程款逾期未支付。",
                "category_label": "拖欠中小企业账款",
                "stage_label": "签收",
                "deadline": "2026-03-04",
                "working_days": 2,
                "role_label": "主办",
            },
        ),
        _spec(
            "complaint_verify_request",
            "department",
            "主办单位签收后通知主管部门（认定部门）核实",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市发展和改革委员会",
                "lead_department_name": "市住房和城乡建设局",
                "summary": "投诉人反映某工程项目竣工验收后工程款逾期未支付。",
                "deadline": "2026-03-25",
                "working_days": 15,
            },
        ),
        _spec(
            "deadline_warning",
            "department",
            "办理期限黄牌/红牌预警",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "stage_label": "核实办理",
                "deadline": "2026-03-23",
                "level": "yellow",
                "working_days_left": 1,
            },
        ),
        _spec(
            "supervision_notice",
            "department",
            "催办/督办/提级办理通知",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "step": "supervise",
                "stage_label": "核实办理",
                "deadline": "2026-03-23",
                "overdue_working_days": 3,
            },
        ),
        _spec(
            "extension_decision",
            "department",
            "延期申请审核结果",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "approved": True,
                "days": 10,
                "new_deadline": "2026-04-07",
                "reason": "涉及多方核对账目，确需延长办理时限。",
            },
        ),
        _spec(
            "rectification_review",
            "department",
            "整改情况审核结果",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "accepted": False,
                "reason": "未提供付款凭证，请补充后重新提交。",
            },
        ),
        _spec(
            "breach_explanation_order",
            "department",
            "确认违约失信（拒不整改）后责令书面说明原因并限期整改",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "reason": "整改期限届满，仍未支付所欠工程款。",
                "severity_label": "一般",
                "deadline": "2026-04-14",
                "working_days": 10,
            },
        ),
        _spec(
            "breach_stage_notice",
            "department",
            "异议答复、信用修复决定期限的黄牌/红牌预警与催办",
            {
                "record_number": "SX20260513-0001",
                "department_name": "市住房和城乡建设局",
                "subject_name": "某某建设工程有限公司",
                "stage_label": "异议答复",
                "deadline": "2026-05-20",
                "step": "red",
                "working_days_left": -1,
            },
        ),
        _spec(
            "pledge_review_notice",
            "department",
            "告知承诺履约材料核查期限的黄牌/红牌预警、催办、督办与提级办理",
            {
                "pledge_number": "CN20260302-0001",
                "department_name": "市住房和城乡建设局",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "step_label": "催办",
                "deadline": "2026-05-08",
                "working_days_left": -1,
            },
        ),
        # Supervisors.
        _spec(
            "escalation_alert",
            "supervisor",
            "案件进入督办/提级办理的提示",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "step": "escalate",
                "stage_label": "核实办理",
                "overdue_working_days": 5,
            },
        ),
        _spec(
            "daily_digest",
            "supervisor",
            "每日超期与临期汇总",
            {"digest_date": "2026-03-02", "rows": _ROWS},
        ),
        # Pledgor.
        _spec(
            "pledge_registered",
            "pledgor",
            "信用承诺登记告知，列明义务、期限与逾期公示规则",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "obligation": "施工图审查合格书",
                "deadline": "2026-04-30",
                "publication_day": "2026-05-13",
                "authority_name": "市行政审批和政务服务局",
            },
        ),
        _spec(
            "pledge_access_code",
            "pledgor",
            "重新发放办理码告知（原办理码作废）",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "authority_name": "市行政审批和政务服务局",
                "access_code": "K7QM-2XRT-9PWD",
                "register_url": "http://127.0.0.1:8000/register",
            },
        ),
        _spec(
            "pledge_reminder",
            "pledgor",
            "承诺期限临近提醒",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "obligation": "施工图审查合格书",
                "deadline": "2026-04-30",
                "working_days_left": 3,
            },
        ),
        _spec(
            "pledge_overdue",
            "pledgor",
            "承诺已逾期告知",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "obligation": "施工图审查合格书",
                "deadline": "2026-04-30",
                "publication_day": "2026-05-13",
            },
        ),
        _spec(
            "pledge_evidence_rejected",
            "pledgor",
            "履约材料未通过核查告知，附理由与（顺延后的）公示日",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "obligation": "施工图审查合格书",
                "deadline": "2026-04-30",
                "reason": "合格书未加盖审查机构印章。",
                "publication_day": "2026-05-18",
                "rescheduled": True,
            },
        ),
        _spec(
            "pledge_evidence_received",
            "pledgor",
            "履约材料收到告知，附核查部门、核查期限及核查期间是否暂缓公示",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "filename": "施工图审查合格书.pdf",
                "submitted_on": "2026-04-28",
                "deadline": "2026-04-30",
                "authority_name": "市住房和城乡建设局",
                "review_due": "2026-05-08",
                "working_days": 5,
                "held": True,
            },
        ),
        _spec(
            "pledge_evidence_accepted",
            "pledgor",
            "履约材料核查通过告知（承诺已履行，不予公示）",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "obligation": "施工图审查合格书",
                "authority_name": "市住房和城乡建设局",
                "decided_on": "2026-05-06",
            },
        ),
        _spec(
            "pledge_prepublication",
            "pledgor",
            "逾期未履约即将公示的提醒",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "deadline": "2026-04-30",
                "publication_day": "2026-05-13",
                "working_days_left": 2,
            },
        ),
        _spec(
            "pledge_published",
            "pledgor",
            "未履行承诺已公示告知，附异议与信用修复途径",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "record_number": "SX20260513-0001",
                "decision_date": "2026-05-13",
                "publication_end": "2027-05-12",
            },
        ),
        _spec(
            "objection_received",
            "pledgor",
            "异议已收到，告知答复部门和答复期限",
            {
                "record_number": "SX20260513-0001",
                "subject_name": "某某建设工程有限公司",
                "department_name": "市住房和城乡建设局",
                "reply_due": "2026-05-20",
                "working_days": 5,
            },
        ),
        _spec(
            "breach_request_received",
            "department",
            "失信主体提出异议或信用修复申请后通知认定部门处理，附理由、处理期限和办理页面",
            {
                "record_number": "SX20260513-0001",
                "department_name": "市住房和城乡建设局",
                "subject_name": "某某建设工程有限公司",
                "kind": "objection",
                "reason": "已于期限内提交合格书，公示有误。",
                "detail": "附邮寄回执。",
                "decision_due": "2026-05-20",
                "working_days": 5,
                "url": "http://127.0.0.1:8000/staff/breaches/1",
            },
        ),
        _spec(
            "objection_decision",
            "pledgor",
            "异议处理结果",
            {
                "record_number": "SX20260513-0001",
                "subject_name": "某某建设工程有限公司",
                "outcome": "rejected",
                "reason": "经复核，公示信息与认定文书一致。",
            },
        ),
        _spec(
            "repair_decision",
            "pledgor",
            "信用修复申请结果",
            {
                "record_number": "SX20260513-0001",
                "subject_name": "某某建设工程有限公司",
                "approved": True,
                "reason": "已完成整改并作出信用承诺，符合修复条件。",
            },
        ),
    ]
}
