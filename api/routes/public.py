"""Routes: the public register of breach records, credit profiles, objection and repair, and complaints
submitted online through the credit website column (no login)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from api.deps import CalendarDep, ClockDep, SessionDep, TodayDep, no_store
from api.schemas import BreachRecord, CreditProfile, ObjectionReceived, RegisterPage, RepairReceived
from models.clock import utcnow
from models.complaint import Channel, ComplaintCreate
from models.complaints import state_label, tracking_path
from models.complaints.registration import register_online
from models.complaints.tracking import PublicTracking, tracked
from models.complaints.withdrawal import OnlineWithdrawBody, withdraw_online
from models.lifecycle import ComplaintState
from models.pledges.self_service import OBJECTION_RULE, REPAIR_RULE, pledge_status
from models.register import (
    RegisterQuery,
    credit_profile,
    department_names,
    get_public_record,
    list_register,
    public_fields,
)
from models.register.requests import (
    EVIDENCE_MAX,
    REASON_MAX,
    REPAIR_PLEDGE_MAX,
    STATEMENT_MAX,
    request_repair,
    submit_objection,
)
from models.text import Line, Paragraph

router = APIRouter(prefix="/public", tags=["信用公示"])

# Every text from the path, the query or the body is a ``Line`` or ``Paragraph`` (models/text.py): a NUL
# or another control character is refused naming the parameter (422) before a query sees it — PostgreSQL
# refuses a NUL with a database error, and SQLite stored what the pages then showed.


ACCESS_CODE = Field(
    min_length=1,
    max_length=32,
    description="办理码（承诺登记时告知承诺人，形如 ABCD-EFGH-JKMN；不区分大小写，可省略连字符或空格）",
)
PHONE_DESCRIPTION = (
    "手机号码（选填，11 位，可带 +86）：受理和处理结果以短信告知该号码；不填的，按承诺登记时的联系方式告知。"
    "固定电话或格式不正确的返回 422"
)
PHONE = Field(default=None, max_length=32, description=PHONE_DESCRIPTION)


class ObjectionBody(BaseModel):
    """The subject's objection, proven by the access code (办理码) of the pledge the record came from."""

    access_code: str = ACCESS_CODE
    reason: Paragraph = Field(min_length=1, max_length=REASON_MAX)
    evidence: Paragraph | None = Field(default=None, max_length=EVIDENCE_MAX)
    phone: str | None = PHONE


class RepairBody(BaseModel):
    """A credit-repair request: how the breach was corrected, and the repair pledge; the access code
    proves the request comes from the pledgor."""

    access_code: str = ACCESS_CODE
    statement: Paragraph = Field(min_length=1, max_length=STATEMENT_MAX)
    repair_pledge: Paragraph = Field(min_length=1, max_length=REPAIR_PLEDGE_MAX)
    phone: str | None = PHONE


@router.get("/breaches", response_model=RegisterPage)
def register(
    session: SessionDep,
    today: TodayDep,
    name: Line | None = Query(
        None, description="失信主体名称（前缀匹配；全角半角、英文大小写和空格不区分；个人须输入全名）"
    ),
    credit_code: Line | None = None,
    department: Line | None = Query(None, description="认定部门代码"),
    subject_kind: Line | None = Query(
        None, description="主体类别：enterprise（企业）/ individual（个人）/ government（政府部门）"
    ),
    severity: Line | None = Query(None, description="失信程度：general（一般）/ serious（严重）"),
    date_from: dt.date | None = Query(None, description="决定日期（JDRQ）起"),
    date_to: dt.date | None = Query(None, description="决定日期（JDRQ）止"),
    after: Line | None = Query(None, description="上一页返回的 next_cursor"),
    limit: int = Query(20, ge=1, le=100),
) -> RegisterPage:
    """失信公示记录（公示中、异议处理中、修复申请中）；个人姓名脱敏。"""
    query = RegisterQuery(
        name=name,
        credit_code=credit_code,
        department=department,
        subject_kind=subject_kind,
        severity=severity,
        date_from=date_from,
        date_to=date_to,
        after=after,
        limit=limit,
    )
    items, cursor = list_register(session=session, query=query, today=today)
    return RegisterPage.model_validate({"items": items, "next_cursor": cursor})


@router.get("/breaches/{number}", response_model=BreachRecord)
def record(number: Line, session: SessionDep, today: TodayDep) -> BreachRecord:
    return BreachRecord.model_validate(get_public_record(session=session, number=number, today=today))


