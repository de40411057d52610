"""The messages of the complaint lifecycle and of staff work (deadlines, supervision, the digest): to the
complainant, the departments and the supervisors. Part of ``notifications.catalogue``, which lists every
message; data, like the lifecycle tables."""

from __future__ import annotations

from typing import Any

from notifications.render import TemplateSpec


def spec(name: str, audience: str, description: str, sample: dict[str, Any]) -> TemplateSpec:
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

COMPLAINT_AND_STAFF: list[TemplateSpec] = [
    # Complainant.
    spec(
        "complaint_received",
        "complainant",
        "投诉已登记，告知编号与查询方式",
        {
            "case_number": "TS20260302-0001",
            "complainant_name": "某某科技有限公司",
            "channel_label": "12345热线",
            "received_on": "2026-03-02",
        },
    ),
    spec(
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
    # Optional ``target_number``: set on the mail of a complainant merged into the replied case, who gets no
    # return visit of their own and is told to raise dissatisfaction through 12345 instead.
    spec(
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
    spec(
        "complaint_merged",
        "complainant",
        "并单告知：并入较早登记的同一事项投诉，结果一并答复",
        {
            "case_number": "TS20260302-0003",
            "complainant_name": "某某建材有限公司",
            "target_number": "TS20260302-0001",
        },
    ),
    spec(
        "complaint_return_visit",
        "complainant",
        "已答复，告知将电话回访评价满意度，不满意可在回访时提出",
        {"case_number": "TS20260302-0001", "complainant_name": "某某科技有限公司"},
    ),
    # ``target_number`` None: to the case's own complainant; set (the case joined) to a complainant merged
    # into it (并单), who was not part of the return visit.
    spec(
        "complaint_redone",
        "complainant",
        "回访不满意，告知案件已退回重新办理、第几次重办和核实期限（None：待日历确定）",
        {
            "case_number": "TS20260302-0001",
            "complainant_name": "某某科技有限公司",
            "redo_count": 1,
            "deadline": "2026-04-21",
            "target_number": None,
        },
    ),
    spec(
        "complaint_closed",
        "complainant",
        "并单投诉人：所并入的投诉经回访办结告知",
        {
            "case_number": "TS20260302-0003",
            "complainant_name": "某某建材有限公司",
            "target_number": "TS20260302-0001",
        },
    ),
    # ``contact_stage``: what the failed contact attempts were for, ``return_visit`` or ``supplement``
    # (the case awaited the complainant's supplement, never replied); ``redo_count``: the case's real
    # number of redos; ``target_number`` as for ``complaint_redone``.
    spec(
        # Optional ``contact_stage`` (return_visit, supplement), ``redo_count`` and ``target_number`` (for a
        # complainant merged into the case): rows queued before them render as a return visit's.
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
    # ``target_number`` None: the complaint was handled on its own; set: it had been merged into that case
    # (并单), which goes on for its own complainant.
    spec(
        "complaint_withdrawn",
        "complainant",
        "投诉人撤回投诉，告知已撤回办结、撤回理由及如非本人意愿的反映途径",
        {
            "case_number": "TS20260302-0001",
            "complainant_name": "某某科技有限公司",
            "reason": "所欠工程款已于2026年3月10日全额支付，申请撤回投诉。",
            "target_number": None,
        },
    ),
    # ``ended_label``: the ending reopened (不予受理, 已办结, 不满意办结, 无法联系办结, 撤回办结);
    # ``to_review``: back to 初审 (withdrawn before its first review or while merged), else dispatched again.
    spec(
        "complaint_reopened",
        "complainant",
        "案件重启，告知此前的办理结果、重启理由及下一步（重新初审或重新派单）",
        {
            "case_number": "TS20260302-0001",
            "complainant_name": "某某科技有限公司",
            "reason": "投诉人致电12345反映撤回并非本人意愿，申请继续办理。",
            "ended_label": "撤回办结",
            "to_review": False,
        },
    ),
    # ``reason``: what the staff member who paused the case asked for, written for the complainant.
    spec(
        "complaint_awaiting_supplement",
        "complainant",
        "投诉暂停计时等待投诉人补充，告知需补充的内容、提交途径及暂停计时",
        {
            "case_number": "TS20260302-0001",
            "complainant_name": "某某科技有限公司",
            "reason": "请补充招商引资协议复印件及奖励承诺文件。",
        },
    ),
    # Department.
    # Optional ``lead_department_name``: set on an assisting (协办) department's mail, naming the lead it
    # assists; that mail leaves out signing for, returning and extending, which only the lead may do.
    spec(
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
    spec(
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
    # ``role``: ``lead`` or ``verifier`` (the lead's 主管部门), or ``lead_verifier`` for a lead without one;
    # ``deadline`` None: the new 核实 deadline waits for the calendar (待日历确定).
    spec(
        "complaint_redo",
        "department",
        "回访不满意重办：告知主办单位和认定部门重新核实，附不满意理由、此前答复和新的核实期限",
        {
            "case_number": "TS20260302-0001",
            "department_name": "市发展和改革委员会",
            "role": "verifier",
            "lead_department_name": "市住房和城乡建设局",
            "summary": "投诉人反映某工程项目竣工验收后工程款逾期未支付。",
            "redo_count": 1,
            "reason": "投诉人称答复所述付款时间与实际到账时间不符。",
            "previous_reply": "经核实，所涉账款已于2026年3月20日全额支付。",
            "deadline": "2026-04-21",
            "working_days": 15,
        },
    ),
    # ``role_label``: 主办 or 协办 (dispatched to it), 核实 (the lead's 主管部门, asked to verify it).
    spec(
        "complaint_withdrawn_department",
        "department",
        "投诉人撤回投诉后通知持有案件的部门（主办、协办、核实）停止办理",
        {
            "case_number": "TS20260302-0001",
            "department_name": "市住房和城乡建设局",
            "role_label": "主办",
            "summary": "投诉人反映某工程项目竣工验收后工程款逾期未支付。",
            "reason": "所欠工程款已于2026年3月10日全额支付，申请撤回投诉。",
        },
    ),
    spec(
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
    # Optional ``note``: the supervisor's own words on a 催办/督办/提级办理 pressed by hand (the flow's steps
    # have none; rows queued before it was sent lack it), on this notice and on the superior's below.
    spec(
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
    spec(
        "escalation_superior_notice",
        "department",
        "提级办理：告知超期部门的主管部门，督促其办理",
        {
            "case_number": "TS20260302-0001",
            "department_name": "市发展和改革委员会",
            "late_department_name": "市住房和城乡建设局",
            "stage_label": "整改",
            "deadline": "2026-03-23",
            "overdue_working_days": 5,
        },
    ),
    spec(
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
    # ``deadline`` None: the rectification deadline waits for the calendar (待日历确定).
    spec(
        "rectification_ordered",
        "department",
        "核实属实后责令主办单位限期整改，附整改要求和整改期限",
        {
            "case_number": "TS20260302-0001",
            "department_name": "市住房和城乡建设局",
            "summary": "投诉人反映某工程项目竣工验收后工程款逾期未支付。",
            "requirements": "按合同约定支付剩余工程款，并报送付款凭证。",
            "deadline": "2026-04-07",
            "working_days": 15,
        },
    ),
    spec(
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
    # The lead, told each opinion an assisting department gives (models/complaints/assisting.py).
    spec(
        "complaint_assist_opinion",
        "department",
        "协办单位报送协办意见后转告主办单位",
        {
            "case_number": "TS20260302-0001",
            "department_name": "市住房和城乡建设局",
            "summary": "投诉人反映某工程项目竣工验收后工程款逾期未支付。",
            "assisting_department_name": "市财政局",
            "opinion": "该项目资金已于2025年12月拨付至主办单位专户，请主办单位核实支付进度。",
        },
    ),
    spec(
        "complaint_reply_due",
        "department",
        "核实不属实后告知主办单位限期答复投诉人，附核实说明和答复期限",
        {
            "case_number": "TS20260302-0001",
            "department_name": "市住房和城乡建设局",
            "summary": "投诉人反映某工程项目竣工验收后工程款逾期未支付。",
            "finding": "核实不属实",
            "explanation": "合同约定的付款条件尚未成就。",
            "deadline": "2026-03-20",
            "working_days": 5,
        },
    ),
    spec(
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
    spec(
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
    spec(
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
    spec(
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
    # The successor of a retired department (机构改革, models/department_retire.py): what it inherited.
    # The number lists hold at most 50 each; the counts are the whole.
    spec(
        "department_succession",
        "department",
        "部门撤并（机构改革）后告知承接部门：承接的未办结投诉、仍可办理的告知承诺、公示中的失信记录和下属部门",
        {
            "department_name": "市住房和城乡建设局",
            "predecessor_name": "市城市管理局",
            "reason": "根据《市级机构改革方案》，市城市管理局并入市住房和城乡建设局。",
            "retired_on": "2026-03-02",
            "complaint_count": 2,
            "complaint_numbers": ["TS20260302-0001", "TS20260302-0004"],
            "pledge_count": 1,
            "pledge_numbers": ["CN20260302-0001"],
            "record_count": 1,
            "record_numbers": ["SX20260228-0001"],
            "departments": ["市市政设施管理中心"],
        },
    ),
    # Supervisors.
    spec(
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
    spec(
        "daily_digest",
        "supervisor",
        "每日超期与临期汇总",
        {"digest_date": "2026-03-02", "rows": _ROWS},
    ),
]
