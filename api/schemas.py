"""What the complaint, pledge, evidence and breach-record routes answer: declared models, so FastAPI checks
every answer against them and the OpenAPI document names every field.

The services shape these answers as dicts (``pledge_view``, ``public_fields``, ``credit_profile``); the models
list exactly the keys those dicts carry (tests/test_api_answers.py compares them), since FastAPI would drop a
key a model does not declare. Output types are plain (``str``, not the input types that refuse
control characters): a stored value that predates an input rule must still be shown, not answered with 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from models.audit import CaseEventPublic
from models.breach import Severity
from models.complaint import Complaint, ComplaintPublic
from models.complaints.visibility import assisting_departments
from models.government_credit_record import GovernmentCreditRecordPublic
from models.lifecycle import BreachState, PledgeState
from models.pledge import IdType, PledgeType, PledgorKind


# A department assisting a complaint (协办部门), as the answer names it.
class AssistingDepartment(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    active: bool = Field(description="false：该部门已撤并（机构改革），已办结的案件仍记其协办")


# A complaint as staff and other systems (12345, a department's client) read it: the stored fields and
# who assists the lead, which the complaint row itself does not hold.
class ComplaintView(ComplaintPublic):
    assisting_departments: list[AssistingDepartment] = Field(
        description="协办部门（派单时指定；主办部门见 lead_department_id）"
    )


def complaint_views(session: Session, complaints: Sequence[Complaint]) -> list[ComplaintView]:
    """Complaints as the API answers them, with one query for the assisting departments of all of them
    (a list page is not a query per complaint)."""
    assisting = assisting_departments(session=session, complaint_ids=[c.id for c in complaints if c.id])
    return [
        ComplaintView(
            **ComplaintPublic.model_validate(complaint, from_attributes=True).model_dump(),
            assisting_departments=[
                AssistingDepartment.model_validate(d, from_attributes=True)
                for d in assisting[complaint.id or 0]
            ],
        )
        for complaint in complaints
    ]


def complaint_view(session: Session, complaint: Complaint) -> ComplaintView:
    return complaint_views(session, [complaint])[0]


# A pledge as staff see it: the stored fields, its state's label, its authority, and whether its
# publication day could be computed yet.
class PledgeView(BaseModel):
    id: int
    number: str
    pledgor_kind: PledgorKind
    pledgor_name: str
    pledgor_credit_code: str | None
    pledgor_email: str | None
    pledgor_phone: str | None = Field(
        description="联系电话：手机号码存为 11 位数字（可收短信）；固定电话按原样保存（不发短信）"
    )
    matter: str
    obligation: str
    deadline: dt.date
    legal_basis: str
    state: PledgeState
    state_label: str
    version: int
    authority_id: int
    authority_code: str | None
    authority_name: str | None
    publication_day: dt.date | None
    publication_day_status: Literal["computed", "pending_calendar", "not_applicable"]
    publication_day_message: str | None = Field(description="公示日暂无法计算时，说明缺少哪一年的日历")
    calendar_version: str | None
    stage_seq: int
    stage_deadline: dt.date | None
    evidence_submitted_on: dt.date | None = Field(description="材料提交日（按期提交的材料审核期间暂缓公示）")
    publication_counted_from: dt.date | None = Field(
        description="材料在公示日后被退回时，公示日自此日重新起算；为空则自承诺期限起算"
    )
    registered_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    # The credit platform's optional fields (承诺类型, 法定代表人) and a review deadline pending the calendar
    # (待日历确定): the service shapes them, so the answer declares them rather than dropping them.
    pledge_type: PledgeType | None
    legal_representative: str | None
    legal_representative_id_type: IdType | None
    legal_representative_id_number: str | None
    deadline_pending: bool = Field(description="审核期限落在尚未载入节假日安排的年份（待日历确定）")
    deadline_counted_from: dt.date | None
    deadline_working_days: int | None
    registered_on: dt.date | None = Field(description="登记日（补登记的承诺自登记日起计足公示前的工作日）")


# A pledge with the access code just issued, shown this once.
class PledgeWithCode(PledgeView):
    access_code: str = Field(description="承诺人的办理码，仅显示这一次，请告知承诺人")


# One page of the pledge list; pass ``next_cursor`` as ``after`` for the next page (null: no more).
class PledgePage(BaseModel):
    items: list[PledgeView]
    next_cursor: int | None


# One entry of a pledge's audit trail, with the event's label.
class PledgeEventView(CaseEventPublic):
    case_number: str
    actor_id: int | None


# One action the caller may take on a pledge now.
class PledgeActionInfo(BaseModel):
    event: str
    label: str


# A stored evidence file's description (its content is downloaded separately).
class EvidenceView(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    pledge_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime


# Staff's upload: the files stored (``evidence`` the first, as a one-file client reads it), and the
# pledge as it now stands.
class EvidenceUploaded(BaseModel):
    evidence: EvidenceView = Field(description="本次提交的第一个文件")
    files: list[EvidenceView] = Field(description="本次提交的全部文件（按上传顺序）")
    pledge: PledgeView


# A file handed in with a rectification report, an objection or a repair request (staff only).
class CaseFileView(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: Literal["rectification", "objection", "repair"] = Field(
        description="rectification 整改材料；objection 异议证明材料；repair 信用修复材料"
    )
    event_seq: int = Field(description="随之提交的办理事件序号")
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime


# One file of the pledgor's own upload, as the pledgor may see it.
class ReceivedFile(BaseModel):
    id: int
    filename: str
    size: int
    uploaded_at: dt.datetime


# The pledgor's own upload: the first file's fields (as a one-file client reads them) and every file.
class EvidenceReceived(ReceivedFile):
    files: list[ReceivedFile] = Field(description="本次提交的全部文件（按上传顺序）")


# A breach record in the 双公示 field style (individuals' names masked for the public, no contact data).
class BreachRecord(BaseModel):
    record_number: str
    XDR_MC: str = Field(description="失信主体名称（个人姓名对公众脱敏）")
    XDR_LB: str = Field(description="主体类别")
    XDR_SHXYM: str | None = Field(description="统一社会信用代码")
    matter: str
    facts: str
    basis: str
    JDRQ: dt.date = Field(description="决定日期")
    GSJZQ: dt.date = Field(description="公示截止日期")
    department_code: str
    department_name: str = Field(description="认定部门")
    severity: Severity
    severity_label: str
    state: BreachState
    state_label: str
    source_kind: Literal["pledge", "complaint"] = Field(
        description="记录来源：pledge 告知承诺（失信主体凭办理码在线提出异议、信用修复）；"
        "complaint 政府违约失信投诉（被认定部门向信用办书面提出）"
    )


# A record as its decider sees it (a pledge's: its department; one from a complaint: the supervisors): with
# the version, the decision's deadline, the subject's latest objection or repair request (what is being
# decided) and the pledge's evidence files.
class StaffBreach(BreachRecord):
    id: int
    version: int
    stage_deadline: dt.date | None = Field(description="决定期限（异议答复或修复决定）")
    deadline_pending: bool = Field(description="期限落在尚未载入节假日安排的年份（待日历确定）")
    pledge_id: int | None = Field(description="产生该记录的承诺（其履约材料见 evidence_files）")
    request_kind: Literal["objection", "repair"] | None = Field(description="最近一次异议或信用修复申请")
    requested_at: dt.datetime | None
    request_reason: str | None = Field(description="异议理由，或纠正失信行为的说明")
    request_evidence: str | None = Field(description="异议人提交的证明材料说明")
    request_document_reference: str | None = Field(description="被认定部门书面异议的文号（信用办登记时填写）")
    repair_pledge: str | None = Field(description="信用修复承诺")
    request_phone: str | None = Field(description="异议人或申请人留下的手机号码（短信通知用）")
    evidence_files: list[EvidenceView] = Field(description="承诺人提交的履约材料文件（下载见承诺材料接口）")
    request_files: list[CaseFileView] = Field(
        description="随最近一次异议或信用修复申请提交的文件（下载：GET /breaches/{id}/files/{file_id}）"
    )


# A record after a department's decision.
class DecidedBreach(BreachRecord):
    id: int
    version: int


# A record with its objection registered, and the day the department must reply by.
class ObjectionReceived(BreachRecord):
    reply_due: dt.date | None


# A record with its repair request registered, and the day the department must decide by.
class RepairReceived(BreachRecord):
    decision_due: dt.date | None


# One page of the public register; pass ``next_cursor`` as ``after`` for the next page (null: no more).
class RegisterPage(BaseModel):
    items: list[BreachRecord]
    next_cursor: str | None


# A pledge outcome shown on a credit profile (fulfilled, or published as a breach).
class ProfilePledge(BaseModel):
    number: str
    matter: str
    deadline: dt.date
    state: PledgeState
    state_label: str


# The public pledge outcomes of one subject: how many, how many per state, and the list.
class ProfilePledges(BaseModel):
    total: int
    by_state: dict[str, int]
    items: list[ProfilePledge]


# A subject's credit profile: its records now shown, and its public pledge outcomes.
class CreditProfile(BaseModel):
    credit_code: str
    records: list[BreachRecord]
    pledges: ProfilePledges


# A department's government credit record (政务信用记录) and its count (the scorecard figure).
class DepartmentCreditRecord(BaseModel):
    department_code: str
    department_name: str
    confirmed_breaches: int
    records: list[GovernmentCreditRecordPublic]


# One confirmed government breach as the public sees it.
class GovernmentBreach(BaseModel):
    department_name: str = Field(description="被认定的部门（失信主体）")
    matter: str = Field(description="事实摘要（公开文本，已遮蔽个人信息）")
    category_label: str
    decision_date: dt.date
    severity_label: str
    record_number: str = Field(description="公示记录编号")
    credit_code: str | None = Field(description="被认定部门的统一社会信用代码（如有）")
    facts: str
    basis: str
    publication_end: dt.date = Field(description="公示截止日期")
    deciding_department_name: str = Field(description="认定部门")
    state: str
    state_label: str


# The public list of confirmed government breaches.
class GovernmentBreaches(BaseModel):
    items: list[GovernmentBreach]