@router.get("/credit/{credit_code}", response_model=CreditProfile)
def credit(credit_code: Line, session: SessionDep, today: TodayDep) -> CreditProfile:
    """主体信用档案：正在公示的失信记录，已履约和已公示失信的告知承诺（履约期内、逾期待公示的不公开）。"""
    return CreditProfile.model_validate(credit_profile(session=session, credit_code=credit_code, today=today))


# The answer times are each locality's (SHOUXIN_DEADLINE_OVERRIDES, read per request by the services); the
# documentation is generated once, so it names the rule and its default, which is all it can truthfully say.
@router.post(
    "/breaches/{number}/objection",
    status_code=201,
    response_model=ObjectionReceived,
    description=(
        "提出异议（须填写办理码）；记录显示“异议处理中”，认定部门按规定的工作日数"
        f"（默认 {OBJECTION_RULE.days} 个工作日）答复，答复期限见 `reply_due`。"
        "办理码错误返回 403，错误次数过多返回 429。"
    ),
)
def objection(
    number: Line,
    body: ObjectionBody,
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
) -> ObjectionReceived:
    rec = submit_objection(
        session=session,
        number=number,
        access_code=body.access_code,
        reason=body.reason,
        evidence=body.evidence,
        today=today,
        calendar=calendar,
        address=request.client.host if request.client else None,
        phone=body.phone,
    )
    session.commit()
    return ObjectionReceived.model_validate(
        {**public_fields(rec, department_names(session)), "reply_due": rec.stage_deadline}
    )


@router.post(
    "/breaches/{number}/repair",
    status_code=201,
    response_model=RepairReceived,
    description=(
        "申请信用修复（最短公示期满后，须填写办理码）；认定部门按规定的工作日数"
        f"（默认 {REPAIR_RULE.days} 个工作日）作出决定，决定期限见 `decision_due`。"
    ),
)
def repair(
    number: Line,
    body: RepairBody,
    request: Request,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
) -> RepairReceived:
    rec = request_repair(
        session=session,
        number=number,
        access_code=body.access_code,
        statement=body.statement,
        repair_pledge=body.repair_pledge,
        today=today,
        calendar=calendar,
        address=request.client.host if request.client else None,
        phone=body.phone,
    )
    session.commit()
    return RepairReceived.model_validate(
        {**public_fields(rec, department_names(session)), "decision_due": rec.stage_deadline}
    )


class PledgeStatusQuery(BaseModel):
    access_code: str = ACCESS_CODE


class RecordRequest(BaseModel):
    """An objection or repair request on the pledge's record, as its filer follows it."""

    kind: Literal["objection", "repair"]
    kind_label: str = Field(description="异议 / 信用修复申请")
    lodged_on: dt.date
    pending: bool = Field(description="是否仍在处理中")
    due: dt.date | None = Field(description="处理中的：答复或决定期限")
    due_pending: bool = Field(description="处理中且期限所在年度的节假日安排尚未载入：期限待日历确定")
    decided_on: dt.date | None
    outcome: str | None = Field(description="已处理的：处理结果（与结果告知短信相同）")
    reason: str | None = Field(description="已处理的：决定理由（与结果告知邮件相同）")


class PledgeStatus(BaseModel):
    """A pledge's state as its pledgor sees it."""

    number: str
    pledgor_name: str
    matter: str
    obligation: str
    authority_name: str | None
    state: str
    state_label: str
    deadline: dt.date
    publication_day: dt.date | None = Field(description="逾期未履约时的公示日（承诺已办结的为空）")
    evidence_submitted_on: dt.date | None
    returned_reason: str | None = Field(default=None, description="材料被退回的，退回理由")
    resubmit_by: dt.date | None = Field(
        default=None,
        description="材料被退回的，重新提交期限：履约期限届满前为履约期限（当日24时前），届满后为公示日（当日零时前）",
    )
    review_due: dt.date | None = Field(description="已提交材料时，审批部门的核查期限")
    record_number: str | None = Field(description="已公示失信的，公示记录编号")
    record_state_label: str | None
    record_shown: bool | None = Field(description="公示记录今天是否仍在公示（已修复、撤销或期满的为否）")
    record_requests: list[RecordRequest] = Field(
        default_factory=list, description="对公示记录提出的异议和信用修复申请，按提出先后"
    )


