"""Every message a service can queue: who receives it, what it is for, the context keys it needs and a
sample to preview and to test with (tests render each sample with StrictUndefined, and a sample missing
one key must fail). Data, like the lifecycle tables; ``notifications.render`` renders them."""

from __future__ import annotations

from typing import Any

from notifications.render import TemplateSpec


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
            "complaint_merged",
            "complainant",
            "并单告知：并入较早登记的同一事项投诉，结果一并答复",
            {
                "case_number": "TS20260302-0003",
                "complainant_name": "某某建材有限公司",
                "target_number": "TS20260302-0001",
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
        # Optional ``lead_department_name``: set on an assisting (协办) department's mail, naming the lead it
        # assists; that mail leaves out signing for, returning and extending, which only the lead may do.
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
        # The party a stage's deadline binds (the lead or verifying department, the pledgor, the deciding
        # department): a deadline 待日历确定 got its date, or a corrected notice moved it
        # (models/pending_deadlines.py). ``old_deadline`` None: it was pending.
        _spec(
            "deadline_set",
            "department",
            "节假日安排载入或更正后，告知办理期限已确定或已调整",
            {
                "recipient_name": "市住房和城乡建设局",
                "case_label": "投诉",
                "case_number": "TS20261231-0001",
                "stage_label": "签收",
                "deadline": "2027-01-06",
                "old_deadline": "2027-01-05",
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
        # Optional ``deadline_today``: a deadline on a holiday can have 0 working days left yet be days
        # away, so the reminder says "today" only when this is true (rows queued without it: when 0 left).
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
            "pledge_cancelled",
            "pledgor",
            "告知承诺撤销告知，附理由及需要补正的事项（不予公示）",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "obligation": "施工图审查合格书",
                "authority_name": "市住房和城乡建设局",
                "reason": "承诺人名称录入有误，请核对营业执照上的名称后重新申请。",
                "decided_on": "2026-03-02",
            },
        ),
        _spec(
            "pledge_found_false",
            "pledgor",
            "虚假承诺认定告知，附理由及后果（终止办理、责令整改、撤销决定、记录在案）",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "obligation": "施工图审查合格书",
                "authority_name": "市住房和城乡建设局",
                "reason": "提交的施工图审查合格书系伪造，审查机构无此编号。",
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
        # ``told_day`` None: the pledgor was told the day was pending; ``corrected``: a corrected notice
        # moved a known day (models/publication_days.py), else its year was loaded.
        _spec(
            "pledge_publication_day_set",
            "pledgor",
            "节假日安排载入或更正后，告知公示日已确定或已推后",
            {
                "pledge_number": "CN20270104-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "deadline": "2027-01-27",
                "publication_day": "2027-02-05",
                "told_day": "2027-02-04",
                "corrected": True,
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
            "repair_received",
            "pledgor",
            "信用修复申请已收到，告知决定部门和决定期限",
            {
                "record_number": "SX20260513-0001",
                "subject_name": "某某建设工程有限公司",
                "department_name": "市住房和城乡建设局",
                "decision_due": "2026-08-20",
                "working_days": 3,
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

# Keys an SMS text needs that its mail treats as optional or does without: the registration SMS always carries
# the access code (every path that queues the notice, registration and import, passes one), while the mail
# still renders rows queued before codes existed.
# The decisions on a subject's objection or repair state their outcome in the SMS as a phrase from a fixed
# set (``result``, models/register/decisions.py): a provider's approved text cannot branch, the mail does.
SMS_ONLY_KEYS: dict[str, dict[str, Any]] = {
    "pledge_registered": {"access_code": "K7QM-2XRT-9PWD"},
    "objection_decision": {"result": "异议不成立，维持原公示"},
    "repair_decision": {"result": "予以修复，记录已停止公示"},
}


def sms_sample(name: str) -> dict[str, Any]:
    """The sample an SMS text of ``name`` is rendered from in tests and previews."""
    return {**TEMPLATES[name].sample, **SMS_ONLY_KEYS.get(name, {})}
