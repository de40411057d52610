"""Routes: work orders handed in by the 12345 hotline platform (12345 工单接入).

Called with the platform's own machine token (role ``hotline``, `shouxin hotline token`), which may call
nothing else; staff tokens may not call this. Idempotent on the platform's order id: the first copy
registers the case (201), every later copy answers the same case (200); a later "copy" that differs from
the order registered is refused (409, naming the fields) and nothing of it is stored. A later copy sent with
``?reissue_tracking_password=true`` (the first answer, with the password, was lost) also answers a new
tracking password; the old one stops working.

What the platform forwards about an order it handed over (补充材料, 撤单, 催单) goes to the order's
follow-ups: idempotent on the platform's follow-up id (201 first, 200 for a copy, 409 for a copy that
differs), recorded on the case handling the order (models/hotline_followups.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from api.deps import CalendarDep, SessionDep, TodayDep, actor_of, no_store
from api.errors import ErrorBody
from models.accounts import token_identity
from models.complaints import state_label
from models.errors import NotPermitted, Unauthenticated
from models.hotline_followups import FollowUp, FollowUpKind, receive_follow_up
from models.hotline_intake import PLATFORM_ID_PATTERN, WorkOrder, register_work_order, reissue_order_password
from models.lifecycle import ComplaintState, Role
from models.workflow import Actor

router = APIRouter(tags=["12345 工单接入"])

_machine_token = HTTPBearer(
    auto_error=False, scheme_name="HotlineToken", description="`shouxin hotline token` 打印的 12345 平台令牌"
)


def hotline_actor(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_machine_token)],
) -> Actor:
    """The hotline platform's account: its token, and no other account's."""
    if credentials is None:
        raise Unauthenticated("请求头需要 `Authorization: Bearer <12345 平台令牌>` (missing bearer token)")
    identity = token_identity(session=session, token=credentials.credentials)
    if identity is None:
        raise Unauthenticated("令牌无效或账号已停用，请联系管理员 (invalid or revoked token)")
    if identity.role != Role.HOTLINE:
        raise NotPermitted(
            "只有 12345 平台的对接令牌可以推送工单 (only the hotline platform's token may call this)"
        )
    return actor_of(identity)


# What the platform gets back for an order: the case it is now (or already was).
class WorkOrderReceipt(BaseModel):
    id: int
    number: str = Field(description="本系统的投诉编号")
    state: ComplaintState
    source_system: str
    external_id: str = Field(description="12345 平台的工单编号")
    created: bool = Field(description="true：本次登记；false：该工单此前已登记（重复推送）")
    tracking_password: str | None = Field(
        description="投诉人查询密码，只在首次登记时返回一次（仅保存散列，重复推送时为 null）；"
        "重复推送并带 reissue_tracking_password=true 时为新生成的密码（原密码作废）"
    )


@router.post(
    "/intake/work-orders",
    status_code=201,
    response_model=WorkOrderReceipt,
    summary="接收 12345 工单（按工单编号幂等）",
    responses={
        200: {"model": WorkOrderReceipt, "description": "该工单此前已登记：返回同一案件"},
        409: {
            "model": ErrorBody,
            "description": "该工单编号此前已登记，但本次内容与已登记的不同：未保存，fields 列出不同的字段",
        },
    },
)
def receive_work_order(
    order: WorkOrder,
    response: Response,
    session: SessionDep,
    actor: Annotated[Actor, Depends(hotline_actor)],
    today: TodayDep,
    calendar: CalendarDep,
    reissue_tracking_password: bool = Query(
        False,
        description="重复推送时：首次应答（含查询密码）未送达，要求重新生成查询密码；原密码作废。首次登记时无影响",
    ),
) -> WorkOrderReceipt:
    complaint, password = register_work_order(
        session=session, order=order, actor=actor, today=today, calendar=calendar
    )
    created = password is not None
    if not created and reissue_tracking_password:
        password = reissue_order_password(session=session, case=complaint, actor=actor)
    session.commit()  # before the password is handed out: a password that is not stored is never given
    if not created:
        response.status_code = 200
    no_store(response)  # the tracking password, shown this once
    assert complaint.id is not None
    assert complaint.source_system is not None
    assert complaint.external_id is not None
    return WorkOrderReceipt(
        id=complaint.id,
        number=complaint.number,
        state=complaint.state,
        source_system=complaint.source_system,
        external_id=complaint.external_id,
        created=created,
        tracking_password=password,
    )


# What the platform gets back for a follow-up: what was done, and the case that holds it now.
class FollowUpReceipt(BaseModel):
    follow_up_id: str = Field(description="12345 平台的后续编号")
    order_id: str = Field(description="12345 平台的工单编号")
    kind: FollowUpKind
    created: bool = Field(description="true：本次记录；false：该后续此前已记录（重复推送），应答与首次相同")
    recorded: bool = Field(description="已记入案件办理过程")
    withdrawn: bool = Field(description="撤单：投诉已撤回办结")
    case_number: str = Field(
        description="记入的投诉编号：办理该工单的案件（并单的为所并入的案件；撤单为工单本身的投诉）"
    )
    state: ComplaintState = Field(description="该投诉当前状态")
    state_label: str = Field(description="该投诉当前状态的中文名称")
    merged_into: str | None = Field(description="工单已并入（并单）的投诉编号；未并单为 null")
    notified: list[str] = Field(description="补充材料、催单已通知的办理方（部门名称，或“受理及督办人员”）")
    message: str = Field(description="办理情况说明，可转告来电人")


@router.post(
    "/intake/work-orders/{order_id}/follow-ups",
    status_code=201,
    response_model=FollowUpReceipt,
    summary="接收 12345 工单的补充材料、撤单、催单（按后续编号幂等）",
    responses={
        200: {"model": FollowUpReceipt, "description": "该后续此前已记录：返回与首次相同的办理情况"},
        404: {"model": ErrorBody, "description": "该工单未在本系统登记"},
        409: {
            "model": ErrorBody,
            "description": "案件已办结或不予受理、撤单不被允许（已核实等），"
            "或重复推送的内容与已记录的不同：均未保存。message 可转告来电人；"
            "撤单不被允许时 platform_hint 为给 12345 平台的操作提示（不转告来电人）",
        },
    },
)
def receive_order_follow_up(
    follow_up: FollowUp,
    response: Response,
    session: SessionDep,
    actor: Annotated[Actor, Depends(hotline_actor)],
    today: TodayDep,
    calendar: CalendarDep,
    order_id: str = Path(max_length=64, pattern=PLATFORM_ID_PATTERN, description="12345 平台的工单编号"),
) -> FollowUpReceipt:
    result = receive_follow_up(
        session=session, order_id=order_id, follow_up=follow_up, actor=actor, today=today, calendar=calendar
    )
    session.commit()
    if not result.created:
        response.status_code = 200
    return FollowUpReceipt(
        follow_up_id=follow_up.follow_up_id,
        order_id=order_id,
        kind=follow_up.kind,
        created=result.created,
        recorded=True,
        withdrawn=result.withdrawn,
        case_number=result.case.number,
        state=result.case.state,
        state_label=state_label(result.case.state),
        merged_into=result.merged_into,
        notified=result.notified,
        message=result.message,
    )