@router.post("/pledges/{number}/status", response_model=PledgeStatus)
def pledge_state(
    number: Line,
    body: PledgeStatusQuery,
    request: Request,
    response: Response,
    session: SessionDep,
    today: TodayDep,
) -> PledgeStatus:
    """承诺人凭承诺编号和办理码查询承诺办理情况（POST：办理码不出现在网址和日志中）。
    办理码错误返回 403，错误次数过多返回 429。"""
    no_store(response)  # the pledgor's name and pledge, shown for the code: no shared-computer cache keeps it
    result = pledge_status(
        session=session,
        number=number,
        access_code=body.access_code,
        address=request.client.host if request.client else None,
        now=utcnow(),
        today=today,
    )
    return PledgeStatus.model_validate(result)


class OnlineComplaint(ComplaintCreate):
    """A complaint the complainant submits through the credit website column (政府违约失信投诉专栏): the
    same fields and rules as intake's registration."""

    channel: Channel = Field(
        default=Channel.WEBSITE,
        description="受理渠道：在线提交的一律登记为 website（信用网站专栏），所填的值不予理会",
    )

    @field_validator("channel", mode="before")
    @classmethod
    def _always_website(cls, _value: object) -> Channel:
        # The column is the channel: a body claiming the hotline or a window must not pass for one.
        return Channel.WEBSITE


class OnlineComplaintReceived(BaseModel):
    """The registered complaint's number and its tracking password, given only in this answer."""

    number: str
    tracking_password: str = Field(description="查询密码：仅在此返回一次，不再以邮件或短信发送")
    state: ComplaintState
    state_label: str
    registered_on: dt.date
    tracking_path: str = Field(description="投诉进度查询页面（凭投诉编号和查询密码）")


@router.post(
    "/complaints",
    status_code=201,
    response_model=OnlineComplaintReceived,
    summary="在线提交政府违约失信投诉（信用网站专栏，无需登录）",
    tags=["公众"],
)
def submit_complaint(
    body: OnlineComplaint,
    request: Request,
    response: Response,
    session: SessionDep,
    today: TodayDep,
    calendar: CalendarDep,
) -> OnlineComplaintReceived:
    """投诉登记为“已登记（待初审）”，与 12345 热线、线下窗口的投诉一并初审。联系电话和电子邮箱至少填写一项。
    同一网络地址每小时可提交的件数有上限（超过返回 429 及 Retry-After）；专栏暂停在线受理时返回 404。"""
    address = request.client.host if request.client else None
    complaint, password = register_online(
        session=session, data=body, address=address, today=today, calendar=calendar
    )
    session.commit()  # before the password is handed out: a password that is not stored is never given
    no_store(response)
    return OnlineComplaintReceived(
        number=complaint.number,
        tracking_password=password,
        state=complaint.state,
        state_label=state_label(complaint.state),
        registered_on=today,
        tracking_path=tracking_path(complaint.number),
    )


class ComplaintWithdrawal(OnlineWithdrawBody):
    """The complainant's own withdrawal: the tracking password proves it (in the body, never the URL)."""

    password: Line = Field(min_length=1, max_length=32, description="登记时告知的查询密码（与进度查询相同）")


@router.post(
    "/complaints/{number}/withdrawal",
    response_model=PublicTracking,
    summary="投诉人在线撤回投诉（凭投诉编号和查询密码，无需登录）",
    tags=["公众"],
)
def withdraw_complaint(
    number: Line,
    body: ComplaintWithdrawal,
    request: Request,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    calendar: CalendarDep,
) -> PublicTracking:
    """核实前，投诉人可凭投诉编号和查询密码撤回自己的投诉（须填写撤回理由，`confirmed` 须为 true），案件即
    撤回办结，与工作人员按来电或书面申请记录的撤回相同；答复为撤回后的办理进度。能否撤回见进度查询的
    `withdrawal_possible`、`withdrawal_refused`。编号或密码错误返回 404（不区分编号是否存在），错误次数过多
    返回 429，已核实、已办结或有其他投诉并入的返回 409 及原因。"""
    complaint = withdraw_online(
        session=session,
        number=number,
        password=body.password,
        body=body,
        clock=clock,
        calendar=calendar,
        address=request.client.host if request.client else None,
    )
    session.commit()
    no_store(response)  # the case's progress and reply, shown for the password
    return tracked(session=session, complaint=complaint, clock=clock)
