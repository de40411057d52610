"""Every message a service can queue: who receives it, what it is for, the context keys it needs and a
sample to preview and to test with (tests render each sample with StrictUndefined, and a sample missing
one key must fail). Data, like the lifecycle tables; ``notifications.render`` renders them."""

from __future__ import annotations

from typing import Any

from notifications.catalogue_staff import COMPLAINT_AND_STAFF, spec
from notifications.render import TemplateSpec

TEMPLATES: dict[str, TemplateSpec] = {
    template.name: template
    for template in [
        *COMPLAINT_AND_STAFF,
        # What 12345 forwards on an order it handed over, to whoever the case awaits
        # (models/hotline_followups.py): ``kind`` supplement (补充材料) or chase (催单); ``merged_from`` the
        # order's own complaint when it was merged (并单) into this case, else None; ``paused`` the case
        # awaits the complainant's supplement; ``received_at`` the platform's time of the call (ISO).
        spec(
            "hotline_follow_up",
            "department",
            "12345 转来补充材料或催单，通知案件当前的办理方",
            {
                "case_number": "TS20260302-0001",
                "department_name": "市住房和城乡建设局",
                "kind": "chase",
                "order_id": "GD2026031600012",
                "merged_from": None,
                "stage_label": "已签收（核实中）",
                "paused": False,
                "content": "来电人催问办理进度，称尾款至今未付。",
                "attachments": ["付款申请回执.pdf"],
                "received_at": "2026-03-18T10:05:00+08:00",
            },
        ),
        # Pledgor.
        spec(
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
        spec(
            "pledge_access_code",
            "pledgor",
            "重新发放办理码告知（原办理码作废）",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "authority_name": "市行政审批和政务服务局",
                "access_code": "K7QM-2XRT-9PWD",
            },
        ),
        # Optional ``deadline_today``: a deadline on a holiday can have 0 working days left yet be days
        # away, so the reminder says "today" only when this is true (rows queued without it: when 0 left).
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        # The finding as a register record, with its number and how to object or ask for repair.
        spec(
            "pledge_false_recorded",
            "pledgor",
            "虚假承诺已记为严重失信记录并公示告知，附异议与信用修复途径",
            {
                "pledge_number": "CN20260302-0001",
                "pledgor_name": "某某建设工程有限公司",
                "matter": "建筑工程施工许可证核发",
                "record_number": "SX20260506-0001",
                "decision_date": "2026-05-06",
                "publication_end": "2029-05-06",
                "repair_earliest": "2027-05-06",
            },
        ),
        spec(
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
        spec(
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
        spec(
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
        spec(
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
        spec(
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
    # By when a pledgor whose evidence was returned hands in new evidence: its publication day, or a phrase
    # while the calendar does not cover it.
    "pledge_evidence_rejected": {"resubmit_by": "于2026-05-18前"},
}


def sms_sample(name: str) -> dict[str, Any]:
    """The sample an SMS text of ``name`` is rendered from in tests and previews."""
    return {**TEMPLATES[name].sample, **SMS_ONLY_KEYS.get(name, {})}
